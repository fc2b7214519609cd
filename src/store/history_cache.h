// SPDX-License-Identifier: MIT
//
// store::HistoryCache: recent history in RocksDB, a cache that SQLite can always rebuild.
//
// Key layout (all integers big-endian, so byte order is numeric order):
//   'h' conv(8) mid(8)  -> ts(8) + the message's wire JSON     one entry per message and conversation
//   'f' conv(8)         -> mid(8)   retention floor of a conversation: entries below it may be gone
//   "meta:epoch"        -> the SQLite database's epoch (meta table) this cache belongs to
//   "meta:hw"           -> mid(8): every message up to here has been written
// History pages scan 'h' backwards from (conv, before); a reconnecting device's catch-up merges
// the 'h' ranges of its conversations (store::CatchUpReader does the merge). One key per
// message: a per-user index of 1:1 messages ('u', with floors 'g') cost two more memtable
// inserts per message, a quarter of the durable 1:1 throughput; caches from before have their
// 'u' and 'g' keys deleted when opened.
// Invariant: for every conversation the cache holds every message with floor <= mid <=
// high_water() (retention removes only from the bottom and writes the new floor in the same
// batch), so a reader can tell from the floors whether the cache can answer a range at all or
// SQLite has to.
//
// Open() never trusts a damaged cache: if RocksDB cannot open it, or its epoch is not the
// database's, the folder is moved aside (history.broken-<time>) and a fresh one is made, with a
// log line saying so; the caller then refills it from SQLite from high_water().
//
// Writes are staged with Put*() and written as one WriteBatch by Flush(), without RocksDB's WAL:
// after a crash the cache is behind by its unflushed memtable, and start-up catches it up from
// SQLite (a clean shutdown flushes it).
//
// Trust (state()): readers use the cache only while it is kOk. A failed write (a full disk:
// RocksDB's error then sticks) makes it kBehind: everything up to high_water() is still right,
// later messages are missing, so nothing more is staged and every read goes to SQLite until
// Resume() succeeds and the caller copies the gap from SQLite. A failed read makes it kBroken:
// Rebuild() moves it aside and starts empty. The object stays valid in every state (also when a
// rebuild cannot open a new database: it is then kBroken with no database behind it).
// One thread at a time (the storage thread); the object owns the rocksdb::DB.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/types.h"
#include "util/status.h"

namespace rocksdb {
class DB;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace chatd::store {

class HistoryCache {
 public:
  struct Entry {
    Mid mid = 0;
    int64_t ts = 0;
    std::string json;
  };

  enum class State { kOk, kBehind, kBroken };

  // *rebuilt is set when the cache had to be moved aside and started empty.
  static util::Status Open(const std::string& path, const std::string& epoch, std::unique_ptr<HistoryCache>* out,
                           bool* rebuilt);
  // Moves the cache folder aside (history.broken-<time>), logging `why`.
  static util::Status MoveAside(const std::string& path, const std::string& why);
  ~HistoryCache();
  HistoryCache(const HistoryCache&) = delete;
  HistoryCache& operator=(const HistoryCache&) = delete;

  // Whether readers may use the cache (see "Trust" above), and if not, why.
  bool usable() const { return state_ == State::kOk; }
  State state() const { return state_; }
  bool broken() const { return state_ == State::kBroken; }
  const std::string& problem() const { return problem_; }
  // True once after each change of state (the engine records it for `chatd stats`).
  bool TakeStateChange() {
    bool changed = state_changed_;
    state_changed_ = false;
    return changed;
  }

  // kBehind -> kOk once RocksDB accepts writes again (DB::Resume()); the caller must then copy
  // every message above high_water() from SQLite. An error leaves it kBehind.
  util::Status Resume();
  // The caller caught up after Resume(): the next failed write starts a new outage (logged).
  void EndOutage() { outage_logged_ = false; }
  // Moves the folder aside and starts an empty cache in its place (kBroken -> kOk, high water 0).
  util::Status Rebuild(const std::string& why);

  // Every message with mid <= high_water() is in the cache (unless retention removed it).
  Mid high_water() const { return high_water_; }

  // Stages a message in conversation `conv`. Nothing is staged while the cache is not usable
  // (the catch-up after recovery copies it).
  void Put(ConvId conv, Mid mid, int64_t ts, std::string_view json);
  // Writes everything staged, and the new high-water mark, as one batch. A failure makes the
  // cache kBehind (logged once) and is returned.
  util::Status Flush();
  // Drops what is staged (the SQLite transaction it mirrored was rolled back).
  void Discard();

  // Up to `limit` messages of `conv` with mid < before (before = 0: the newest), newest first.
  util::Status Page(ConvId conv, Mid before, int limit, std::vector<Entry>* out);
  // Messages of `conv` with after < mid, oldest first, at most `limit`.
  util::Status Range(ConvId conv, Mid after, int limit, std::vector<Entry>* out);
  util::Status Get(ConvId conv, Mid mid, Entry* out);  // NotFound if absent

  // Retention: keeps the newest `max_count` messages of `conv` and none older than `min_ts`,
  // and raises the conversation's floor above what it removed.
  util::Status Trim(ConvId conv, int max_count, int64_t min_ts);
  // The lowest mid from which the cache holds every message of `conv` (0: it never trimmed it).
  util::Status Floor(ConvId conv, Mid* out);
  // Stages a new high-water mark: every message up to `mid` that SQLite has is in the cache
  // (after a catch-up whose newest messages SQLite no longer holds).
  void AdvanceHighWater(Mid mid) {
    if (mid > staged_high_) staged_high_ = mid;
  }

 private:
  HistoryCache(std::string path, std::string epoch);
  // Opens (or creates) the database at path_, moving a damaged or foreign one aside.
  util::Status OpenDb(bool* rebuilt);
  void SetState(State state, std::string problem);
  util::Status LoadHighWater();
  util::Status DropUserIndex();
  util::Status ReadStatus(const rocksdb::Status& rs);
  // Removes the keys of `tag` + id (8) + mid (8) below the `keep` newest (and, with min_ts,
  // none older than it) and writes `floor_tag` + id -> the lowest mid kept, in one batch.
  util::Status TrimPrefix(char tag, char floor_tag, uint64_t id, int keep, int64_t min_ts);
  util::Status ReadFloor(char floor_tag, uint64_t id, Mid* out);

  std::string path_, epoch_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  Mid high_water_ = 0;
  Mid staged_high_ = 0;
  State state_ = State::kOk;
  std::string problem_;
  bool state_changed_ = false;
  bool outage_logged_ = false;  // a failed write was logged and no catch-up has succeeded since
};

}  // namespace chatd::store
