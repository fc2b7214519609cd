// SPDX-License-Identifier: MIT
// The offline pool appended, then folded (store/inbox.h): what a send and an ack write, what the
// fold derives, and that a restart or a failed fold loses nothing.
#include <doctest/doctest.h>

#include "store/engine_fixture.h"
#include "store/maintenance.h"
#include "store/sqlite_db.h"
#include "store/webhook_queue.h"

using namespace chatd;
using chatd::testing::Count;

namespace {

struct Fixture : chatd::testing::EngineFixture {
  using EngineFixture::EngineFixture;
  store::Mid SendOk(const store::UserInfo& from, const std::string& to, const std::string& text) {
    store::SendResult r;
    store::SendRequest req{from, "c" + std::to_string(++cids), to, "", text, clock.NowMs()};
    REQUIRE(InBatch([&] { return ms().Send(req, false, clock.NowMs(), &r); }).ok());
    return r.mid;
  }
  std::vector<std::pair<store::UserId, store::Mid>> AckReceipts(const store::UserInfo& u, store::Mid upto) {
    std::vector<std::pair<store::UserId, store::Mid>> delivered;
    REQUIRE(InBatch([&] { return ms().Ack(u.id, upto, clock.NowMs(), &delivered); }).ok());
    return delivered;
  }
  int64_t Rows(const char* sql) { return Count(engine->db(), sql); }
  int64_t FoldMark() { return Rows("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fold_log'"); }
  store::Mid Cursor(const store::UserInfo& u) {
    store::Mid acked = 0, joined = 0;
    REQUIRE(ms().Marks(u.id, &acked, &joined).ok());
    return acked;
  }
};

}  // namespace

TEST_CASE("pool: a 1:1 send writes its message row only, the fold makes its deliveries row") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "one");
  store::Mid m2 = f.SendOk(f.alice, "carol", "two");
  CHECK(f.Rows("SELECT count(*) FROM deliveries") == 0);
  CHECK(f.Rows("SELECT count(*) FROM messages WHERE recipient_id IS NOT NULL") == 2);
  CHECK(f.ms().pool_waiting() == 2);
  REQUIRE(f.engine->FoldPool().ok());
  CHECK(f.ms().pool_waiting() == 0);
  CHECK(f.Rows("SELECT count(*) FROM deliveries WHERE delivered_at IS NULL") == 2);
  CHECK(f.Rows("SELECT user_id FROM deliveries WHERE mid = 1") == f.bob.id);
  CHECK(f.FoldMark() == m2);
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m1});
  CHECK(f.Pending(f.carol) == std::vector<store::Mid>{m2});
}

TEST_CASE("pool: an ack appends a mark, answers receipts at once, and the fold applies it") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "one");
  store::Mid m2 = f.SendOk(f.carol, "bob", "two");
  store::Mid m3 = f.SendOk(f.alice, "bob", "three");
  int64_t acked_at = f.clock.NowMs();
  auto receipts = f.AckReceipts(f.bob, m2);
  CHECK(receipts == std::vector<std::pair<store::UserId, store::Mid>>{{f.alice.id, m1}, {f.carol.id, m2}});
  CHECK(f.Rows("SELECT count(*) FROM marks") == 1);
  CHECK(f.Rows("SELECT acked_upto FROM users WHERE name = 'bob'") == 0);  // not folded yet
  CHECK(f.Cursor(f.bob) == m2);                                            // but it counts
  CHECK(f.AckReceipts(f.bob, m2).empty());                                 // once
  f.clock.Advance(1000);
  REQUIRE(f.engine->FoldPool().ok());
  CHECK(f.Rows("SELECT count(*) FROM marks") == 0);
  CHECK(f.Rows("SELECT acked_upto FROM users WHERE name = 'bob'") == m2);
  std::string at = "SELECT count(*) FROM deliveries WHERE delivered_at = " + std::to_string(acked_at);
  CHECK(f.Rows(at.c_str()) == 2);  // m1 and m2, at the ack's time, not the fold's
  store::DeliveryReport report;
  REQUIRE(f.ms().DeliveryStatus(m1, &report).ok());
  REQUIRE(report.recipients.size() == 1);
  CHECK(report.recipients[0].delivered_at == acked_at);
  REQUIRE(f.ms().DeliveryStatus(m3, &report).ok());
  CHECK_FALSE(report.recipients[0].delivered);
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m3});
}

