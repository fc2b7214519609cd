// SPDX-License-Identifier: MIT
#include "store/maintenance.h"

#include <doctest/doctest.h>

#include "store/accounts.h"
#include "store/engine.h"
#include "store/catch_up_reader.h"
#include "store/message_store.h"
#include "store/room_store.h"
#include "store/engine_fixture.h"
#include "test_util.h"

using namespace chatd;
using chatd::testing::TempDir;

using chatd::testing::Count;

TEST_CASE("purge: removes delivered rows and unneeded bodies, never an undelivered row") {
  TempDir dir;
  util::ManualClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  store::UserInfo alice, bob, carol;
  REQUIRE(engine->accounts().CreateUser("alice", "", false, 1, &alice).ok());
  REQUIRE(engine->accounts().CreateUser("bob", "", false, 1, &bob).ok());
  REQUIRE(engine->accounts().CreateUser("carol", "", false, 1, &carol).ok());
  auto send = [&](const store::UserInfo& from, const std::string& to, const std::string& room, int i) {
    REQUIRE(engine->BeginBatch().ok());
    store::SendResult r;
    REQUIRE(engine->messages().Send({from, "c" + std::to_string(i), to, room, "text", clock.NowMs()}, false, clock.NowMs(), &r).ok());
    REQUIRE(engine->CommitBatch().ok());
    return r.mid;
  };
  REQUIRE(engine->BeginBatch().ok());
  store::JoinResult j;
  REQUIRE(engine->rooms().Join(alice, "r", false, 1, &j).ok());
  REQUIRE(engine->rooms().Join(bob, "r", false, 1, &j).ok());
  REQUIRE(engine->CommitBatch().ok());
  for (int i = 0; i < 4; ++i) send(alice, "bob", "", i);     // mids 1-4 to bob
  for (int i = 4; i < 6; ++i) send(alice, "carol", "", i);   // 5-6 to carol, never acked
  send(alice, "", "r", 6);                                    // 7 in the room
  clock.Advance(40LL * 86400 * 1000);
  send(alice, "bob", "", 7);                                  // 8: recent
  REQUIRE(engine->BeginBatch().ok());
  REQUIRE(engine->messages().Ack(bob.id, 8, clock.NowMs()).ok());
  REQUIRE(engine->CommitBatch().ok());
  int64_t cutoff = clock.NowMs() - 30LL * 86400 * 1000;
  // Before the fold the 1:1 messages have no deliveries rows yet: purge must not take them
  // for bodies nothing needs.
  store::PurgeReport early;
  REQUIRE(store::PurgeDelivered(&engine->db(), cutoff, false, &early).ok());
  CHECK(early.messages == 0);
  CHECK(Count(engine->db(), "SELECT count(*) FROM messages") == 8);
  REQUIRE(engine->FoldPool().ok());

  store::PurgeReport dry;
  REQUIRE(store::PurgeDelivered(&engine->db(), cutoff, true, &dry).ok());
  CHECK(dry.delivery_rows == 4);
  CHECK(Count(engine->db(), "SELECT count(*) FROM deliveries") == 7);  // dry run changed nothing

  store::PurgeReport report;
  REQUIRE(store::PurgeDelivered(&engine->db(), cutoff, false, &report).ok());
  CHECK(report.delivery_rows == 4);
  // Bodies: bob's four old ones go; carol's two stay (undelivered); the room message stays
  // (alice, a member, has not acknowledged it); the recent one stays.
  CHECK(report.messages == 4);
  CHECK(Count(engine->db(), "SELECT count(*) FROM deliveries WHERE user_id = 3") == 2);
  CHECK(Count(engine->db(), "SELECT count(*) FROM messages") == 4);
  store::FetchResult pending;
  REQUIRE(engine->pages().FetchPending(carol.id, 0, 100, &pending).ok());
  CHECK(pending.messages.size() == 2);
  // Once alice acks, the room message can go too.
  REQUIRE(engine->BeginBatch().ok());
  REQUIRE(engine->messages().Ack(alice.id, 8, clock.NowMs()).ok());
  REQUIRE(engine->CommitBatch().ok());
  REQUIRE(store::PurgeDelivered(&engine->db(), cutoff, false, &report).ok());
  CHECK(report.messages == 0);  // her ack waits for the fold: purge goes by folded cursors
  REQUIRE(engine->FoldPool().ok());
  REQUIRE(store::PurgeDelivered(&engine->db(), cutoff, false, &report).ok());
  CHECK(report.messages == 1);
  // The mid counter does not go back after the newest rows are purged.
  engine.reset();
  engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  CHECK(engine->messages().last_mid() == 8);
}

TEST_CASE("stats and backup") {
  TempDir dir;
  util::ManualClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  store::UserInfo u;
  REQUIRE(engine->accounts().CreateUser("alice", "", false, 1, &u).ok());
  store::Stats st;
  REQUIRE(store::CollectStats(&engine->db(), dir / "chatd.db", dir / "history", &st).ok());
  CHECK(st.users == 1);
  CHECK(st.messages == 0);
  CHECK(st.db_bytes > 0);
  CHECK(st.history_bytes > 0);
  REQUIRE(store::Backup(&engine->db(), dir / "copy.db").ok());
  CHECK(store::Backup(&engine->db(), dir / "copy.db").code() == util::Code::kConflict);
  std::unique_ptr<store::SqliteDb> copy;
  REQUIRE(store::SqliteDb::Open(dir / "copy.db", &copy).ok());
  CHECK(Count(*copy, "SELECT count(*) FROM users") == 1);
}
