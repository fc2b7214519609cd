// SPDX-License-Identifier: MIT
// Routing in ChatService: who gets a message, in which order, and what the sender hears back.
// Storage is InlineStorage over a real Engine in a temp dir: jobs run only when the test
// settles, so interleavings are exact; time is a ManualClock.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/chat_service.h"
#include "core/fakes.h"

using namespace chatd;
using chatd::testing::CoreHarness;
using chatd::testing::Has;

namespace {

int Count(const std::vector<std::string>& frames, const std::string& needle) {
  int n = 0;
  for (const auto& f : frames) {
    for (size_t p = f.find(needle); p != std::string::npos; p = f.find(needle, p + 1)) ++n;
  }
  return n;
}

// Drops presence events (a first 1:1 message makes the two see each other's presence).
std::vector<std::string> NoPresence(std::vector<std::string> frames) {
  frames.erase(std::remove_if(frames.begin(), frames.end(),
                              [](const std::string& f) { return f.find(R"("type":"presence")") != std::string::npos; }),
               frames.end());
  return frames;
}

}  // namespace

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
    h.storage.RunPending();
    h.completions.Drain();
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