TEST_CASE("pool: acks over folded rows and over the tail are folded with each mark's time") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "folded first");
  REQUIRE(f.engine->FoldPool().ok());
  store::Mid m2 = f.SendOk(f.alice, "bob", "in the tail");
  store::Mid m3 = f.SendOk(f.alice, "bob", "later");
  int64_t t1 = f.clock.NowMs();
  CHECK(f.AckReceipts(f.bob, m1) == std::vector<std::pair<store::UserId, store::Mid>>{{f.alice.id, m1}});
  f.clock.Advance(500);
  int64_t t2 = f.clock.NowMs();
  CHECK(f.AckReceipts(f.bob, m2) == std::vector<std::pair<store::UserId, store::Mid>>{{f.alice.id, m2}});
  REQUIRE(f.engine->FoldPool().ok());
  store::DeliveryReport r1, r2, r3;
  REQUIRE(f.ms().DeliveryStatus(m1, &r1).ok());
  REQUIRE(f.ms().DeliveryStatus(m2, &r2).ok());
  REQUIRE(f.ms().DeliveryStatus(m3, &r3).ok());
  CHECK(r1.recipients[0].delivered_at == t1);
  CHECK(r2.recipients[0].delivered_at == t2);
  CHECK(r3.recipients[0].delivered_at == 0);
  CHECK(f.Rows("SELECT acked_upto FROM users WHERE name = 'bob'") == m2);
}

TEST_CASE("pool: a restart reads the unfolded tail and acks back from SQLite") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "one");
  store::Mid m2 = f.SendOk(f.alice, "bob", "two");
  store::Mid m3 = f.SendOk(f.alice, "bob", "three");
  (void)f.AckReceipts(f.bob, m2);
  f.Open();  // as after kill -9: nothing was folded
  CHECK(f.ms().pool_waiting() == 4);  // three rows, one mark
  CHECK(f.Cursor(f.bob) == m2);
  CHECK(f.AckReceipts(f.bob, m1).empty());
  CHECK(f.AckReceipts(f.bob, m3) == std::vector<std::pair<store::UserId, store::Mid>>{{f.alice.id, m3}});
  CHECK(f.Pending(f.bob).empty());
  CHECK(f.Rows("SELECT count(*) FROM deliveries WHERE delivered_at IS NOT NULL") == 3);
}

TEST_CASE("pool: a fold that fails is rolled back whole, and the next one folds everything") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "one");
  (void)f.AckReceipts(f.bob, m1);
  store::Mid m2 = f.SendOk(f.alice, "bob", "two");
  REQUIRE(f.engine->db().Exec("CREATE TEMP TRIGGER fail BEFORE INSERT ON deliveries WHEN NEW.mid = 2 "
                              "BEGIN SELECT RAISE(ABORT, 'disk'); END").ok());
  CHECK_FALSE(f.engine->FoldPool().ok());
  CHECK(f.Rows("SELECT count(*) FROM deliveries") == 0);
  CHECK(f.Rows("SELECT count(*) FROM marks") == 1);
  CHECK(f.FoldMark() == 0);
  CHECK(f.ms().pool_waiting() == 3);  // read back after the rollback
  CHECK(f.Cursor(f.bob) == m1);
  REQUIRE(f.engine->db().Exec("DROP TRIGGER temp.fail").ok());
  REQUIRE(f.engine->FoldPool().ok());
  CHECK(f.Rows("SELECT count(*) FROM deliveries") == 2);
  CHECK(f.FoldMark() == m2);
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m2});
}

TEST_CASE("pool: the quota counts the tail, and acks of the tail free it") {
  store::EngineOptions o;
  o.pool_max_messages = 2;
  Fixture f{o};
  f.SendOk(f.alice, "bob", "one");
  store::Mid m2 = f.SendOk(f.alice, "bob", "two");
  store::SendResult r;
  store::SendRequest req{f.alice, "over", "bob", "", "three", f.clock.NowMs()};
  CHECK(f.InBatch([&] { return f.ms().Send(req, false, f.clock.NowMs(), &r); }).code() == util::Code::kQuotaExceeded);
  (void)f.AckReceipts(f.bob, m2);
  CHECK(f.InBatch([&] { return f.ms().Send(req, false, f.clock.NowMs(), &r); }).ok());
  CHECK(f.ms().pool_waiting() > 0);  // all of it served from the tail, nothing folded
}

