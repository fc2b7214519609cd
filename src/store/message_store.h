// SPDX-License-Identifier: MIT
//
// store::MessageStore: messages, conversations and the offline pool in SQLite (schema 002),
// mirrored into the HistoryCache. See docs/storage.md for the data model.
// Storage thread only; borrows the SqliteDb and HistoryCache (both must outlive it).
#pragma once

#include <memory>

#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class HistoryCache;

class MessageStore {
 public:
  static util::Status Open(SqliteDb* db, HistoryCache* history, std::unique_ptr<MessageStore>* out);

  Mid last_mid() const { return last_mid_; }

  // Copies every message with mid > history.high_water() from SQLite into the cache.
  util::Status CatchUpHistory(int64_t* copied);

  // Re-reads in-memory state (the last mid) after a failed commit.
  util::Status Reload();

 private:
  MessageStore(SqliteDb* db, HistoryCache* history) : db_(db), history_(history) {}
  SqliteDb* db_;
  HistoryCache* history_;
  Mid last_mid_ = 0;
};

}  // namespace chatd::store
