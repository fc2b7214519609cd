// SPDX-License-Identifier: MIT
#include "store/message_store.h"

#include "store/catch_up_reader.h"
#include "store/room_store.h"

#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <fstream>

#include "store/accounts.h"
#include "store/engine.h"
#include "store/history_cache.h"
#include "store/maintenance.h"
#include "store/engine_fixture.h"
#include "test_util.h"
#include "util/fault.h"

using namespace chatd;
using chatd::testing::TempDir;

namespace {

struct Fixture : chatd::testing::EngineFixture {
  using EngineFixture::EngineFixture;

  // One send in its own batch, like the storage thread would run it.
  util::Status Send(const store::UserInfo& from, const std::string& to, const std::string& cid, const std::string& text,
                    store::SendResult* out) {
    store::SendRequest req{from, cid, to, "", text, clock.NowMs()};
    return InBatch([&] { return ms().Send(req, engine->storage_full(), clock.NowMs(), out); });
  }
  store::Mid SendOk(const store::UserInfo& from, const std::string& to, const std::string& text) {
    store::SendResult r;
    REQUIRE(Send(from, to, "c" + std::to_string(++cids), text, &r).ok());
    return r.mid;
  }
};

}  // namespace

TEST_CASE("messages: a send gets an increasing mid and its wire form, encoded once") {
  Fixture f;
  store::SendResult r;
  REQUIRE(f.Send(f.alice, "BOB", "c1", "hi \"bob\"\n", &r).ok());
  CHECK(r.mid == 1);
  CHECK_FALSE(r.dup);
  CHECK(r.recipient.name == "bob");
  REQUIRE(r.json);
  CHECK(*r.json == R"({"type":"message","mid":1,"from":"alice","to":"bob","text":"hi \"bob\"\n","ts":)" +
                       std::to_string(f.clock.NowMs()) + "}");
  CHECK(f.SendOk(f.bob, "alice", "back") == 2);
}

TEST_CASE("messages: the same (sender, cid) is stored once, also after a restart") {
  Fixture f;
  store::SendResult first, again, other;
  REQUIRE(f.Send(f.alice, "bob", "same", "one", &first).ok());
  REQUIRE(f.Send(f.alice, "bob", "same", "one again", &again).ok());
  CHECK(again.dup);
  CHECK(again.mid == first.mid);
  CHECK(again.ts == first.ts);
  CHECK_FALSE(again.json);
  // Another sender may use the same cid.
  REQUIRE(f.Send(f.carol, "bob", "same", "carol's", &other).ok());
  CHECK_FALSE(other.dup);
  f.engine.reset();
  f.engine = chatd::testing::OpenEngine(f.dir, &f.clock);
  REQUIRE(f.engine);
  REQUIRE(f.Send(f.alice, "bob", "same", "after restart", &again).ok());
  CHECK(again.dup);
  CHECK(again.mid == first.mid);
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{first.mid, other.mid});
}

TEST_CASE("messages: refusals: unknown user, broadcast by non-admin, full disk") {
  Fixture f;
  store::SendResult r;
  CHECK(f.Send(f.alice, "nobody", "c1", "x", &r).code() == util::Code::kNotFound);
  CHECK(f.Send(f.alice, "*", "c2", "x", &r).code() == util::Code::kForbidden);
  f.engine->set_storage_full(true);
  CHECK(f.Send(f.alice, "bob", "c3", "x", &r).code() == util::Code::kStorageFull);
  f.engine->set_storage_full(false);
  CHECK(f.Send(f.alice, "bob", "c3", "x", &r).ok());  // resumes by itself
  CHECK(r.mid == 1);  // refused sends used no mid
}

