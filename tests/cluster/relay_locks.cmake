# Read by CTest after the cases of strata_cluster_relay_tests were discovered
# (tests/cluster/CMakeLists.txt): they use the test PostgreSQL server and the test broker, and
# a case of another suite stops and restarts each.
if(strata_cluster_relay_cases)
  set_tests_properties(${strata_cluster_relay_cases} PROPERTIES
    RESOURCE_LOCK "strata_postgres_server;strata_rabbitmq_server")
endif()
