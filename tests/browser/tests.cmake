add_test(NAME "browser: page" COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/browser/run.sh)
set_tests_properties("browser: page" PROPERTIES ENVIRONMENT "CHATD_BIN=$<TARGET_FILE:chatd>" TIMEOUT 300
                     LABELS "browser;no-sanitizer")