TEST_CASE("pool: undelivered rows are sent until acked, an ack covers everything up to it") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "1");
  store::Mid m2 = f.SendOk(f.carol, "bob", "2");
  f.SendOk(f.bob, "alice", "to alice");
  store::Mid m4 = f.SendOk(f.alice, "bob", "4");
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m1, m2, m4});
  CHECK(f.Pending(f.bob, m1) == std::vector<store::Mid>{m2, m4});  // paging
  CHECK(f.Pending(f.bob, 0, 2) == std::vector<store::Mid>{m1, m2});
  f.Ack(f.bob, m2);
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m4});
  f.Ack(f.bob, 1);  // an older ack changes nothing
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m4});
  f.Ack(f.bob, 1'000'000);  // capped at the last mid
  CHECK(f.Pending(f.bob).empty());
  store::Mid m5 = f.SendOk(f.alice, "bob", "5");
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m5});
  // delivered_at is set on the rows the ack covered, and only those.
  std::unique_ptr<store::SqliteStmt> st;
  REQUIRE(f.engine->db().Prepare("SELECT count(*) FROM offline_pool WHERE status = 'delivered'", &st).ok());
  util::Status s;
  REQUIRE(st->Step(&s));
  CHECK(st->Int(0) == 3);
}

TEST_CASE("pool: the per-user quota refuses with a clear error and frees up on ack") {
  store::EngineOptions o;
  o.pool_max_messages = 3;
  Fixture f(o);
  for (int i = 0; i < 3; ++i) f.SendOk(f.alice, "bob", "x");
  store::SendResult r;
  util::Status s = f.Send(f.alice, "bob", "over", "x", &r);
  CHECK(s.code() == util::Code::kQuotaExceeded);
  CHECK(s.message().find("bob") != std::string::npos);
  CHECK(f.Send(f.alice, "carol", "other", "x", &r).ok());  // other recipients are fine
  f.Ack(f.bob, 2);
  CHECK(f.Send(f.alice, "bob", "over", "x", &r).ok());
  store::EngineOptions b;
  b.pool_max_bytes = 10;
  Fixture g(b);
  CHECK(g.Send(g.alice, "bob", "a", "12345678", &r).ok());
  CHECK(g.Send(g.alice, "bob", "b", "12345", &r).code() == util::Code::kQuotaExceeded);
}

TEST_CASE("pool: after acks the use counted for the quota is what a recount gives, bytes too") {
  // The quota's count is kept up to date by each send and ack (not counted again from the
  // pool): it must stay exact, also for rows a read marker delivered before any ack.
  store::EngineOptions o;
  o.pool_max_bytes = 20;
  Fixture f(o);
  store::Mid m1 = f.SendOk(f.alice, "bob", "aaaaa");
  f.SendOk(f.alice, "bob", "aaaaa");
  store::Mid m3 = f.SendOk(f.alice, "bob", "aaaaa");
  f.SendOk(f.alice, "bob", "aaaaa");  // 20 bytes waiting
  store::SendResult r;
  CHECK(f.Send(f.alice, "bob", "x1", "b", &r).code() == util::Code::kQuotaExceeded);
  f.Ack(f.bob, m1);  // 15 waiting
  CHECK(f.Send(f.alice, "bob", "x2", "bbbbbb", &r).code() == util::Code::kQuotaExceeded);
  CHECK(f.Send(f.alice, "bob", "x3", "bbbbb", &r).ok());  // 20 again
  CHECK(f.Send(f.alice, "bob", "x4", "b", &r).code() == util::Code::kQuotaExceeded);
  // A read marker delivers m3 (delivered_at) without an ack: it still waits, and still counts.
  store::ReadResult read;
  REQUIRE(f.InBatch([&] { return f.rooms().Read(f.bob, "alice", "", m3, f.clock.NowMs(), &read); }).ok());
  CHECK(f.Send(f.alice, "bob", "x5", "b", &r).code() == util::Code::kQuotaExceeded);
  f.Ack(f.bob, m3);  // m2 and m3 leave: 10 waiting
  CHECK(f.Send(f.alice, "bob", "x6", "cccccccccc", &r).ok());
  CHECK(f.Send(f.alice, "bob", "x7", "c", &r).code() == util::Code::kQuotaExceeded);
  // After a restart of the storage side the count starts from the pool itself: the same.
  f.Open();
  CHECK(f.Send(f.alice, "bob", "x8", "c", &r).code() == util::Code::kQuotaExceeded);
  f.Ack(f.bob, 1'000'000);
  CHECK(f.Send(f.alice, "bob", "x9", std::string(20, 'd'), &r).ok());
}

