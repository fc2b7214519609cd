// SPDX-License-Identifier: MIT
// Dedupe from memory (store/dedupe.h): the window by age and by count, read back at start,
// and never a false dup (a rolled-back batch, a purged message).
#include <doctest/doctest.h>

#include "store/engine_fixture.h"

using namespace chatd;
using chatd::testing::Count;

namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

struct Fixture : chatd::testing::EngineFixture {
  using EngineFixture::EngineFixture;
  store::SendResult Send(const std::string& cid, const std::string& text = "x") {
    store::SendResult r;
    store::SendRequest req{alice, cid, "bob", "", text, clock.NowMs()};
    REQUIRE(InBatch([&] { return ms().Send(req, false, clock.NowMs(), &r); }).ok());
    return r;
  }
};

}  // namespace

TEST_CASE("dedupe: there is no unique index any more: a resend is found in memory, also after a restart") {
  Fixture f;
  CHECK(Count(f.engine->db(), "SELECT count(*) FROM sqlite_master WHERE name = 'messages_dedupe'") == 0);
  store::SendResult first = f.Send("a");
  f.clock.Advance(6 * kDay);
  f.Open();
  store::SendResult again = f.Send("a", "again");
  CHECK(again.dup);
  CHECK(again.mid == first.mid);
  CHECK(again.ts == first.ts);
  CHECK(Count(f.engine->db(), "SELECT count(*) FROM messages") == 1);
}

TEST_CASE("dedupe: the window ends after dedupe-days, at start and while running") {
  store::EngineOptions o;
  o.dedupe_days = 2;
  Fixture f{o};
  store::SendResult old = f.Send("old");
  f.clock.Advance(3 * kDay);
  store::SendResult newer = f.Send("newer");  // pushes "old" out of the running window
  CHECK(f.Send("old").mid != old.mid);        // past the window: a new message
  CHECK(f.Send("newer").mid == newer.mid);
  f.clock.Advance(3 * kDay);
  f.Open();  // read back at start: none of the three is within two days any more
  CHECK_FALSE(f.Send("newer").dup);
}

TEST_CASE("dedupe: the window keeps at most dedupe-max messages, the newest") {
  store::EngineOptions o;
  o.dedupe_max_entries = 3;
  Fixture f{o};
  std::vector<store::Mid> mids;
  for (int i = 0; i < 5; ++i) mids.push_back(f.Send("c" + std::to_string(i)).mid);
  CHECK(f.Send("c4").mid == mids[4]);
  CHECK(f.Send("c2").mid == mids[2]);
  CHECK_FALSE(f.Send("c1").dup);  // the fourth newest: forgotten
  f.Open();
  CHECK(f.Send("c4").dup);
}

TEST_CASE("dedupe: an entry of a rolled-back batch or a purged message is no dup") {
  Fixture f;
  REQUIRE(f.engine->BeginBatch().ok());
  store::SendResult lost;
  REQUIRE(f.ms().Send({f.alice, "lost", "bob", "", "x", f.clock.NowMs()}, false, f.clock.NowMs(), &lost).ok());
  f.engine->AbortBatch();
  store::SendResult other = f.Send("other");  // takes the mid "lost" had
  CHECK(other.mid == lost.mid);
  store::SendResult retry = f.Send("lost");
  CHECK_FALSE(retry.dup);
  CHECK(retry.mid == other.mid + 1);
  REQUIRE(f.engine->db().Exec("DELETE FROM messages WHERE cid = 'lost'").ok());  // as a purge does
  CHECK_FALSE(f.Send("lost").dup);
}
