// SPDX-License-Identifier: MIT
// Large rooms (counts instead of member and presence events), member paging, presence storms.
// Through ChatService, on the harness's store (memory; the engine in chatd_core_engine_tests).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/fakes.h"

using namespace chatd;
using chatd::testing::Count;
using chatd::testing::CoreHarness;
using chatd::testing::Do;
using chatd::testing::Has;

namespace {

core::ServiceOptions LargeAt(size_t n) {
  core::ServiceOptions o;
  o.large_room = n;
  o.room_counts_ms = 5000;
  return o;
}

std::string Name(int i) { return "u" + std::to_string(i); }

}  // namespace

TEST_CASE("large rooms: events below the threshold, counts above it") {
  CoreHarness h(LargeAt(3));
  for (int i = 1; i <= 5; ++i) h.Login(i, Name(i));
  // Up to 3 members the room is small: every join is a member event to the others.
  for (int i = 1; i <= 3; ++i) Do(h, i, R"({"type":"join","id":2,"room":"hall"})");
  CHECK(Count(h.outbox.Take(1), R"({"type":"member","room":"hall","user":"u3","joined":true})") == 1);
  CHECK(Has(h.outbox.Take(3), R"("members":3,"online":["u1","u2","u3"]})"));
  h.outbox.Take(2);
  // The 4th member makes it large: the joiner gets counts, nobody else an event.
  h.Login(6, "u4");  // u4's second device
  Do(h, 4, R"({"type":"join","id":2,"room":"hall"})");
  auto joiner = h.outbox.Take(4);
  CHECK(Has(joiner, R"("members":4,"online":[],"large":true,"online_count":4})"));
  CHECK(Count(h.outbox.Take(6), R"({"type":"member","room":"hall","user":"u4","joined":true})") == 1);
  for (core::SessionId s : {1, 2, 3}) CHECK(Count(h.outbox.Take(s), R"("type":"member")") == 0);
  // The counts come with the next counts round, once per member, and not again without a change.
  h.service.Tick();
  std::string counts = R"({"type":"room","room":"hall","members":4,"online":4})";
  for (core::SessionId s : {1, 2, 3, 4, 6}) CHECK(Count(h.outbox.Take(s), counts) == 1);
  CHECK(h.outbox.Take(5).empty());  // not a member
  h.clock.Advance(5000);
  h.service.Tick();
  for (core::SessionId s : {1, 2, 3, 4}) CHECK(Count(h.outbox.Take(s), R"("type":"room")") == 0);
  // A join and a leave: only the user's own devices hear of them; the counts follow.
  Do(h, 5, R"({"type":"join","id":3,"room":"hall"})");
  Do(h, 2, R"({"type":"leave","id":3,"room":"hall"})");
  for (core::SessionId s : {1, 3, 4}) CHECK(Count(h.outbox.Take(s), R"("type":"member")") == 0);
  CHECK(Count(h.outbox.Take(2), R"({"type":"member","room":"hall","user":"u2","joined":false})") == 0);  // asked
  h.clock.Advance(1000);
  h.service.Tick();
  CHECK(Count(h.outbox.Take(1), R"({"type":"room","room":"hall","members":4,"online":4})") == 1);
  CHECK(Count(h.outbox.Take(2), R"("type":"room")") == 0);  // left
  // At most every 5 s: a change right after a round waits for the next.
  Do(h, 2, R"({"type":"join","id":4,"room":"hall"})");
  h.clock.Advance(1000);
  h.service.Tick();
  CHECK(Count(h.outbox.Take(1), R"("type":"room")") == 0);
  h.clock.Advance(4000);
  h.service.Tick();
  CHECK(Count(h.outbox.Take(1), R"({"type":"room","room":"hall","members":5,"online":5})") == 1);
  Do(h, 2, R"({"type":"leave","id":5,"room":"hall"})");
  h.clock.Advance(5000);
  h.service.Tick();
  h.outbox.Take(1);
  // Messages still reach every member exactly once.
  Do(h, 1, R"({"type":"send","id":4,"cid":"m1","room":"hall","text":"all hands"})");
  for (core::SessionId s : {3, 4, 5, 6}) CHECK(Count(h.outbox.Take(s), R"("text":"all hands")") == 1);
  CHECK(Count(h.outbox.Take(2), R"("text":"all hands")") == 0);
  // The welcome and the rooms list say the room is large, with its online count.
  auto again = h.Login(7, "u1");
  CHECK(Has(again, R"({"room":"hall","private":false,"members":4,"large":true,"online":4})"));
  Do(h, 7, R"({"type":"rooms","id":5})");
  CHECK(Has(h.outbox.Take(7), R"({"room":"hall","private":false,"members":4,"large":true,"online":4,"unread":)"));
}

