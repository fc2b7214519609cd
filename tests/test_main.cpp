// SPDX-License-Identifier: MIT
// The doctest runner for chatd_tests. Logging is kept quiet unless CHATD_TEST_LOG is set.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>

#include "util/log.h"

int main(int argc, char** argv) {
  chatd::util::SetLogLevel(std::getenv("CHATD_TEST_LOG") ? chatd::util::LogLevel::kDebug : chatd::util::LogLevel::kErr);
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  return ctx.run();
}
