// SPDX-License-Identifier: MIT
// the dispatcher: requests before login, pipelining behind a hello and behind a history request
// waiting for outbound room, who.
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

TEST_CASE("session: everything but hello is unauthorized before login, bad frames keep the session") {
  CoreHarness h;
  h.service.OnOpen(1, core::OpenInfo{"127.0.0.1", ""});
  h.service.OnFrame(1, R"({"type":"who","id":5})");
  h.service.OnFrame(1, "nonsense");
  h.service.OnFrame(1, R"([1])");
  h.service.OnFrame(1, R"({"type":"teleport","id":"t"})");
  h.service.OnFrame(1, R"({"type":"ping","id":6})");
  auto frames = h.outbox.Take(1);
  REQUIRE(frames.size() == 5);
  CHECK(frames[0] == R"({"type":"error","re":5,"code":"unauthorized","message":"send a hello first"})");
  CHECK(Has({frames[1]}, R"("code":"bad_request")"));
  CHECK(Has({frames[2]}, R"("code":"bad_request")"));
  CHECK(Has({frames[3]}, R"("re":"t","code":"bad_request")"));
  CHECK(frames[4] == R"({"type":"ok","re":6})");
  CHECK(h.outbox.closed.empty());
}

TEST_CASE("pipelining: requests sent right behind a hello wait for its welcome, in order") {
  CoreHarness h;
  h.AddUser("bob");
  h.service.OnOpen(1, core::OpenInfo{"127.0.0.1", ""});
  std::string token = auth::SignSiteToken("alice", h.clock.NowMs() / 1000 + 60, "0123456789abcdef0123456789abcdef");
  h.service.OnFrame(1, R"({"type":"hello","id":1,"token":")" + token + "\"}\n" +
                           R"({"type":"send","id":2,"cid":"p1","to":"bob","text":"right away"})" + "\n" +
                           R"({"type":"join","id":3,"room":"now"})");
  h.Settle();
  auto frames = NoPresence(h.outbox.Take(1));
  REQUIRE(frames.size() >= 4);
  CHECK(frames[0].find(R"({"type":"welcome","re":1)") == 0);
  CHECK(Has(frames, R"({"type":"ok","re":2,"mid":1)"));
  CHECK(Has(frames, R"("re":3,"room":"now")"));
  // A failed hello answers the held requests unauthorized.
  h.service.OnOpen(2, core::OpenInfo{"127.0.0.1", ""});
  h.service.OnFrame(2, R"({"type":"hello","id":1,"token":"bad"})" "\n" R"({"type":"who","id":2})");
  h.Settle();
  auto bad = h.outbox.Take(2);
  CHECK(Has(bad, R"("re":1,"code":"unauthorized")"));
  CHECK(Has(bad, R"("re":2,"code":"unauthorized")"));
}

TEST_CASE("limits: pipelined history requests wait for outbound budget and are all answered, in order") {
  core::ServiceOptions o;
  o.page_bytes = 4096;
  o.max_text = 1000;
  o.outbound_limit = 3 * (4096 + 6 * 1000 + 1024);  // room for three answers at a time
  CoreHarness h(o);
  h.outbox.track_queue = true;
  h.AddUser("alice");
  h.AddUser("bob");
  h.Login(1, "alice");
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    batch += R"({"type":"send","id":"s)" + std::to_string(i) + R"(","cid":"c)" + std::to_string(i) +
             R"(","to":"bob","text":")" + std::string(900, 'x') + "\"}\n";
  }
  h.service.OnFrame(1, batch);
  h.Settle();
  h.outbox.Take(1);
  h.outbox.Written(1);
  h.Login(2, "bob");
  h.outbox.Written(2);
  std::string reqs;
  for (int i = 0; i < 10; ++i) reqs += R"({"type":"history","id":"h)" + std::to_string(i) + R"(","with":"alice","limit":200})" "\n";
  reqs += R"({"type":"ping","id":"after"})";
  h.service.OnFrame(2, reqs);
  std::vector<std::string> answers;
  for (int round = 0; round < 20 && answers.size() < 11; ++round) {
    h.Settle();
    auto got = h.outbox.Take(2);
    // Never more queued than the budget has room for (the last reservation may be spent).
    CHECK(h.outbox.Queued(2) <= o.outbound_limit);
    CHECK_FALSE(got.empty());
    answers.insert(answers.end(), got.begin(), got.end());
    h.outbox.Written(2);
    h.service.OnDrained(2);
  }
  REQUIRE(answers.size() == 11);
  // The history answers in request order (a ping needs no storage and may be answered first).
  CHECK(std::count(answers.begin(), answers.end(), R"({"type":"ok","re":"after"})") == 1);
  answers.erase(std::remove(answers.begin(), answers.end(), R"({"type":"ok","re":"after"})"), answers.end());
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    CHECK(answers[static_cast<size_t>(i)].find(R"({"type":"ok","re":"h)" + std::to_string(i) + "\"") == 0);
    CHECK(Has({answers[static_cast<size_t>(i)]}, R"("more":true)"));  // 4 KiB pages of 20 x 900 bytes
  }
  CHECK(h.outbox.closed.empty());
}

TEST_CASE("presence: who lists online users with their device count, close removes them") {
  CoreHarness h;
  h.Login(1, "erin");
  h.Login(2, "erin");
  h.Login(3, "frank");
  h.service.OnFrame(3, R"({"type":"who","id":7})");
  auto frames = h.outbox.Take(3);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0] ==
        R"({"type":"ok","re":7,"users":[{"user":"erin","devices":2},{"user":"frank","devices":1}],"count":2})");
  h.service.OnClose(1);
  h.service.OnClose(2);
  h.service.OnFrame(3, R"({"type":"who","id":8})");
  CHECK(h.outbox.Take(3)[0] == R"({"type":"ok","re":8,"users":[{"user":"frank","devices":1}],"count":1})");
  CHECK(h.service.presence().users() == 1);
}