TEST_CASE("catch-up: pages are bounded by bytes too, and continue where they stopped") {
  Fixture f;
  std::string big(4000, 'x');
  std::vector<store::Mid> mids;
  for (int i = 0; i < 10; ++i) mids.push_back(f.SendOk(f.alice, "bob", big));
  for (bool cursor : {false, true}) {
    CAPTURE(cursor);
    std::vector<store::Mid> got;
    store::Mid after = 0;
    for (int pages = 0; pages < 20; ++pages) {
      store::FetchResult r;
      REQUIRE((cursor ? f.pages().FetchSince(f.bob.id, after, 1000, &r, 10000)
                      : f.pages().FetchPending(f.bob.id, after, 1000, &r, 10000))
                  .ok());
      REQUIRE(r.messages.size() <= 3);  // 3 x 4 KiB passes 10,000 bytes
      for (auto& m : r.messages) got.push_back(m.mid);
      if (r.complete) break;
      REQUIRE_FALSE(r.messages.empty());
      after = r.messages.back().mid;
    }
    CHECK(got == mids);
  }
}

TEST_CASE("catch-up: a device with a cursor gets exactly what came after it, its own messages too") {
  Fixture f;
  std::vector<store::Mid> bobs;
  for (int i = 0; i < 10; ++i) {
    bobs.push_back(f.SendOk(i % 2 ? f.alice : f.bob, i % 2 ? "bob" : "alice", "m" + std::to_string(i)));
    f.SendOk(f.carol, "alice", "not bob's");
  }
  bool complete = false;
  auto got = f.Since(f.bob, bobs[3], 1000, &complete);
  CHECK(complete);
  CHECK(got == std::vector<store::Mid>(bobs.begin() + 4, bobs.end()));
  got = f.Since(f.bob, 0, 4, &complete);
  CHECK_FALSE(complete);
  CHECK(got == std::vector<store::Mid>(bobs.begin(), bobs.begin() + 4));
  CHECK(f.Since(f.bob, bobs.back()).empty());
}

TEST_CASE("history: pages backwards without gaps or duplicates, from the cache and from SQLite beyond it") {
  store::EngineOptions o;
  o.history_max_messages = 30;  // the cache keeps 30; SQLite has all
  Fixture f(o);
  std::vector<store::Mid> all;
  for (int i = 0; i < 120; ++i) {
    all.push_back(f.SendOk(i % 3 ? f.alice : f.bob, i % 3 ? "bob" : "alice", std::to_string(i)));
    if (i % 10 == 0) f.SendOk(f.carol, "bob", "noise");
  }
  REQUIRE(f.ms().TrimHistory(f.clock.NowMs()).ok());
  std::vector<store::Mid> seen;
  store::Mid before = 0;
  for (int pages = 0; pages < 100; ++pages) {
    store::HistoryResult h;
    REQUIRE(f.ms().History(f.bob, "alice", "", before, 25, &h).ok());
    std::vector<store::Mid> mids;
    for (auto& m : h.messages) {
      size_t p = m->find("\"mid\":");
      mids.push_back(std::stoll(m->substr(p + 6)));
    }
    for (size_t i = 1; i < mids.size(); ++i) REQUIRE(mids[i - 1] < mids[i]);  // oldest first
    seen.insert(seen.begin(), mids.begin(), mids.end());
    if (!h.more) break;
    before = mids.front();
  }
  CHECK(seen == all);
  store::HistoryResult none;
  REQUIRE(f.ms().History(f.carol, "alice", "", 0, 10, &none).ok());  // never talked
  CHECK(none.messages.empty());
  CHECK(f.ms().History(f.carol, "ghost", "", 0, 10, &none).code() == util::Code::kNotFound);
}

