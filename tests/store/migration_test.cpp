// SPDX-License-Identifier: MIT
// A data dir written by the previous version (schema 5: tests/store/fixtures/schema5.db, made
// by fixtures/make_schema5.py with that version's binary) is converted in place at start and
// answers exactly as before: users, the pool and its acks, read markers, dedupe, history.
#include <doctest/doctest.h>

#include <filesystem>

#include "store/engine_fixture.h"
#include "store/sqlite_db.h"

using namespace chatd;
using chatd::testing::Count;

namespace {

struct OldDataDir {
  chatd::testing::TempDir dir;
  util::ManualClock clock;
  std::unique_ptr<store::Engine> engine;
  store::OpenReport report;

  OldDataDir() {
    std::filesystem::copy_file(std::string(CHATD_SOURCE_DIR) + "/tests/store/fixtures/schema5.db", dir / "chatd.db");
    clock.Advance(1796276000000 - clock.NowMs());  // a day after the fixture was written
    engine = chatd::testing::OpenEngine(dir, &clock, &report);
    REQUIRE(engine);
  }
  store::UserInfo User(const char* name) {
    store::UserRecord rec;
    REQUIRE(engine->accounts().FindUser(name, &rec).ok());
    return rec.info;
  }
  std::vector<store::Mid> Pending(const store::UserInfo& u) {
    store::FetchResult r;
    REQUIRE(engine->pages().FetchPending(u.id, 0, 100, &r).ok());
    std::vector<store::Mid> mids;
    for (const auto& m : r.messages) mids.push_back(m.mid);
    return mids;
  }
  template <typename Op>
  util::Status InBatch(Op op) {
    return chatd::testing::InBatch(engine.get(), op);
  }
};

}  // namespace

TEST_CASE("migration: a schema 5 data dir is converted in place and keeps everything") {
  OldDataDir d;
  CHECK(d.report.schema_from == 5);
  CHECK(d.report.schema_to >= 6);
  CHECK(d.report.history_caught_up > 0);  // the fixture has no cache: filled from SQLite
  CHECK(d.report.last_mid == 10);
  CHECK(Count(d.engine->db(), "SELECT count(*) FROM messages") == 10);
  CHECK(Count(d.engine->db(), "SELECT count(*) FROM deliveries") == 8);
  CHECK(Count(d.engine->db(), "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fold_log'") == 10);
  CHECK(d.engine->messages().pool_waiting() == 0);

  store::UserInfo ann = d.User("ann"), bob = d.User("bob"), cy = d.User("cy");
  // bob acked 1-3 of ann's five; the broadcast (8) is his too; the room message (9) is his own.
  CHECK(d.Pending(bob) == std::vector<store::Mid>{4, 5, 8});
  // cy was never online: two 1:1 messages, the broadcast, the site's notification.
  CHECK(d.Pending(cy) == std::vector<store::Mid>{6, 7, 8, 10});
  store::DeliveryReport r1;
  REQUIRE(d.engine->messages().DeliveryStatus(1, &r1).ok());
  REQUIRE(r1.recipients.size() == 1);
  CHECK(r1.recipients[0].delivered);
  CHECK(r1.recipients[0].read);

  // A resend of an old message is still a dup with its old mid.
  store::SendResult again;
  REQUIRE(d.InBatch([&] {
    return d.engine->messages().Send({ann, "f2", "bob", "", "to bob 2", d.clock.NowMs()}, false, d.clock.NowMs(), &again);
  }).ok());
  CHECK(again.dup);
  CHECK(again.mid == 2);

  // New traffic goes the new way and folds into the old tables.
  store::SendResult fresh;
  REQUIRE(d.InBatch([&] {
    return d.engine->messages().Send({ann, "new1", "bob", "", "after the upgrade", d.clock.NowMs()}, false,
                                     d.clock.NowMs(), &fresh);
  }).ok());
  CHECK(fresh.mid == 11);
  std::vector<std::pair<store::UserId, store::Mid>> receipts;
  REQUIRE(d.InBatch([&] { return d.engine->messages().Ack(bob.id, 11, d.clock.NowMs(), &receipts); }).ok());
  CHECK(receipts == std::vector<std::pair<store::UserId, store::Mid>>{{ann.id, 11}});  // 4, 5 and 11: ann's newest
  REQUIRE(d.engine->FoldPool().ok());
  CHECK(Count(d.engine->db(), "SELECT count(*) FROM deliveries WHERE user_id = 2 AND delivered_at IS NOT NULL") == 6);
  CHECK(d.Pending(bob).empty());

  // History of the old conversation, from the rebuilt cache.
  store::HistoryResult h;
  REQUIRE(d.engine->messages().History(bob, "ann", "", 0, 50, &h).ok());
  CHECK(h.messages.size() == 6);
}
