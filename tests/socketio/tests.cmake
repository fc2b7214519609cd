add_test(NAME "socketio: clients" COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/socketio/run.sh)
set_tests_properties("socketio: clients" PROPERTIES ENVIRONMENT "CHATD_BIN=$<TARGET_FILE:chatd>" TIMEOUT 300
                     LABELS "e2e")