TEST_CASE("history cache: rebuilt from SQLite when deleted or damaged, with the same answers") {
  Fixture f;
  for (int i = 0; i < 50; ++i) f.SendOk(i % 2 ? f.alice : f.bob, i % 2 ? "bob" : "alice", std::to_string(i));
  auto answer = [&] {
    store::HistoryResult h;
    REQUIRE(f.ms().History(f.alice, "bob", "", 0, 200, &h).ok());
    std::string all;
    for (auto& m : h.messages) all += *m;
    return all + "|" + std::to_string(f.Since(f.bob, 10).size());
  };
  std::string before = answer();
  f.engine.reset();
  chatd::testing::TempDir::RemoveAll(f.dir / "history");
  store::OpenReport report;
  f.engine = chatd::testing::OpenEngine(f.dir, &f.clock, &report);
  REQUIRE(f.engine);
  CHECK(report.history_caught_up == 50);
  CHECK(answer() == before);
  // Damage: a garbage CURRENT file makes RocksDB refuse the folder.
  f.engine.reset();
  std::ofstream(f.dir / "history/CURRENT", std::ios::trunc) << "garbage\n";
  f.engine = chatd::testing::OpenEngine(f.dir, &f.clock, &report);
  REQUIRE(f.engine);
  CHECK(report.history_rebuilt);
  CHECK(report.history_caught_up == 50);
  CHECK(answer() == before);
  // Behind (a crash before the cache write): only the missing tail is copied.
  f.engine.reset();
  {
    std::unique_ptr<store::SqliteDb> db;
    REQUIRE(store::SqliteDb::Open(f.dir / "chatd.db", &db).ok());
    REQUIRE(db->Exec("INSERT INTO messages (mid, conv_id, sender_id, cid, text, ts) "
                     "SELECT 51, conv_id, sender_id, 'late', 'late', ts FROM messages WHERE mid = 50;"
                     "INSERT INTO deliveries (user_id, mid) SELECT user_id, 51 FROM deliveries WHERE mid = 50;")
                .ok());
  }
  f.engine = chatd::testing::OpenEngine(f.dir, &f.clock, &report);
  REQUIRE(f.engine);
  CHECK_FALSE(report.history_rebuilt);
  CHECK(report.history_caught_up == 1);
}

TEST_CASE("messages: a failed write rolls the whole batch back and mids are not reused") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "kept");
  REQUIRE(f.engine->BeginBatch().ok());
  store::SendResult r;
  REQUIRE(f.ms().Send(store::SendRequest{f.alice, "x1", "bob", "", "lost", 1}, false, 1, &r).ok());
  // Make the next insert fail inside the same batch.
  REQUIRE(f.engine->db().Exec("CREATE TEMP TRIGGER fail BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk'); END").ok());
  CHECK_FALSE(f.ms().Send(store::SendRequest{f.alice, "x2", "bob", "", "fails", 1}, false, 1, &r).ok());
  CHECK_FALSE(f.engine->CommitBatch().ok());
  REQUIRE(f.engine->db().Exec("DROP TRIGGER IF EXISTS temp.fail").ok());  // rolled back with the batch
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{m1});
  CHECK(f.ms().last_mid() == m1);
  store::Mid next = f.SendOk(f.alice, "bob", "after");
  CHECK(next == m1 + 1);
  CHECK(f.Since(f.bob, 0) == std::vector<store::Mid>{m1, next});
}

TEST_CASE("broadcast: an admin's message reaches every user's pool once, stored once") {
  Fixture f;
  store::SendResult r;
  REQUIRE(f.Send(f.admin, "*", "b1", "maintenance at noon", &r).ok());
  CHECK(r.kind == store::ConvKind::kBroadcast);
  CHECK(r.json->find(R"("to":"*")") != std::string::npos);
  for (auto* u : {&f.alice, &f.bob, &f.carol}) CHECK(f.Pending(*u) == std::vector<store::Mid>{r.mid});
  CHECK(f.Pending(f.admin).empty());  // not to the sender
  // A user created after the broadcast does not get it.
  store::UserInfo late;
  REQUIRE(f.engine->accounts().CreateUser("late", "", false, 1, &late).ok());
  CHECK(f.Pending(late).empty());
  f.Ack(f.alice, r.mid);
  CHECK(f.Pending(f.alice).empty());
  CHECK(f.Since(f.bob, 0) == std::vector<store::Mid>{r.mid});
}

