// SPDX-License-Identifier: MIT
//
// store::Dedupe: which mid a (sender, cid) got, for the messages of the window (docs/storage.md,
// "Dedupe"): the last `days` days and at most `max_entries` messages. It is memory only (a
// unique index on (sender, cid) costs a random B-tree page per message) and is read back from
// the newest `messages` rows at start, so a resend is recognised across a restart as before.
// Entries are 64-bit hashes; every hit is checked against the message row itself, so a hash
// shared by two pairs, or an entry left by a rolled-back batch, never makes a false dup.
// Storage thread only; borrows the SqliteDb.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class Dedupe {
 public:
  struct Window {
    int days = 7;  // 0: no age limit
    size_t max_entries = 2'000'000;
  };
  static util::Status Open(SqliteDb* db, Window window, int64_t now_ms, std::unique_ptr<Dedupe>* out);

  // The stored message `sender` sent with `cid`: *found, and its mid and time.
  util::Status Find(UserId sender, std::string_view cid, bool* found, Mid* mid, int64_t* ts);
  // `mid` was stored for (sender, cid) at `ts` (ms): remembered, the oldest past the window
  // forgotten.
  void Add(UserId sender, std::string_view cid, Mid mid, int64_t ts);

  size_t size() const { return by_key_.size(); }
  // The oldest time still in the window (0 when empty).
  int64_t oldest_ts() const { return order_.empty() ? 0 : order_.front().ts; }

 private:
  Dedupe(SqliteDb* db, Window window) : db_(db), window_(window) {}
  util::Status Load(int64_t now_ms);
  static uint64_t Key(UserId sender, std::string_view cid);
  void Forget(int64_t now_ms);
  int64_t Since(int64_t now_ms) const;  // the oldest time the window keeps

  struct Entry {
    uint64_t key;
    Mid mid;
    int64_t ts;
  };
  SqliteDb* db_;
  Window window_;
  std::unordered_multimap<uint64_t, Mid> by_key_;
  std::deque<Entry> order_;  // oldest first
  std::unique_ptr<SqliteStmt> check_;
};

}  // namespace chatd::store