TEST_CASE("pool: a read marker is appended, counts at once, and the fold marks the rows read") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "folded first");
  REQUIRE(f.engine->FoldPool().ok());
  store::Mid m2 = f.SendOk(f.alice, "bob", "in the tail");
  store::Mid m3 = f.SendOk(f.alice, "bob", "not read");
  int64_t t1 = f.clock.NowMs();
  auto read = [&](const std::string& with, const std::string& room, store::Mid upto) {
    store::ReadResult r;
    REQUIRE(f.InBatch([&] { return f.rooms().Read(f.bob, with, room, upto, f.clock.NowMs(), &r); }).ok());
    return r.upto;
  };
  CHECK(read("alice", "", m2) == m2);
  CHECK(f.Rows("SELECT count(*) FROM marks WHERE conv_id IS NOT NULL") == 1);
  CHECK(f.Rows("SELECT read_upto FROM members WHERE user_id = 2 AND conv_id != 1") == 0);  // not folded yet
  CHECK(read("alice", "", m1) == m2);  // behind the unfolded marker: nothing new
  CHECK(f.Rows("SELECT count(*) FROM marks") == 1);
  f.Open();  // as after kill -9: the marker is read back
  CHECK(read("alice", "", m1) == m2);
  f.clock.Advance(1000);
  (void)f.AckReceipts(f.bob, m3);  // delivered after it was read: the read's time stays
  REQUIRE(f.engine->FoldPool().ok());
  CHECK(f.Rows("SELECT count(*) FROM marks") == 0);
  CHECK(f.Rows("SELECT read_upto FROM members WHERE user_id = 2 AND conv_id != 1") == m2);
  for (store::Mid m : {m1, m2}) {
    store::DeliveryReport r;
    REQUIRE(f.ms().DeliveryStatus(m, &r).ok());
    CHECK(r.recipients[0].read_at == t1);
    CHECK(r.recipients[0].delivered_at == t1);
  }
  store::DeliveryReport r3;
  REQUIRE(f.ms().DeliveryStatus(m3, &r3).ok());
  CHECK(r3.recipients[0].read_at == 0);
  CHECK(r3.recipients[0].delivered_at == t1 + 1000);
  store::UserState state;
  REQUIRE(f.InBatch([&] { return f.rooms().LoadUserState(f.bob.id, &state); }).ok());
  int64_t unread_alice = -1;
  for (const auto& [name, n] : state.unread) {
    if (name == "alice") unread_alice = n;
  }
  CHECK(unread_alice == 1);

  // The notification feed: a publish folds first, so its rows exist; reading it is a mark too.
  store::PublishRequest pub;
  pub.to = {"bob"};
  pub.text = "notice";
  pub.ts = f.clock.NowMs();
  store::PublishResult published;
  store::Mid m4 = f.SendOk(f.alice, "bob", "before the notice");
  REQUIRE(f.InBatch([&] { return f.ms().Publish(pub, "site", false, &published); }).ok());
  CHECK(f.FoldMark() == published.mid);
  CHECK(f.Rows("SELECT count(*) FROM deliveries WHERE user_id = 2") == 5);
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m4, published.mid});
  CHECK(read("", "!notifications", published.mid) == published.mid);
  CHECK(f.Rows("SELECT broadcast_read FROM users WHERE id = 2") == 0);
  REQUIRE(f.engine->FoldPool().ok());
  CHECK(f.Rows("SELECT broadcast_read FROM users WHERE id = 2") == published.mid);
  std::string q = "SELECT count(*) FROM deliveries WHERE notice = 1 AND read_at IS NOT NULL AND mid = " +
                  std::to_string(published.mid);
  CHECK(f.Rows(q.c_str()) == 1);
}

TEST_CASE("pool: a read marker waiting for the fold is no ack: stats and the undelivered check still count it") {
  store::EngineOptions o;
  o.webhooks = true;
  o.undelivered_after_ms = 1000;
  Fixture f{o};
  store::Mid m = f.SendOk(f.alice, "bob", "read on another device, never acked");
  store::ReadResult read;
  REQUIRE(f.InBatch([&] { return f.rooms().Read(f.bob, "alice", "", m, f.clock.NowMs(), &read); }).ok());
  REQUIRE(f.Rows("SELECT count(*) FROM marks WHERE conv_id IS NOT NULL") == 1);
  store::Stats stats;
  REQUIRE(store::CollectStats(&f.engine->db(), f.dir / "chatd.db", f.dir / "history", &stats).ok());
  CHECK(stats.undelivered == 1);
  // The webhook thread's check, on its own connection.
  std::unique_ptr<store::SqliteDb> db;
  REQUIRE(store::SqliteDb::Open(f.dir / "chatd.db", &db).ok());
  std::unique_ptr<store::WebhookQueue> q;
  REQUIRE(store::WebhookQueue::Open(db.get(), nullptr, &q).ok());
  f.clock.Advance(1000);
  int made = 0;
  REQUIRE(q->MakeDueEvents(f.clock.NowMs(), 100, &made).ok());
  CHECK(made == 1);
}

TEST_CASE("pool: the fold mark follows room and broadcast messages too, so a start reads back little") {
  Fixture f;
  store::JoinResult j;
  REQUIRE(f.InBatch([&] { return f.rooms().Join(f.alice, "lobby", false, f.clock.NowMs(), &j); }).ok());
  store::Mid last = 0;
  for (int i = 0; i < 3; ++i) {
    store::SendResult r;
    store::SendRequest req{f.alice, "r" + std::to_string(i), "", "lobby", "to the room", f.clock.NowMs()};
    REQUIRE(f.InBatch([&] { return f.ms().Send(req, false, f.clock.NowMs(), &r); }).ok());
    last = r.mid;
  }
  CHECK(f.ms().pool_waiting() == 0);  // nothing of anyone's pool
  CHECK(f.engine->fold_pending());    // but the mark is behind
  REQUIRE(f.engine->FoldPool().ok());
  CHECK(f.FoldMark() == last);
  CHECK_FALSE(f.engine->fold_pending());
}
