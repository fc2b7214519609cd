// SPDX-License-Identifier: MIT
//
// store maintenance for admin commands (`chatd purge`, `chatd stats`): plain SQLite work on a
// connection of the admin's own, safe while the server runs (busy timeout, short
// transactions). It never touches RocksDB: the running server holds that lock, and the cache
// trims itself by its own retention settings.
#pragma once

#include <cstdint>
#include <string>

#include "store/sqlite_db.h"
#include "util/status.h"

namespace chatd::store {

struct PurgeReport {
  int64_t delivery_rows = 0;  // delivered pool rows removed
  int64_t messages = 0;       // message bodies removed (nothing needed them any more)
};

// Removes delivered offline-pool rows of messages older than `cutoff_ms`, then the bodies of
// messages older than that which nothing needs any more: 1:1 messages with no pool row left,
// room messages every member has acknowledged, broadcasts every user has acknowledged.
// Never removes an undelivered row. With `dry_run` it counts and rolls back.
util::Status PurgeDelivered(SqliteDb* db, int64_t cutoff_ms, bool dry_run, PurgeReport* out);

struct Stats {
  int64_t users = 0, rooms = 0, messages = 0, undelivered = 0, delivered = 0;
  int64_t db_bytes = 0, wal_bytes = 0, history_bytes = 0;
  int64_t last_mid = 0;
  int64_t webhook_waiting = 0, webhook_dropped = 0;  // events not sent yet; dropped (queue full)
  int64_t api_keys = 0;                             // valid (not revoked)
  // The history cache's trust state as the server last recorded it: "ok", or "behind since
  // ... (why): history is answered from SQLite" (see HistoryCache, "Trust").
  std::string history_state = "ok";
};

// A consistent copy of the database at `dest` (SQLite's VACUUM INTO), taken while the server
// runs. `dest` must not exist yet.
util::Status Backup(SqliteDb* db, const std::string& dest);

util::Status CollectStats(SqliteDb* db, const std::string& db_path, const std::string& history_path, Stats* out);

}  // namespace chatd::store