TEST_CASE("history cache: damage found only when reading falls back to SQLite, then the cache is rebuilt") {
  Fixture f;
  for (int i = 0; i < 3000; ++i) {
    f.SendOk(i % 2 ? f.alice : f.bob, i % 2 ? "bob" : "alice", std::string(200, static_cast<char>('a' + i % 26)));
  }
  auto answer = [&] {
    store::HistoryResult h;
    std::string all;
    store::Mid before_mid = 0;
    do {  // every page, oldest to newest
      h = store::HistoryResult{};
      REQUIRE(f.ms().History(f.alice, "bob", "", before_mid, 200, &h).ok());
      REQUIRE_FALSE(h.messages.empty());
      for (auto& m : h.messages) all += *m;
      before_mid = std::stoll(h.messages.front()->substr(h.messages.front()->find("\"mid\":") + 6));
    } while (h.more);
    return all + "|" + std::to_string(f.Since(f.bob, 10, 5000).size());
  };
  f.engine.reset();  // a clean close flushes the cache into table files
  f.engine = chatd::testing::OpenEngine(f.dir, &f.clock);
  REQUIRE(f.engine);
  std::string before = answer();
  f.engine.reset();
  // Garbage in the middle of the biggest table file (the messages; the epoch lives in a small
  // one that open reads): RocksDB opens the folder, and reads fail later.
  std::string biggest;
  off_t biggest_size = 0;
  if (DIR* d = opendir((f.dir / "history").c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      struct stat st {};
      if (n.size() > 4 && n.substr(n.size() - 4) == ".sst" && stat((f.dir / ("history/" + n)).c_str(), &st) == 0 &&
          st.st_size > biggest_size) {
        biggest = f.dir / ("history/" + n);
        biggest_size = st.st_size;
      }
    }
    closedir(d);
  }
  int damaged = 0;
  if (!biggest.empty()) {
    std::fstream io(biggest, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(biggest_size / 3);  // data blocks, away from the index and footer
    std::string junk(static_cast<size_t>(biggest_size / 10), '\x5a');
    io.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    damaged = 1;
  }
  REQUIRE(damaged > 0);
  store::OpenReport report;
  f.engine = chatd::testing::OpenEngine(f.dir, &f.clock, &report);
  REQUIRE(f.engine);
  CHECK(answer() == before);  // served from SQLite (or the cache, if open found the damage)
  CHECK_FALSE(report.history_rebuilt);
  CHECK(f.engine->history().broken());
  REQUIRE(f.engine->Maintain().ok());
  CHECK_FALSE(f.engine->history().broken());
  CHECK(answer() == before);
}

namespace {

// Every page of a cursor catch-up from `cursor`, each continuing where the last one said it
// stopped. Fails (instead of spinning) when a page that is not the last makes no progress.
std::vector<store::Mid> CatchUpAll(Fixture& f, const store::UserInfo& u, store::Mid cursor, int limit) {
  std::vector<store::Mid> got;
  store::Mid pos = cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    store::FetchResult r;
    REQUIRE(f.pages().FetchSince(u.id, pos, limit, &r).ok());
    for (auto& m : r.messages) got.push_back(m.mid);
    if (r.complete) return got;
    REQUIRE_MESSAGE(r.next > pos, "a catch-up page that is not the last made no progress");
    pos = r.next;
  }
  FAIL("catch-up did not finish in 1000 pages");
  return got;
}

}  // namespace

TEST_CASE("catch-up: a cursor older than what retention kept still gets every message, from SQLite") {
  store::EngineOptions o;
  o.history_max_messages = 40;  // conversations keep 40 in the cache, the user index 4 x 40
  Fixture f(o);
  std::vector<store::Mid> bobs, carols;
  for (int i = 0; i < 500; ++i) {
    bobs.push_back(f.SendOk(i % 5 ? f.alice : f.bob, i % 5 ? "bob" : "alice", "m" + std::to_string(i)));
    if (i % 10 == 0) carols.push_back(f.SendOk(f.alice, "carol", "other conversation"));
  }
  REQUIRE(f.ms().TrimHistory(f.clock.NowMs()).ok());
  // From the start, from inside what only SQLite has, from where only the index was trimmed,
  // and from inside what the cache still has: every message after the cursor, in order.
  for (size_t from : {size_t{0}, size_t{100}, size_t{420}, size_t{470}}) {
    CAPTURE(from);
    store::Mid cursor = from == 0 ? 0 : bobs[from - 1];
    std::vector<store::Mid> expect(bobs.begin() + static_cast<std::ptrdiff_t>(from), bobs.end());
    CHECK(CatchUpAll(f, f.bob, cursor, 30) == expect);
    CHECK(CatchUpAll(f, f.bob, cursor, 1000) == expect);
  }
  CHECK(CatchUpAll(f, f.carol, 0, 7) == carols);
}