TEST_CASE("large rooms: presence is not announced through them, only through small rooms and 1:1") {
  CoreHarness h(LargeAt(3));
  for (int i = 1; i <= 4; ++i) h.Login(i, Name(i));
  for (int i = 1; i <= 4; ++i) Do(h, i, R"({"type":"join","room":"hall"})");  // large from the 4th
  Do(h, 1, R"({"type":"join","room":"pair"})");
  Do(h, 2, R"({"type":"join","room":"pair"})");  // u1 and u2 share a small room too
  h.clock.Advance(5000);
  h.service.Tick();
  for (int i = 1; i <= 4; ++i) h.outbox.Take(i);
  h.service.OnClose(3);  // u3 is seen by nobody but through the large room
  h.service.OnClose(2);
  h.clock.Advance(5000);
  h.service.Tick();
  h.service.Tick();  // what waited for a tick goes out
  auto u1 = h.outbox.Take(1);
  CHECK(Count(u1, R"("user":"u2","online":false)") == 1);
  CHECK(Count(u1, R"("user":"u3")") == 0);
  CHECK(Count(h.outbox.Take(4), R"("type":"presence")") == 0);
  // The welcome's online list leaves out those seen only through the large room.
  auto welcome = h.Login(5, "u2");
  CHECK(Has(welcome, R"("online":["u1"])"));
  // A 1:1 conversation makes two members of the large room see each other.
  Do(h, 4, R"({"type":"send","id":9,"cid":"d1","to":"u1","text":"hi"})");
  CHECK(Count(h.outbox.Take(4), R"({"type":"presence","user":"u1","online":true})") == 1);
}

TEST_CASE("large rooms: the member list is paged, online members first") {
  CoreHarness h(LargeAt(3));
  // Seven members; u2, u4 and u6 stay offline.
  for (int i = 1; i <= 7; ++i) {
    h.Login(i, Name(i));
    Do(h, i, R"({"type":"join","room":"hall"})");
  }
  for (int i : {2, 4, 6}) h.service.OnClose(i);
  h.clock.Advance(5000);
  h.service.Tick();
  h.outbox.Take(1);
  Do(h, 1, R"({"type":"members","id":1,"room":"hall","limit":3})");
  CHECK(h.outbox.Take(1) ==
        std::vector<std::string>{
            R"({"type":"ok","re":1,"room":"hall","members":[{"user":"u1","online":true},{"user":"u3","online":true},)"
            R"({"user":"u5","online":true}],"offset":0,"total":7,"online":4,"more":true})"});
  Do(h, 1, R"({"type":"members","id":2,"room":"hall","limit":3,"offset":3})");
  CHECK(h.outbox.Take(1) ==
        std::vector<std::string>{
            R"({"type":"ok","re":2,"room":"hall","members":[{"user":"u7","online":true},{"user":"u2","online":false},)"
            R"({"user":"u4","online":false}],"offset":3,"total":7,"online":4,"more":true})"});
  Do(h, 1, R"({"type":"members","id":3,"room":"hall","offset":6})");
  CHECK(Has(h.outbox.Take(1), R"("members":[{"user":"u6","online":false}],"offset":6,"total":7,"online":4,"more":false})"));
  Do(h, 1, R"({"type":"members","id":4,"room":"hall","offset":70})");
  CHECK(Has(h.outbox.Take(1), R"("members":[],"offset":70,"total":7,"online":4,"more":false})"));
  Do(h, 1, R"({"type":"members","id":5,"room":"hall","limit":0})");
  CHECK(Has(h.outbox.Take(1), R"("re":5,"code":"bad_request")"));
  Do(h, 1, R"({"type":"members","id":6,"room":"hall","offset":-1})");
  CHECK(Has(h.outbox.Take(1), R"("re":6,"code":"bad_request")"));
}

TEST_CASE("presence storm: each recipient gets at most one presence frame per tick") {
  CoreHarness h;  // rooms of 51: small
  constexpr int kUsers = 50;
  h.Login(100, "hub");
  Do(h, 100, R"({"type":"join","room":"team"})");
  for (int i = 1; i <= kUsers; ++i) {
    h.Login(i, Name(i));
    Do(h, i, R"({"type":"join","room":"team"})");
    h.service.Tick();  // one login per tick: each announced at once, as before
  }
  CHECK(Count(h.outbox.Take(100), R"("type":"member")") == kUsers);
  // All of them go away: the departures are due in the same tick.
  for (int i = 1; i <= kUsers; ++i) h.service.OnClose(i);
  h.clock.Advance(5000);
  h.service.Tick();
  auto first = h.outbox.Take(100);
  CHECK(Count(first, R"("type":"presence")") == 1);  // the first at once, the rest wait
  // ... and they all come back within one tick (a server restart): nothing more yet.
  for (int i = 1; i <= kUsers; ++i) h.Login(200 + i, Name(i));
  CHECK(Count(h.outbox.Take(100), R"("type":"presence")") == 0);
  h.service.Tick();
  auto batch = h.outbox.Take(100);
  REQUIRE(batch.size() == 1);
  // One frame, each user once with the latest state: 49 who went and came back say online,
  // and the first (told offline already) says online too.
  CHECK(Count(batch, R"({"type":"presence","users":[)") == 1);
  size_t users = 0;
  for (size_t at = batch[0].find(R"("user":")"); at != std::string::npos; at = batch[0].find(R"("user":")", at + 1)) {
    ++users;
  }
  CHECK(users == kUsers);
  CHECK(batch[0].find(R"("online":false)") == std::string::npos);
  h.service.Tick();
  CHECK(h.outbox.Take(100).empty());
}
