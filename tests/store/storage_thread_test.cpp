// SPDX-License-Identifier: MIT
#include "store/storage_thread.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/accounts.h"
#include "store/engine.h"
#include "store/message_store.h"
#include "store/sqlite_db.h"
#include "test_util.h"

using namespace chatd;
using chatd::testing::TempDir;

namespace {

// Drains `q` on this thread until `done` is true or five seconds pass.
bool DrainUntil(util::CompletionQueue& q, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (q.Drain() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

TEST_CASE("storage thread: many jobs commit in few transactions, every one answered in order") {
  TempDir dir;
  util::SystemClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  util::CompletionQueue completions;
  store::StorageThread storage(engine.get(), &completions, {});
  constexpr int kJobs = 2000;
  std::vector<int> order;
  int ok = 0;
  // Submit everything before the thread can take the first job: it must batch.
  for (int i = 0; i < kJobs; ++i) {
    auto name = std::make_shared<std::string>("user" + std::to_string(i));
    auto result = std::make_shared<util::Status>();
    storage.Submit(
        [name, result](store::Engine& e) {
          store::UserInfo info;
          *result = e.accounts().CreateUser(*name, "", false, 1, &info);
        },
        [&, i, result](const util::Status& commit) {
          order.push_back(i);
          if (commit.ok() && result->ok()) ++ok;
        });
  }
  REQUIRE(DrainUntil(completions, [&] { return static_cast<int>(order.size()) == kJobs; }));
  CHECK(ok == kJobs);
  for (int i = 0; i < kJobs; ++i) REQUIRE(order[i] == i);
  CHECK(storage.jobs() == kJobs);
  CHECK(storage.batches() < static_cast<uint64_t>(kJobs) / 10);  // group commit happened
  CHECK(storage.Pending() == 0);
  storage.Stop();
  // Durable: a fresh connection sees every row.
  engine.reset();
  auto again = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(again);
  int64_t n = 0;
  REQUIRE(again->accounts().CountUsers(&n).ok());
  CHECK(n == kJobs);
}

TEST_CASE("storage thread: a refused job does not spoil its batch, Stop() finishes queued work") {
  TempDir dir;
  util::SystemClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  util::CompletionQueue completions;
  std::atomic<int> answered{0};
  std::vector<util::Code> codes(3);
  {
    store::StorageThread storage(engine.get(), &completions, {});
    for (int i = 0; i < 3; ++i) {
      auto result = std::make_shared<util::Status>();
      storage.Submit(
          [result, i](store::Engine& e) {
            store::UserInfo info;
            *result = e.accounts().CreateUser(i == 1 ? "same" : (i == 0 ? "same" : "other"), "", false, 1, &info);
          },
          [&, result, i](const util::Status& commit) {
            codes[i] = commit.ok() ? result->code() : commit.code();
            ++answered;
          });
    }
    storage.Stop();
  }
  completions.Drain();
  CHECK(answered == 3);
  CHECK(codes[0] == util::Code::kOk);
  CHECK(codes[1] == util::Code::kConflict);
  CHECK(codes[2] == util::Code::kOk);
  int64_t n = 0;
  REQUIRE(engine->accounts().CountUsers(&n).ok());
  CHECK(n == 2);
}

TEST_CASE("storage thread: below the free-space floor the engine is told to refuse new data") {
  TempDir dir;
  util::SystemClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  util::CompletionQueue completions;
  store::StorageThread::Options options;
  options.free_space_path = dir.path();
  options.min_free_bytes = int64_t{1} << 60;  // more than any disk has
  store::StorageThread storage(engine.get(), &completions, options);
  auto result = std::make_shared<util::Status>();
  bool done = false;
  storage.Submit(
      [result](store::Engine& e) {
        store::UserInfo info;
        *result = e.EnsureUser("x", false, &info);
      },
                 [&](const util::Status&) { done = true; });
  REQUIRE(DrainUntil(completions, [&] { return done; }));
  CHECK(result->code() == util::Code::kStorageFull);
}

TEST_CASE("storage thread: the fold mark moves past room and broadcast traffic on its own") {
  TempDir dir;
  util::SystemClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  store::UserInfo admin;
  REQUIRE(engine->accounts().CreateUser("root", "", true, 1, &admin).ok());
  util::CompletionQueue completions;
  store::StorageThread storage(engine.get(), &completions, {});
  auto mid = std::make_shared<store::Mid>(0);
  bool answered = false;
  storage.Submit(
      [admin, mid](store::Engine& e) {
        store::SendResult r;
        if (e.messages().Send({admin, "b1", "*", "", "to everyone", 1}, false, 1, &r).ok()) *mid = r.mid;
      },
      [&](const util::Status&) { answered = true; });
  REQUIRE(DrainUntil(completions, [&] { return answered; }));
  REQUIRE(*mid > 0);
  // Another connection watches the mark (the engine's belongs to the storage thread).
  std::unique_ptr<store::SqliteDb> db;
  REQUIRE(store::SqliteDb::Open(dir / "chatd.db", &db).ok());
  auto mark = [&] {
    std::unique_ptr<store::SqliteStmt> st;
    REQUIRE(db->Prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fold_log'", &st).ok());
    util::Status s;
    REQUIRE(st->Step(&s));
    return st->Int(0);
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (mark() < *mid && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(mark() == *mid);
  storage.Stop();
}