TEST_CASE("catch-up: a room trimmed by retention is caught up from SQLite, members from their join") {
  store::EngineOptions o;
  o.history_max_messages = 25;
  Fixture f(o);
  store::JoinResult j;
  for (auto* u : {&f.alice, &f.bob}) {
    REQUIRE(f.engine->BeginBatch().ok());
    REQUIRE(f.rooms().Join(*u, "general", false, 1, &j).ok());
    REQUIRE(f.engine->CommitBatch().ok());
  }
  std::vector<store::Mid> room;
  for (int i = 0; i < 200; ++i) {
    REQUIRE(f.engine->BeginBatch().ok());
    store::SendResult r;
    store::SendRequest req{i % 2 ? f.alice : f.bob, "r" + std::to_string(i), "", "general", "x", 1};
    REQUIRE(f.ms().Send(req, false, 1, &r).ok());
    REQUIRE(f.engine->CommitBatch().ok());
    room.push_back(r.mid);
  }
  REQUIRE(f.ms().TrimHistory(f.clock.NowMs()).ok());
  CHECK(CatchUpAll(f, f.bob, 0, 16) == room);
  CHECK(CatchUpAll(f, f.bob, room[150], 16) == std::vector<store::Mid>(room.begin() + 151, room.end()));
}

TEST_CASE("catch-up: messages of the batch being written are not missed by a cursor page in the same batch") {
  Fixture f;
  store::Mid m1 = f.SendOk(f.alice, "bob", "one");
  // A send and a catch-up in one batch, the send first (the storage thread groups them so):
  // the cache holds the send only after the batch commits, SQLite has it already.
  REQUIRE(f.engine->BeginBatch().ok());
  store::SendResult r;
  REQUIRE(f.ms().Send(store::SendRequest{f.alice, "same-batch", "bob", "", "two", 1}, false, 1, &r).ok());
  store::FetchResult page;
  REQUIRE(f.pages().FetchSince(f.bob.id, 0, 1000, &page).ok());
  REQUIRE(f.engine->CommitBatch().ok());
  std::vector<store::Mid> got;
  for (auto& m : page.messages) got.push_back(m.mid);
  CHECK(got == std::vector<store::Mid>{m1, r.mid});
  CHECK(page.complete);
  CHECK(page.high_water == r.mid);
}

// Arms fault points for one test and disarms them however it ends.

