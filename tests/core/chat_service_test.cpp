// SPDX-License-Identifier: MIT
#include "core/chat_service.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "core/fakes.h"

using namespace chatd;
using chatd::testing::CoreHarness;
using chatd::testing::Has;

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

TEST_CASE("session: hello with a password logs in, then welcome and live") {
  CoreHarness h;
  h.AddUser("alice");
  h.service.OnOpen(1, core::OpenInfo{"127.0.0.1", ""});
  h.service.OnFrame(1, R"({"type":"hello","id":1,"user":"ALICE","password":"password-alice","device":"laptop"})");
  h.Settle();
  auto frames = h.outbox.Take(1);
  REQUIRE(frames.size() >= 2);
  CHECK(frames[0].find(R"({"type":"welcome","re":1,"user":"alice","device":"laptop")") == 0);
  CHECK(Has(frames, R"({"type":"live")"));
  CHECK(h.service.presence().Online(1));
  // A second hello on the same connection is refused.
  h.service.OnFrame(1, R"({"type":"hello","id":2,"user":"alice","password":"password-alice"})");
  CHECK(Has(h.outbox.Take(1), R"("re":2,"code":"conflict")"));
}

TEST_CASE("session: wrong credentials answer unauthorized, three failures close with 1008") {
  CoreHarness h;
  h.AddUser("bob");
  h.service.OnOpen(1, core::OpenInfo{"127.0.0.1", ""});
  for (int i = 0; i < 3; ++i) {
    h.service.OnFrame(1, R"({"type":"hello","id":1,"user":"bob","password":"wrong-password"})");
    h.Settle();
    CHECK(Has(h.outbox.Take(1), R"("code":"unauthorized")"));
  }
  CHECK(h.outbox.closed[1] == 1008);
  // Unknown users and bad tokens get the same answer.
  h.service.OnOpen(2, core::OpenInfo{"127.0.0.1", ""});
  h.service.OnFrame(2, R"({"type":"hello","id":1,"user":"nobody","password":"whatever1"})");
  h.service.OnFrame(2, R"({"type":"hello","id":2,"token":"not-a-token"})");
  h.Settle();
  auto frames = h.outbox.Take(2);
  CHECK(Has(frames, R"("re":1,"code":"unauthorized")"));
  CHECK_FALSE(h.service.presence().Online(2));
}

TEST_CASE("session: a session cookie from the upgrade logs in without a token") {
  CoreHarness h;
  store::UserInfo carol = h.AddUser("carol");
  std::string token = auth::NewToken();
  REQUIRE(h.engine->accounts().CreateSession(carol.id, auth::TokenHash(token), h.clock.NowMs(), h.clock.NowMs() + 100000).ok());
  h.service.OnOpen(1, core::OpenInfo{"127.0.0.1", token});
  h.service.OnFrame(1, R"({"type":"hello","id":1})");
  h.Settle();
  CHECK(Has(h.outbox.Take(1), R"("user":"carol")"));
  h.service.OnOpen(2, core::OpenInfo{"127.0.0.1", ""});
  h.service.OnFrame(2, R"({"type":"hello","id":1})");
  h.Settle();
  CHECK(Has(h.outbox.Take(2), R"("code":"unauthorized")"));
}

TEST_CASE("session: no valid hello within the auth timeout closes with 1008") {
  CoreHarness h;
  h.service.OnOpen(1, core::OpenInfo{"127.0.0.1", ""});
  h.service.OnOpen(2, core::OpenInfo{"127.0.0.1", ""});
  h.Login(3, "dave");
  h.clock.Advance(9'999);
  h.service.Tick();
  CHECK(h.outbox.closed.empty());
  h.clock.Advance(1);
  h.service.Tick();
  CHECK(h.outbox.closed[1] == 1008);
  CHECK(h.outbox.closed[2] == 1008);
  CHECK(h.outbox.closed.count(3) == 0);  // logged in in time
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
