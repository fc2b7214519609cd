// SPDX-License-Identifier: MIT
// LoginFlow: hello by password, token and cookie, failures and the auth timeout, catch-up
// pages and `live`.
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
  h.CreateSession(carol.id, auth::TokenHash(token), h.clock.NowMs() + 100000);
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

TEST_CASE("routing: a session catching up gets each message exactly once, then live, in mid order") {
  CoreHarness h;
  h.AddUser("alice");
  h.AddUser("bob");
  h.Login(1, "alice");
  for (int i = 0; i < 5; ++i) {
    h.service.OnFrame(1, R"({"type":"send","cid":"p)" + std::to_string(i) + R"(","to":"bob","text":"offline"})");
  }
  h.Settle();
  // Bob logs in; before his catch-up runs, alice sends more: they commit in the same batch as
  // the catch-up query or after it.
  h.service.OnOpen(2, core::OpenInfo{"127.0.0.1", ""});
  std::string token = auth::SignSiteToken("bob", h.clock.NowMs() / 1000 + 60, "0123456789abcdef0123456789abcdef");
  h.service.OnFrame(2, R"({"type":"hello","id":1,"token":")" + token + "\"}");
  for (int i = 0; i < 5; ++i) {
    h.service.OnFrame(1, R"({"type":"send","cid":"q)" + std::to_string(i) + R"(","to":"bob","text":"racing"})");
    h.Step();
  }
  h.Settle();
  auto frames = h.outbox.Take(2);
  std::vector<long long> mids;
  bool live_seen = false;
  int after_live = 0;
  for (const auto& f : frames) {
    if (f.find(R"("type":"live")") != std::string::npos) live_seen = true;
    size_t p = f.find(R"("type":"message","mid":)");
    if (p == std::string::npos) continue;
    mids.push_back(std::stoll(f.substr(p + 23)));
    if (live_seen) ++after_live;
  }
  REQUIRE(live_seen);
  REQUIRE(mids.size() == 10);
  for (size_t i = 0; i < mids.size(); ++i) CHECK(mids[i] == static_cast<long long>(i + 1));
  CHECK(frames.front().find(R"("type":"welcome")") != std::string::npos);
}

TEST_CASE("routing: a hello with a cursor replays exactly the gap, including the user's own messages") {
  CoreHarness h;
  h.AddUser("alice");
  h.AddUser("bob");
  h.Login(1, "alice");
  for (int i = 0; i < 6; ++i) {
    h.service.OnFrame(1, R"({"type":"send","cid":"g)" + std::to_string(i) + R"(","to":"bob","text":"x"})");
  }
  h.Settle();
  h.outbox.Take(1);
  auto frames = h.Login(3, "alice", R"(,"cursor":4)");
  CHECK(Count(frames, R"("type":"message")") == 2);
  CHECK(Has(frames, R"("mid":5)"));
  CHECK(Has(frames, R"("mid":6)"));
  CHECK(Has(frames, R"({"type":"live","mid":6})"));
}

TEST_CASE("rooms: an offline member gets the room's messages on login, after their join only") {
  CoreHarness h;
  h.Login(1, "ann");
  Do(h, 1, R"({"type":"send","cid":"before","room":"general","text":"x"})");  // no such room yet
  CHECK(Has(h.outbox.Take(1), R"("code":"not_found")"));
  Do(h, 1, R"({"type":"join","room":"general"})");
  Do(h, 1, R"({"type":"send","cid":"early","room":"general","text":"before ben joined"})");
  auto ben = h.Login(2, "ben");
  Do(h, 2, R"({"type":"join","room":"general"})");
  h.service.OnClose(2);
  for (int i = 0; i < 3; ++i) Do(h, 1, R"({"type":"send","cid":"m)" + std::to_string(i) + R"(","room":"general","text":"while away"})");
  auto again = h.Login(3, "ben");
  CHECK(Count(again, R"("text":"while away")") == 3);
  CHECK(Count(again, "before ben joined") == 0);
  CHECK(Has(again, R"("rooms":[{"room":"general","private":false,"members":2}])"));
  CHECK(Has(again, R"("unread":{"#general":3})"));
}

TEST_CASE("session: a revoked login token closes the sessions that used it, 4001") {
  CoreHarness h;
  store::UserInfo dan = h.AddUser("dan");
  std::string token = auth::NewToken(), other = auth::NewToken();
  h.CreateSession(dan.id, auth::TokenHash(token), h.clock.NowMs() + 100000);
  h.CreateSession(dan.id, auth::TokenHash(other), h.clock.NowMs() + 100000);
  for (core::SessionId sid : {1, 2, 3}) {
    h.service.OnOpen(sid, core::OpenInfo{"127.0.0.1", ""});
    h.service.OnFrame(sid, R"({"type":"hello","id":1,"token":")" + (sid < 3 ? token : other) + "\"}");
  }
  h.Settle();
  h.service.OnTokenRevoked(auth::TokenHash(token));
  CHECK(h.outbox.closed == std::map<core::SessionId, int>{{1, 4001}, {2, 4001}});
  h.service.OnClose(1);
  h.service.OnTokenRevoked(auth::TokenHash(token));  // a closed session is forgotten
  CHECK(h.outbox.closed.size() == 2);
}
