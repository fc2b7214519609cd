// SPDX-License-Identifier: MIT
// PresenceMap: users and their sessions.
// Through ChatService, on the harness's store (memory; the engine in chatd_core_engine_tests).
#include <doctest/doctest.h>

#include <algorithm>

#include "core/fakes.h"

using namespace chatd;
using chatd::testing::Count;
using chatd::testing::CoreHarness;
using chatd::testing::Do;
using chatd::testing::Has;
using chatd::testing::NoPresence;

TEST_CASE("presence map: first and last session") {
  core::PresenceMap p;
  CHECK(p.Add(1, 10));
  CHECK_FALSE(p.Add(1, 11));
  CHECK_FALSE(p.Add(1, 11));  // same session twice: no change
  CHECK(p.sessions() == 2);
  CHECK_FALSE(p.Remove(1, 10));
  CHECK_FALSE(p.Remove(2, 10));  // unknown
  CHECK(p.Remove(1, 11));
  CHECK_FALSE(p.Online(1));
  CHECK(p.Sessions(1).empty());
}
