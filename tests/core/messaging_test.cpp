// SPDX-License-Identifier: MIT
// Messaging: send (dedupe, limits), ack, read markers and receipts.
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

TEST_CASE("routing: a resend with the same cid is answered dup and delivered to nobody") {
  CoreHarness h;
  h.AddUser("bob");
  h.Login(1, "alice");
  h.Login(2, "bob");
  h.service.OnFrame(1, R"({"type":"send","id":1,"cid":"same","to":"bob","text":"hi"})");
  h.service.OnFrame(1, R"({"type":"send","id":2,"cid":"same","to":"bob","text":"hi"})");
  h.Settle();
  auto sender = NoPresence(h.outbox.Take(1));
  REQUIRE(sender.size() == 2);
  CHECK(Has({sender[1]}, R"("re":2,"mid":1)"));
  CHECK(Has({sender[1]}, R"("dup":true)"));
  CHECK(Count(h.outbox.Take(2), R"("type":"message")") == 1);
}

TEST_CASE("limits: text size, broadcast by non-admin, and the per-user rate with retry_ms") {
  CoreHarness h;
  h.AddUser("bob");
  h.Login(1, "alice");
  std::string big(16 * 1024 + 1, 'x');
  h.service.OnFrame(1, R"({"type":"send","id":1,"cid":"big","to":"bob","text":")" + big + "\"}");
  h.service.OnFrame(1, R"({"type":"send","id":2,"cid":"b","to":"*","text":"all"})");
  auto frames = h.outbox.Take(1);
  CHECK(Has(frames, R"("re":1,"code":"too_large")"));
  CHECK(Has(frames, R"("re":2,"code":"forbidden")"));
  // The default bucket holds 100; the 101st within the same millisecond is refused.
  for (int i = 0; i < 101; ++i) {
    h.service.OnFrame(1, R"({"type":"send","id":)" + std::to_string(100 + i) + R"(,"cid":"r)" + std::to_string(i) +
                             R"(","to":"bob","text":"x"})");
  }
  frames = h.outbox.Take(1);
  REQUIRE(frames.size() == 1);
  CHECK(Has(frames, R"("re":200,"code":"rate_limited")"));
  CHECK(Has(frames, R"("retry_ms":)"));
  h.Settle();
  CHECK(Count(h.outbox.Take(1), R"("type":"ok")") == 100);
  h.clock.Advance(50);  // 20/s: one token back after 50 ms
  h.service.OnFrame(1, R"({"type":"send","id":300,"cid":"later","to":"bob","text":"x"})");
  h.service.OnFrame(1, R"({"type":"send","id":301,"cid":"later2","to":"bob","text":"x"})");
  h.Settle();
  frames = h.outbox.Take(1);
  CHECK(Has(frames, R"("re":300,"mid")"));
  CHECK(Has(frames, R"("re":301,"code":"rate_limited")"));
}

TEST_CASE("limits: the send rate limit is not reset by reconnecting") {
  CoreHarness h;  // burst 100, rate 20/s; the manual clock does not move
  h.AddUser("alice");
  h.AddUser("bob");
  int oks = 0;
  for (core::SessionId sid = 1; sid <= 5; ++sid) {
    h.Login(sid, "alice");
    std::string batch;
    for (int i = 0; i < 150; ++i) {
      batch += R"({"type":"send","id":1,"cid":"r)" + std::to_string(sid) + "-" + std::to_string(i) +
               R"(","to":"bob","text":"x"})" "\n";
    }
    h.service.OnFrame(sid, batch);
    h.Settle();
    for (const auto& f : h.outbox.Take(sid)) oks += f.find(R"("mid":)") != std::string::npos && f.rfind(R"({"type":"ok")", 0) == 0;
    h.service.OnClose(sid);
  }
  CHECK(oks == 100);  // the burst, once, however often alice reconnects
  // Time refills the bucket; a full bucket is forgotten once its user is offline.
  h.clock.Advance(10'000);
  h.service.Tick();
  CHECK(h.service.rate_buckets() == 0);
  h.Login(9, "alice");
  h.service.OnFrame(9, R"({"type":"send","id":2,"cid":"later","to":"bob","text":"x"})");
  h.Settle();
  CHECK(Has(h.outbox.Take(9), R"({"type":"ok","re":2,"mid":)"));
}

TEST_CASE("ack: answered when it has an id, what it covers is not sent again") {
  CoreHarness h;
  h.AddUser("bob");
  h.Login(1, "alice");
  for (int i = 0; i < 3; ++i) {
    h.service.OnFrame(1, R"({"type":"send","cid":"a)" + std::to_string(i) + R"(","to":"bob","text":"x"})");
  }
  h.Settle();
  auto first = h.Login(2, "bob");
  CHECK(Count(first, R"("type":"message")") == 3);
  h.service.OnFrame(2, R"({"type":"ack","id":"k","upto":2})");
  h.Settle();
  CHECK(h.outbox.Take(2) == std::vector<std::string>{R"({"type":"ok","re":"k"})"});
  h.service.OnClose(2);
  auto again = h.Login(3, "bob");
  CHECK(Count(again, R"("type":"message")") == 1);
  CHECK(Has(again, R"("mid":3)"));
}

TEST_CASE("read markers: other devices follow, the peer gets a receipt, unread counts survive restarts") {
  CoreHarness h;
  h.Login(1, "ann");
  h.Login(2, "ben");
  h.Login(3, "ben");
  for (int i = 0; i < 4; ++i) Do(h, 1, R"({"type":"send","cid":"u)" + std::to_string(i) + R"(","to":"ben","text":"x"})");
  for (core::SessionId s : {1, 2, 3}) h.outbox.Take(s);
  auto fresh = h.Login(4, "ben");
  CHECK(Has(fresh, R"("unread":{"ann":4})"));
  Do(h, 2, R"({"type":"read","id":1,"with":"ann","upto":3})");
  CHECK(h.outbox.Take(2) == std::vector<std::string>{R"({"type":"ok","re":1})"});
  CHECK(h.outbox.Take(3) == std::vector<std::string>{R"({"type":"read","with":"ann","upto":3})"});
  CHECK(h.outbox.Take(1) == std::vector<std::string>{R"({"type":"receipt","from":"ben","with":"ann","upto":3})"});
  Do(h, 3, R"({"type":"read","with":"ann","upto":1})");  // never moves back
  CHECK(h.outbox.Take(2) == std::vector<std::string>{R"({"type":"read","with":"ann","upto":3})"});
  Do(h, 2, R"({"type":"rooms","id":2})");
  CHECK(Has(h.outbox.Take(2), R"("unread":{"ann":1})"));
  // Restart of the storage side (the engine: reopened on the same files).
  h.Reopen();
  CHECK(Has(h.Login(9, "ben"), R"("unread":{"ann":1})"));
}
