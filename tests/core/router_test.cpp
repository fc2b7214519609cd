// SPDX-License-Identifier: MIT
// Router: who gets a stored message, live sessions only.
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

TEST_CASE("routing: every device of the recipient and the sender's other devices get the message once") {
  CoreHarness h;
  h.AddUser("alice");
  h.AddUser("bob");
  h.Login(1, "alice");
  h.Login(2, "alice");
  h.Login(3, "bob");
  h.Login(4, "bob");
  h.service.OnFrame(1, R"({"type":"send","id":7,"cid":"c1","to":"bob","text":"hi"})");
  h.Settle();
  auto a1 = NoPresence(h.outbox.Take(1)), a2 = NoPresence(h.outbox.Take(2)), b3 = NoPresence(h.outbox.Take(3)),
       b4 = NoPresence(h.outbox.Take(4));
  REQUIRE(a1.size() == 1);
  CHECK(a1[0].find(R"({"type":"ok","re":7,"mid":1,"ts":)") == 0);
  for (auto* frames : {&a2, &b3, &b4}) {
    REQUIRE(frames->size() == 1);
    CHECK((*frames)[0].find(R"({"type":"message","mid":1,"from":"alice","to":"bob","text":"hi")") == 0);
  }
}

TEST_CASE("routing: an admin broadcast reaches every live session but the sender's") {
  CoreHarness h;
  h.AddUser("root", true);
  h.Login(1, "root");
  h.Login(2, "root");
  h.Login(3, "x1");
  h.Login(4, "x2");
  h.service.OnFrame(1, R"({"type":"send","id":1,"cid":"b","to":"*","text":"hello all"})");
  h.Settle();
  CHECK(Has(h.outbox.Take(1), R"("re":1,"mid":1)"));
  for (core::SessionId sid : {2, 3, 4}) CHECK(Count(h.outbox.Take(sid), R"("to":"*")") == 1);
}

TEST_CASE("router: messages go to live sessions only, events to every session past its welcome") {
  core::Sessions sessions(8);
  core::PresenceMap presence;
  testing::RecordingOutbox outbox;
  core::Router router(&sessions, &presence, &outbox);
  sessions.Open(1).state = core::SessionState::kLive;
  sessions.Open(2).state = core::SessionState::kSyncing;
  sessions.Open(3).state = core::SessionState::kLoading;
  for (core::SessionId sid : {1, 2, 3}) presence.Add(42, sid);
  router.ToUser(42, core::MakeFrame("message"));
  router.EventToUser(42, core::MakeFrame("event"));
  router.EventToUser(42, core::MakeFrame("not to 1"), 1);
  CHECK(outbox.Take(1) == std::vector<std::string>{"message", "event"});
  CHECK(outbox.Take(2) == std::vector<std::string>{"event", "not to 1"});  // catching up: its pages have the messages
  CHECK(outbox.Take(3).empty());                                           // no welcome yet
  router.Busy(3, "7");
  CHECK(outbox.Take(3) == std::vector<std::string>{
                              R"({"type":"error","re":7,"code":"rate_limited","message":"too many requests waiting; wait for answers","retry_ms":100})"});
}
