// SPDX-License-Identifier: MIT
// A real Engine (SQLite and RocksDB files in a temporary folder) with four users, shared by the
// store tests: batches run as the storage thread runs them, and the reads tests check mids with.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/accounts.h"
#include "store/catch_up_reader.h"
#include "store/engine.h"
#include "store/message_store.h"
#include "store/room_store.h"
#include "store/sqlite_db.h"
#include "test_util.h"

namespace chatd::testing {

// The one integer a query answers (a count, a column of one row).
inline int64_t Count(store::SqliteDb& db, const char* sql) {
  std::unique_ptr<store::SqliteStmt> st;
  REQUIRE(db.Prepare(sql, &st).ok());
  util::Status s;
  REQUIRE(st->Step(&s));
  return st->Int(0);
}

// Runs `op` in a batch of its own, as the storage thread would; the first failure of the op or
// of the commit.
template <typename Op>
util::Status InBatch(store::Engine* engine, Op op) {
  REQUIRE(engine->BeginBatch().ok());
  util::Status s = op();
  util::Status c = engine->CommitBatch();
  return s.ok() ? c : s;
}

struct EngineFixture {
  TempDir dir;
  util::ManualClock clock;
  store::EngineOptions options;
  std::unique_ptr<store::Engine> engine;
  store::UserInfo alice, bob, carol, admin;  // admin is "root"
  int cids = 0;

  explicit EngineFixture(store::EngineOptions o = {}) : options(o) {
    Open();
    auto& acc = engine->accounts();
    REQUIRE(acc.CreateUser("alice", "", false, 1, &alice).ok());
    REQUIRE(acc.CreateUser("bob", "", false, 1, &bob).ok());
    REQUIRE(acc.CreateUser("carol", "", false, 1, &carol).ok());
    REQUIRE(acc.CreateUser("root", "", true, 1, &admin).ok());
  }
  // (Re)opens the engine on the same folder, as a restart does.
  void Open() {
    engine.reset();
    engine = OpenEngine(dir, &clock, nullptr, options);
    REQUIRE(engine);
  }

  store::MessageStore& ms() { return engine->messages(); }
  store::CatchUpReader& pages() { return engine->pages(); }
  store::RoomStore& rooms() { return engine->rooms(); }

  template <typename Op>
  util::Status InBatch(Op op) {
    return chatd::testing::InBatch(engine.get(), op);
  }
  void Ack(const store::UserInfo& u, store::Mid upto) {
    REQUIRE(InBatch([&] { return ms().Ack(u.id, upto, clock.NowMs()); }).ok());
  }

  static std::vector<store::Mid> Mids(const store::FetchResult& r) {
    std::vector<store::Mid> mids;
    for (auto& m : r.messages) mids.push_back(m.mid);
    return mids;
  }
  std::vector<store::Mid> Pending(const store::UserInfo& u, store::Mid after = 0, int limit = 1000) {
    store::FetchResult r;
    REQUIRE(pages().FetchPending(u.id, after, limit, &r).ok());
    return Mids(r);
  }
  std::vector<store::Mid> Since(const store::UserInfo& u, store::Mid cursor, int limit = 1000, bool* complete = nullptr) {
    store::FetchResult r;
    REQUIRE(pages().FetchSince(u.id, cursor, limit, &r).ok());
    if (complete) *complete = r.complete;
    return Mids(r);
  }
};

}  // namespace chatd::testing
