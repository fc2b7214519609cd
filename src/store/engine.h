// SPDX-License-Identifier: MIT
//
// store::Engine: everything chatd keeps, behind one synchronous API: the SQLite database (source
// of truth: accounts, messages, the offline pool, rooms, read markers) and the RocksDB history
// cache. It runs on the storage thread only (StorageThread), which brackets work in batches:
//   BeginBatch(); ...any number of operations...; CommitBatch();
// One SQLite transaction and one RocksDB WriteBatch per batch (group commit, DESIGN.md "Threads").
// Operations check everything that can be refused *before* they write, so one refused request
// never spoils the batch it shares with others. If CommitBatch() fails (disk full), nothing of
// the batch is kept and the engine reloads its in-memory counters from SQLite.
// Tests drive an Engine directly on real files in a temporary folder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/batch_error.h"
#include "store/types.h"
#include "util/clock.h"
#include "util/status.h"

namespace chatd::store {

class SqliteDb;
class Accounts;
class ApiKeys;
class CatchUpReader;
class Directory;
class HistoryCache;
class MessageStore;
class RoomStore;
class WebhookQueue;

struct EngineOptions {
  std::string db_path;       // SQLite file
  std::string history_path;  // RocksDB folder
  const util::Clock* clock = nullptr;  // must outlive the engine
  int history_max_messages = 10000;
  int history_max_days = 365;
  int pool_max_messages = 10000;
  int64_t pool_max_bytes = 64LL * 1024 * 1024;
  int max_rooms_per_user = 100;
  int dedupe_days = 7;                  // the dedupe window (store/dedupe.h)
  size_t dedupe_max_entries = 2'000'000;
  // Webhooks (webhook-url set): events are queued for webhook::Sender, and every stored 1:1
  // message and notification gets a check due this long after it (message.undelivered).
  bool webhooks = false;
  int64_t undelivered_after_ms = 60'000;
};

// What Open() found and did, for the start-up log line.
struct OpenReport {
  int schema_from = 0, schema_to = 0;
  bool history_rebuilt = false;   // the cache was missing/damaged/foreign and was refilled
  int64_t history_caught_up = 0;  // messages copied from SQLite into the cache at start
  Mid last_mid = 0;
};

class Engine {
 public:
  static util::Status Open(const EngineOptions& options, std::unique_ptr<Engine>* out, OpenReport* report);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- batches (group commit) ---------------------------------------------------------------
  util::Status BeginBatch();
  util::Status CommitBatch();
  void AbortBatch();
  bool in_batch() const { return in_batch_; }
  // Set by the storage thread before a batch when free space is below the floor: operations that
  // add data answer StorageFull instead of writing.
  void set_storage_full(bool full) { storage_full_ = full; }
  bool storage_full() const { return storage_full_; }

  // --- accounts ----------------------------------------------------------------------------------
  Accounts& accounts() { return *accounts_; }
  ApiKeys& api_keys() { return *api_keys_; }
  // A site-token login: finds `name`, creating a password-less site account when it does not
  // exist. Unauthorized when `name` is a local account, unless `allow_local`.
  util::Status EnsureUser(const std::string& name, bool allow_local, UserInfo* out);

  // --- messages and rooms ------------------------------------------------------------------------
  MessageStore& messages() { return *messages_; }
  CatchUpReader& pages() { return *pages_; }
  RoomStore& rooms() { return *rooms_; }
  HistoryCache& history() { return *history_; }
  // Null unless webhooks are on.
  WebhookQueue* webhooks() { return webhooks_.get(); }

  // Periodic housekeeping, run by the storage thread between batches: history retention,
  // expired login sessions, and recovery of the history cache if it is not trusted.
  util::Status Maintain();
  // The history cache is not trusted (a write or a read failed): history is answered from
  // SQLite until RecoverHistory() succeeds. The storage thread calls it every few seconds
  // meanwhile, between batches.
  bool history_needs_recovery() const;
  // A cache behind after a failed write: RocksDB's Resume(), then the missing messages copied
  // from SQLite. A cache whose read failed: rebuilt. Logs the first failure and the success.
  util::Status RecoverHistory();
  util::Status RebuildHistory();

  // Folds the offline pool's appended tail and acks into SQLite's derived tables (Inbox): in
  // the running batch, or in a transaction of its own between batches (the storage thread
  // does that every second or when enough is waiting).
  util::Status FoldPool();
  size_t pool_waiting() const;
  bool fold_pending() const;

  // A cheap query that proves the database answers (for /healthz).
  util::Status Ping();

  const util::Clock& clock() const { return *options_.clock; }
  const EngineOptions& options() const { return options_; }
  SqliteDb& db() { return *db_; }

 private:
  Engine() = default;
  // Drops what the caches learnt in a rolled-back batch.
  void Reload();
  // Writes the cache's trust state into the meta table (`chatd stats` shows it).
  void RecordHistoryState();

  EngineOptions options_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<ApiKeys> api_keys_;
  std::unique_ptr<HistoryCache> history_;
  BatchError errors_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<MessageStore> messages_;
  std::unique_ptr<CatchUpReader> pages_;
  std::unique_ptr<RoomStore> rooms_;
  std::unique_ptr<WebhookQueue> webhooks_;
  bool in_batch_ = false;
  bool storage_full_ = false;
  int resume_failures_ = 0;
};

}  // namespace chatd::store
