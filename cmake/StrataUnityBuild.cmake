# STRATA_UNITY_BUILD (on in CI: scripts/build.sh and scripts/sanitize.sh with CI=true;
# docs/TESTING.md, "What CI compiles"): the targets below compile their sources in batches of
# up to eight files, one compiler run per batch, so the headers the files share and the inline
# and template code those headers define are compiled once per batch instead of once per file.
#
# In a batch, the anonymous namespaces and file-local names of its files are one scope, so only
# targets whose files define no such name twice are listed; a file that repeats a name another
# file of its target defines compiles on its own (strata_unity_build_alone) or renames it.
# Included from the top-level CMakeLists.txt after every folder.

# GCC warns of a class with a member of a type in an anonymous namespace when the class is in a
# header, and in a batch every source file is included like a header.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(strata_warnings INTERFACE -Wno-subobject-linkage)
endif()

foreach(_target strata_kernel strata_persistence strata_persistence_postgres
    strata_persistence_rabbitmq strata_actors strata_runtime strata_fulfilment strata_cli
    strata-bench strata_kernel_tests strata_metrics_tests strata_persistence_tests
    strata_postgres_tests strata_actors_tests strata_cluster_tests strata_cli_tests)
  if(TARGET ${_target})
    set_target_properties(${_target} PROPERTIES UNITY_BUILD ON)
  endif()
endforeach()

# strata_unity_build_alone(<target> <file>...): the files, in the target's folder, compile one
# by one (in every target of that folder that has them).
function(strata_unity_build_alone target)
  if(NOT TARGET ${target})
    return()
  endif()
  get_target_property(_folder ${target} SOURCE_DIR)
  set(_files)
  foreach(_file ${ARGN})
    list(APPEND _files ${_folder}/${_file})
  endforeach()
  set_source_files_properties(${_files} TARGET_DIRECTORY ${target}
    PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
endfunction()

# Their own self_ptr, named as aggregate_actor.cpp's is.
strata_unity_build_alone(strata_actors projection_actor.cpp region.cpp)
# max_i64, as postgres_journal.cpp has.
strata_unity_build_alone(strata_persistence_postgres postgres_snapshot_store.cpp)
# Streams order_1 and order_2 of their own, as the journal conformance suite has.
strata_unity_build_alone(strata_persistence_tests audit_chain_test.cpp sqlite_journal_test.cpp
  fault_injecting_journal_test.cpp fault_injecting_stores_test.cpp snapshot_store_test.cpp)
# A file-level t0, which the other actor tests' local t0 would shadow (clang's -Wshadow).
strata_unity_build_alone(strata_actors_tests crash_throttle_test.cpp)