TEST_CASE("history cache: a failed cache write never hides acked messages from history or catch-up") {
  Fixture f;
  chatd::testing::ArmedFaults faults("");
  std::vector<store::Mid> all;
  all.push_back(f.SendOk(f.alice, "bob", "before"));
  util::ArmFaults("history-write");  // the cache's disk is full: its writes fail, SQLite's do not
  all.push_back(f.SendOk(f.alice, "bob", "while full 1"));
  all.push_back(f.SendOk(f.bob, "alice", "while full 2"));
  util::ArmFaults("");  // space is back
  all.push_back(f.SendOk(f.alice, "bob", "after"));
  auto history = [&](const store::UserInfo& u, const std::string& with) {
    store::HistoryResult h;
    REQUIRE(f.ms().History(u, with, "", 0, 50, &h).ok());
    std::vector<store::Mid> mids;
    for (auto& m : h.messages) mids.push_back(std::stoll(m->substr(m->find("\"mid\":") + 6)));
    return mids;
  };
  CHECK(f.Since(f.bob, 0) == all);
  CHECK(f.Since(f.alice, all[0]) == std::vector<store::Mid>(all.begin() + 1, all.end()));
  CHECK(history(f.bob, "alice") == all);
  // The state is recorded for `chatd stats`, once.
  CHECK(f.engine->history_needs_recovery());
  store::Stats stats;
  REQUIRE(store::CollectStats(&f.engine->db(), f.dir / "chatd.db", f.dir / "history", &stats).ok());
  CHECK(stats.history_state.rfind("behind since ", 0) == 0);
  CHECK(stats.history_state.find("injected fault history-write") != std::string::npos);
  // Recovery copies what the cache missed; then the cache itself answers again, complete.
  REQUIRE(f.engine->RecoverHistory().ok());
  CHECK_FALSE(f.engine->history_needs_recovery());
  CHECK(f.engine->history().high_water() == all.back());
  std::vector<store::HistoryCache::Entry> cached;
  std::unique_ptr<store::SqliteStmt> conv;  // alice and bob's conversation
  REQUIRE(f.engine->db().Prepare("SELECT id FROM conversations WHERE kind = 1", &conv).ok());
  util::Status st;
  REQUIRE(conv->Step(&st));
  REQUIRE(f.engine->history().Range(conv->Int(0), 0, 100, &cached).ok());
  std::vector<store::Mid> cached_mids;
  for (auto& e : cached) cached_mids.push_back(e.mid);
  CHECK(cached_mids == all);
  CHECK(f.Since(f.bob, 0) == all);
  REQUIRE(store::CollectStats(&f.engine->db(), f.dir / "chatd.db", f.dir / "history", &stats).ok());
  CHECK(stats.history_state == "ok");
}

TEST_CASE("history cache: recovery that fails again keeps answering from SQLite, and a restart with a cache that cannot be written still serves") {
  Fixture f;
  chatd::testing::ArmedFaults faults("");
  std::vector<store::Mid> all;
  util::ArmFaults("history-write");
  for (int i = 0; i < 5; ++i) all.push_back(f.SendOk(f.alice, "bob", "m"));
  CHECK_FALSE(f.engine->RecoverHistory().ok());  // still failing
  CHECK(f.engine->history_needs_recovery());
  CHECK(f.Since(f.bob, 0) == all);
  // A restart while the cache still cannot be written: the engine opens, SQLite serves.
  f.engine.reset();
  store::OpenReport report;
  f.engine = chatd::testing::OpenEngine(f.dir, &f.clock, &report);
  REQUIRE(f.engine);
  CHECK(f.engine->history_needs_recovery());
  all.push_back(f.SendOk(f.bob, "alice", "after restart"));
  CHECK(f.Since(f.bob, 0) == all);
  util::ArmFaults("");
  REQUIRE(f.engine->RecoverHistory().ok());
  CHECK_FALSE(f.engine->history_needs_recovery());
  CHECK(f.engine->history().high_water() == all.back());
}

TEST_CASE("rooms: a user may create at most max_rooms_per_user rooms, joining existing ones is not limited, admins are exempt") {
  store::EngineOptions o;
  o.max_rooms_per_user = 3;
  Fixture f(o);
  auto join = [&](const store::UserInfo& u, const std::string& room) {
    REQUIRE(f.engine->BeginBatch().ok());
    store::JoinResult j;
    util::Status s = f.rooms().Join(u, room, false, 1, &j);
    REQUIRE(f.engine->CommitBatch().ok());
    return s;
  };
  for (int i = 0; i < 3; ++i) CHECK(join(f.alice, "a" + std::to_string(i)).ok());
  util::Status s = join(f.alice, "a3");
  CHECK(s.code() == util::Code::kQuotaExceeded);
  CHECK(s.message().find("3 rooms") != std::string::npos);
  CHECK(join(f.alice, "a0").ok());  // already a member: fine
  CHECK(join(f.bob, "b0").ok());    // the cap is per user
  CHECK(join(f.alice, "b0").ok());  // joining someone else's room creates nothing
  for (int i = 0; i < 5; ++i) CHECK(join(f.admin, "admin" + std::to_string(i)).ok());
}
