// SPDX-License-Identifier: MIT
#include "core/sessions.h"

#include <doctest/doctest.h>

using namespace chatd;
using chatd::core::Session;
using chatd::core::Sessions;

TEST_CASE("sessions: the token index follows the sessions, and a closed session's answers are dropped") {
  Sessions sessions(2);
  Session& a = sessions.Open(1);
  Session& b = sessions.Open(2);
  sessions.Open(3);
  sessions.IndexToken(1, a, "hash-x");
  sessions.IndexToken(2, b, "hash-x");
  CHECK(sessions.WithToken("hash-x").size() == 2);
  CHECK(sessions.WithToken("hash-y").empty());
  sessions.Erase(1);
  CHECK(sessions.WithToken("hash-x") == std::vector<core::SessionId>{2});
  CHECK(sessions.Find(1) == nullptr);
  CHECK(sessions.size() == 2);
  // The cap on waiting storage requests, and guarded callbacks.
  Session* s3 = sessions.Find(3);
  REQUIRE(s3);
  CHECK(sessions.Admit(*s3));
  CHECK(sessions.Admit(*s3));
  CHECK_FALSE(sessions.Admit(*s3));  // at the cap
  int ran = 0;
  auto first = sessions.Guard<int>(3, [&](Session& s, store::Result<int>&& r) {
    CHECK(&s == sessions.Find(3));
    ran += r.value;
  });
  first(store::Result<int>{util::Status::Ok(), 5});
  CHECK(ran == 5);
  CHECK(s3->inflight == 1);
  auto second = sessions.GuardStatus(3, [&](Session&, const util::Status&) { ran += 100; });
  sessions.Erase(3);
  second(util::Status::Ok());  // the connection is gone: nothing runs
  CHECK(ran == 5);
}
