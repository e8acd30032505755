# The memory allocator of strata's speed-bound executables: the demos, the cluster node example
# and strata-bench. The libraries, the tests and the `strata` command line never choose one; a
# host that embeds the libraries links the allocator it wants (docs/BENCHMARKS.md, "The allocator", shows what it changes).
#
#   STRATA_MALLOC=tcmalloc  (default) gperftools' tcmalloc_minimal, Debian's
#                           libgoogle-perftools-dev; falls back to the system allocator, with a
#                           warning, when it is not installed
#   STRATA_MALLOC=system    glibc's malloc
#
# Sanitized and fuzzing builds always use the system allocator: the sanitizers bring their own.
set(STRATA_MALLOC "tcmalloc" CACHE STRING "Allocator of strata's executables: tcmalloc | system")
set_property(CACHE STRATA_MALLOC PROPERTY STRINGS tcmalloc system)
if(NOT STRATA_MALLOC MATCHES "^(tcmalloc|system)$")
  message(FATAL_ERROR "STRATA_MALLOC must be tcmalloc or system, not '${STRATA_MALLOC}'")
endif()

set(_strata_malloc_library "")
if(STRATA_MALLOC STREQUAL "tcmalloc" AND NOT STRATA_SANITIZE AND NOT STRATA_FUZZ AND
   (STRATA_BUILD_TOOLS OR STRATA_BUILD_EXAMPLES))
  find_library(STRATA_TCMALLOC_LIBRARY NAMES tcmalloc_minimal)
  if(STRATA_TCMALLOC_LIBRARY)
    set(_strata_malloc_library ${STRATA_TCMALLOC_LIBRARY})
    message(STATUS "strata executables allocate with ${STRATA_TCMALLOC_LIBRARY}")
  else()
    message(WARNING "STRATA_MALLOC=tcmalloc but libtcmalloc_minimal was not found "
                    "(apt-get install libgoogle-perftools-dev); using the system allocator")
  endif()
endif()
set_property(GLOBAL PROPERTY STRATA_MALLOC_LIBRARY "${_strata_malloc_library}")

# Links the chosen allocator into executable `target`. The library is kept as a needed entry
# even though no symbol of the executable names it (--no-as-needed): what it is for is that
# its malloc and free come before the C library's in the dynamic linker's lookup order.
function(strata_link_malloc target)
  get_property(_library GLOBAL PROPERTY STRATA_MALLOC_LIBRARY)
  if(_library)
    target_link_libraries(${target} PRIVATE "-Wl,--push-state,--no-as-needed" ${_library}
                                            "-Wl,--pop-state")
  endif()
endfunction()
