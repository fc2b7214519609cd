// SPDX-License-Identifier: MIT
// RoomRequests: join, leave, invite, private rooms, typing, the room budget.
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

TEST_CASE("rooms: join creates, members get member events and every room message, once") {
  CoreHarness h;
  h.Login(1, "ann");
  h.Login(2, "ben");
  h.Login(3, "cat");
  Do(h, 1, R"({"type":"join","id":1,"room":"general"})");
  auto ann = h.outbox.Take(1);
  CHECK(Has(ann, R"("re":1,"room":"general","private":false,"created":true,"members":1)"));
  Do(h, 2, R"({"type":"join","id":2,"room":"General"})");
  CHECK(Has(h.outbox.Take(2), R"("room":"general","private":false,"created":false,"members":2)"));
  CHECK(Has(h.outbox.Take(1), R"({"type":"member","room":"general","user":"ben","joined":true})"));
  Do(h, 1, R"({"type":"send","id":3,"cid":"r1","room":"general","text":"hello room"})");
  CHECK(Has(h.outbox.Take(1), R"("re":3,"mid":1)"));
  CHECK(Count(h.outbox.Take(2), R"({"type":"message","mid":1,"from":"ann","room":"general","text":"hello room")") == 1);
  CHECK(h.outbox.Take(3).empty());  // not a member
  Do(h, 3, R"({"type":"send","id":4,"cid":"r2","room":"general","text":"let me in"})");
  CHECK(Has(h.outbox.Take(3), R"("re":4,"code":"forbidden")"));
  Do(h, 3, R"({"type":"history","id":5,"room":"general"})");
  CHECK(Has(h.outbox.Take(3), R"("re":5,"code":"forbidden")"));
  Do(h, 2, R"({"type":"history","id":6,"room":"general"})");
  CHECK(Has(h.outbox.Take(2), R"("re":6,"messages":[{"type":"message","mid":1)"));
  // Leave: the others are told; no more messages.
  Do(h, 2, R"({"type":"leave","id":7,"room":"general"})");
  CHECK(Has(h.outbox.Take(1), R"({"type":"member","room":"general","user":"ben","joined":false})"));
  h.outbox.Take(2);
  Do(h, 1, R"({"type":"send","cid":"r3","room":"general","text":"bye ben"})");
  CHECK(Count(h.outbox.Take(2), R"("type":"message")") == 0);
}

TEST_CASE("rooms: private rooms need an invitation from a member") {
  CoreHarness h;
  h.Login(1, "ann");
  h.Login(2, "ben");
  Do(h, 1, R"({"type":"join","id":1,"room":"secret","private":true})");
  CHECK(Has(h.outbox.Take(1), R"("private":true,"created":true)"));
  Do(h, 2, R"({"type":"join","id":2,"room":"secret"})");
  CHECK(Has(h.outbox.Take(2), R"("re":2,"code":"forbidden")"));
  Do(h, 2, R"({"type":"invite","id":3,"room":"secret","user":"ben"})");
  CHECK(Has(h.outbox.Take(2), R"("re":3,"code":"forbidden")"));  // only members invite
  Do(h, 1, R"({"type":"invite","id":4,"room":"secret","user":"ben"})");
  CHECK(Has(h.outbox.Take(1), R"({"type":"ok","re":4})"));
  CHECK(Has(h.outbox.Take(2), R"({"type":"invited","room":"secret","by":"ann","private":true})"));
  Do(h, 2, R"({"type":"join","id":5,"room":"secret"})");
  CHECK(Has(h.outbox.Take(2), R"("re":5,"room":"secret")"));
}

TEST_CASE("typing: relayed to the peer or the room, rate limited, never stored") {
  CoreHarness h;
  h.Login(1, "ann");
  h.Login(2, "ben");
  h.Login(3, "cat");
  Do(h, 1, R"({"type":"typing","to":"ben"})");
  CHECK(h.outbox.Take(2) == std::vector<std::string>{R"({"type":"typing","from":"ann","to":"ben"})"});
  Do(h, 1, R"({"type":"typing","id":9,"to":"ben"})");  // within a second
  CHECK(Has(h.outbox.Take(1), R"("re":9,"code":"rate_limited")"));
  CHECK(h.outbox.Take(2).empty());
  Do(h, 1, R"({"type":"join","room":"r"})");
  Do(h, 3, R"({"type":"join","room":"r"})");
  h.outbox.Take(1);
  h.outbox.Take(3);
  h.clock.Advance(1000);
  Do(h, 1, R"({"type":"typing","room":"r"})");
  CHECK(h.outbox.Take(3) == std::vector<std::string>{R"({"type":"typing","from":"ann","room":"r"})"});
  CHECK(h.outbox.Take(2).empty());
  Do(h, 2, R"({"type":"typing","id":1,"room":"r"})");
  CHECK(Has(h.outbox.Take(2), R"("code":"forbidden")"));
  Do(h, 2, R"({"type":"history","id":2,"with":"ann"})");
  CHECK(Has(h.outbox.Take(2), R"("messages":[])"));
}

TEST_CASE("limits: joins, leaves and invites spend a room budget of their own, room state nobody online uses is dropped") {
  core::ServiceOptions o;
  o.room_burst = 5;
  o.room_rate = 1;
  o.presence_grace_ms = 0;
  CoreHarness h(o);
  h.Login(1, "ann");
  h.Login(2, "ben");
  std::string joins;
  for (int i = 0; i < 8; ++i) joins += R"({"type":"join","id":"j)" + std::to_string(i) + R"(","room":"r)" + std::to_string(i) + "\"}\n";
  Do(h, 1, joins);
  auto frames = h.outbox.Take(1);
  CHECK(Count(frames, R"("created":true)") == 5);
  CHECK(Count(frames, R"("code":"rate_limited")") == 3);
  // Sending is not blocked by it.
  Do(h, 1, R"({"type":"send","id":"s","cid":"c1","room":"r0","text":"still here"})");
  CHECK(Has(h.outbox.Take(1), R"("re":"s","mid":)"));
  // A second later there is one token again.
  h.clock.Advance(1000);
  Do(h, 1, R"({"type":"join","id":"later","room":"r5"})");
  CHECK(Has(h.outbox.Take(1), R"("re":"later","room":"r5")"));
  CHECK(h.service.rooms_tracked() == 6);
  Do(h, 2, R"({"type":"join","id":"b","room":"r0"})");
  // Ann leaves a room nobody else online is in: its state goes; r0 stays (ben is in it).
  h.clock.Advance(1000);
  Do(h, 1, R"({"type":"leave","id":"l","room":"r1"})");
  CHECK(h.service.rooms_tracked() == 5);
  h.service.OnClose(1);
  h.service.Tick();
  CHECK(h.service.rooms_tracked() == 1);  // r0, ben's
  h.service.OnClose(2);
  h.service.Tick();
  CHECK(h.service.rooms_tracked() == 0);
}
