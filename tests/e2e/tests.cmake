# End-to-end tests: each script starts the real chatd binary on 127.0.0.1 (a free port, a
# temporary data dir) and drives it with real clients. Debian's /usr/bin/python3 is used on
# purpose: it has python3-websockets. CHATD_E2E_TIMEOUT_SCALE stretches the waits (e.g. 3 for a
# sanitizer build on a slow machine).
foreach(t http auth session frames limits lifecycle cli messaging crash history_cache rooms disk_full abuse site webhooks docs
        socketio)
  add_test(NAME "e2e: ${t}" COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_${t}.py)
  set_tests_properties("e2e: ${t}" PROPERTIES
                       ENVIRONMENT "CHATD_BIN=$<TARGET_FILE:chatd>;PYTHONDONTWRITEBYTECODE=1;CHATD_SANITIZE=${CHATD_SANITIZE}"
                       TIMEOUT 120
                       LABELS e2e)
endforeach()
# The crash test bounds itself (60 s, stretched by CHATD_E2E_TIMEOUT_SCALE); leave it room.
set_tests_properties("e2e: crash" PROPERTIES TIMEOUT 300)
