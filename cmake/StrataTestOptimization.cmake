# STRATA_TEST_OPTIMIZATION (scripts/sanitize.sh sets -O0; docs/TESTING.md, "What CI compiles"):
# the programs of the tree (test suites, test hosts, the command line's main, the examples) and
# the test-only libraries under tests/ compile with this flag after CMAKE_CXX_FLAGS_<CONFIG>,
# so it wins. The libraries keep the build type's optimisation, and so do the fuzz targets: the
# code the suites and the fuzzers exercise is the libraries'; a test's own code mostly calls it.
#
# In a build with STRATA_FUZZ the same programs also drop -fsanitize=fuzzer-no-link: libFuzzer's
# coverage counters only serve the fuzz targets, which link the libraries, never a program.
# Included from the top-level CMakeLists.txt after every folder.

# _strata_targets_below(<dir> <out>): every target defined in <dir> and the folders under it.
function(_strata_targets_below dir out)
  get_property(_targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(_subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(_sub ${_subdirs})
    _strata_targets_below(${_sub} _more)
    list(APPEND _targets ${_more})
  endforeach()
  set(${out} ${_targets} PARENT_SCOPE)
endfunction()

_strata_targets_below(${PROJECT_SOURCE_DIR} _strata_all_targets)
foreach(_target ${_strata_all_targets})
  get_target_property(_type ${_target} TYPE)
  get_target_property(_dir ${_target} SOURCE_DIR)
  if(_target MATCHES "_fuzz$")
    continue()
  endif()
  if(_type STREQUAL "EXECUTABLE" OR (_type STREQUAL "STATIC_LIBRARY"
      AND _dir MATCHES "^${PROJECT_SOURCE_DIR}/tests(/|$)"))
    if(STRATA_TEST_OPTIMIZATION)
      target_compile_options(${_target} PRIVATE ${STRATA_TEST_OPTIMIZATION})
    endif()
    if(STRATA_FUZZ)
      get_target_property(_options ${_target} COMPILE_OPTIONS)
      if(_options)
        list(REMOVE_ITEM _options -fsanitize=fuzzer-no-link)
        set_target_properties(${_target} PROPERTIES COMPILE_OPTIONS "${_options}")
      endif()
    endif()
  endif()
endforeach()
