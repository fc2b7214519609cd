// SPDX-License-Identifier: MIT
// PresenceAnnouncer: who is told, and when.
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

TEST_CASE("presence: announced to those who share a room or a conversation, on first and last session only") {
  CoreHarness h;
  h.Login(1, "ann");
  h.Login(2, "ben");
  h.Login(3, "cat");  // shares nothing with ann
  Do(h, 1, R"({"type":"join","room":"r"})");
  Do(h, 2, R"({"type":"join","room":"r"})");
  for (core::SessionId s : {1, 2, 3}) h.outbox.Take(s);
  // ann's second device: no announcement (not her first session).
  h.Login(4, "ann");
  CHECK(Count(h.outbox.Take(2), R"("type":"presence")") == 0);
  h.service.OnClose(1);
  h.service.OnClose(4);
  h.clock.Advance(4999);
  h.service.Tick();
  CHECK(Count(h.outbox.Take(2), R"("type":"presence")") == 0);  // grace period
  h.clock.Advance(1);
  h.service.Tick();
  CHECK(h.outbox.Take(2) == std::vector<std::string>{R"({"type":"presence","user":"ann","online":false})"});
  CHECK(h.outbox.Take(3).empty());
  // Back: ben is told once; cat never.
  auto welcome = h.Login(5, "ann");
  CHECK(Has(welcome, R"("online":["ben"])"));
  // ben was told of ann's leaving in this tick already: the next change waits for the next one.
  CHECK(Count(h.outbox.Take(2), R"("type":"presence")") == 0);
  h.service.Tick();
  CHECK(h.outbox.Take(2) == std::vector<std::string>{R"({"type":"presence","user":"ann","online":true})"});
  // A reconnect within the grace period says nothing at all.
  h.service.OnClose(5);
  h.clock.Advance(1000);
  h.Login(6, "ann");
  h.clock.Advance(10000);
  h.service.Tick();
  CHECK(Count(h.outbox.Take(2), R"("type":"presence")") == 0);
  CHECK(h.outbox.Take(3).empty());
}
