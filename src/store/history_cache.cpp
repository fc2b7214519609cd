// SPDX-License-Identifier: MIT
//
// Just over 400 lines: one type over RocksDB (opening and trust, writes, reads, retention),
// kept together because every part of it reads and writes the same key layout (the header).
#include "store/history_cache.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/fault.h"
#include "util/log.h"

namespace chatd::store {

using util::Status;

namespace {

constexpr char kEpochKey[] = "meta:epoch";
constexpr char kHighWaterKey[] = "meta:hw";

void PutBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string Key(char tag, uint64_t a, uint64_t b) {
  std::string k;
  k.reserve(17);
  k.push_back(tag);
  PutBE64(&k, a);
  PutBE64(&k, b);
  return k;
}

std::string FloorKey(char tag, uint64_t id) {
  std::string k;
  k.reserve(9);
  k.push_back(tag);
  PutBE64(&k, id);
  return k;
}

// The cache is written without RocksDB's WAL: SQLite holds the durable copy. A crash loses the
// unflushed memtable as a whole, so what survives is always a prefix of the writes with its own
// high-water mark, and start-up copies the rest from SQLite. (It also sidesteps RocksDB
// recovering a damaged WAL as "OK" with keys missing.)
rocksdb::WriteOptions CacheWrite() {
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  return wo;
}

Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace()) return Status::StorageFull(std::string(what) + ": " + s.ToString());
  return Status::Internal(std::string(what) + ": " + s.ToString());
}

Status NotOpen() { return Status::Unavailable("history cache is not open"); }

// Visits the keys `tag` id(8) mid(8) with mid > after, oldest first, until `take(mid, value)`
// has accepted `limit` of them (it returns false for a value it skips). The iterator's status.
template <typename Take>
rocksdb::Status ScanAfter(rocksdb::DB* db, char tag, uint64_t id, Mid after, int limit, Take take) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  std::string upper = Key(tag, id + 1, 0);
  int taken = 0;
  for (it->Seek(Key(tag, id, static_cast<uint64_t>(after) + 1)); it->Valid() && taken < limit; it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.compare(upper) >= 0) break;
    if (k.size() == 17 && take(static_cast<Mid>(GetBE64(k.data() + 9)), it->value())) ++taken;
  }
  return it->status();
}

rocksdb::Options CacheOptions() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  // A damaged WAL tail is dropped, never "repaired" into a hole; start-up then catches up.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // File descriptors go to sockets (the open-file limit is 20,000 here).
  o.max_open_files = 64;
  o.keep_log_file_num = 2;
  o.max_log_file_size = 1 << 20;
  o.write_buffer_size = 16 << 20;
  o.max_write_buffer_number = 3;
  o.IncreaseParallelism(2);
  // Start-up: open table files on this thread (the default spawns 16 threads for it) and do
  // not read every file's statistics.
  o.max_file_opening_threads = 1;
  o.skip_stats_update_on_db_open = true;
  // At INFO, every open writes all options to the LOG file: ~hundreds of lines, milliseconds.
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // (memtable_insert_with_hint_prefix_extractor would suit our keys, but Debian's RocksDB 7.8
  // build aborts on an assertion in InlineSkipList with it: not used.)
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(16 << 20);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace

// Moves a damaged or foreign cache aside so nothing is deleted that someone may want to inspect.
Status HistoryCache::MoveAside(const std::string& path, const std::string& why) {
  char suffix[64];
  snprintf(suffix, sizeof suffix, ".broken-%ld", static_cast<long>(time(nullptr)));
  std::string dest = path + suffix;
  for (int i = 1; access(dest.c_str(), F_OK) == 0; ++i) dest = path + suffix + "-" + std::to_string(i);
  if (rename(path.c_str(), dest.c_str()) != 0 && errno != ENOENT) {
    return Status::Internal("cannot move " + path + " aside: " + strerror(errno));
  }
  LOG_WARN("history cache %s: %s; moved to %s, rebuilding from SQLite", path.c_str(), why.c_str(), dest.c_str());
  return Status::Ok();
}

Status HistoryCache::Open(const std::string& path, const std::string& epoch, std::unique_ptr<HistoryCache>* out,
                          bool* rebuilt) {
  std::unique_ptr<HistoryCache> cache(new HistoryCache(path, epoch));
  Status s = cache->OpenDb(rebuilt);
  if (!s.ok()) return s;
  *out = std::move(cache);
  return Status::Ok();
}

Status HistoryCache::OpenDb(bool* rebuilt) {
  *rebuilt = false;
  db_.reset();
  batch_.reset();
  high_water_ = staged_high_ = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    struct stat st {};
    bool existed = stat(path_.c_str(), &st) == 0;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status rs = rocksdb::DB::Open(CacheOptions(), path_, &raw);
    db_.reset(raw);
    if (!rs.ok()) {
      if (rs.IsIOError() && rs.ToString().find("lock") != std::string::npos) {
        return Status::Conflict("history cache " + path_ + " is locked by another process");
      }
      db_.reset();
      if (attempt > 0) return FromRocks(rs, "cannot create history cache");
      Status s = MoveAside(path_, "cannot be opened (" + rs.ToString() + ")");
      if (!s.ok()) return s;
      *rebuilt = true;
      continue;
    }
    std::string stored;
    rs = db_->Get(rocksdb::ReadOptions(), kEpochKey, &stored);
    if (rs.ok() && stored == epoch_) {
      Status s = DropUserIndex();
      if (s.ok()) s = LoadHighWater();
      if (!s.ok()) {
        db_.reset();
        return s;
      }
      staged_high_ = high_water_;
      return Status::Ok();
    }
    if (rs.IsNotFound() && (!existed || attempt > 0)) {
      // A brand-new cache: stamp it with the database's epoch.
      rs = db_->Put(CacheWrite(), kEpochKey, epoch_);
      if (rs.ok()) rs = db_->Flush(rocksdb::FlushOptions());  // the epoch must survive a crash
      if (!rs.ok()) {
        db_.reset();
        return FromRocks(rs, "cannot initialise history cache");
      }
      *rebuilt = *rebuilt || existed;
      return Status::Ok();
    }
    db_.reset();
    if (attempt > 0) break;
    Status s = MoveAside(path_, rs.ok() ? "belongs to another database" : "has no epoch");
    if (!s.ok()) return s;
    *rebuilt = true;
  }
  return Status::Internal("cannot set up history cache at " + path_);
}

void HistoryCache::SetState(State state, std::string problem) {
  if (state == state_) return;
  state_ = state;
  problem_ = std::move(problem);
  state_changed_ = true;
}

Status HistoryCache::Resume() {
  if (state_ != State::kBehind) return Status::Ok();
  if (!db_) return Status::Unavailable("history cache is not open");
  rocksdb::Status rs = db_->Resume();
  if (!rs.ok()) return FromRocks(rs, "history cache resume");
  SetState(State::kOk, "");
  return Status::Ok();
}

Status HistoryCache::Rebuild(const std::string& why) {
  db_.reset();  // closes it (no iterator is ever kept open between calls)
  Status s = MoveAside(path_, why);
  bool rebuilt = false;
  if (s.ok()) s = OpenDb(&rebuilt);
  if (!s.ok()) {
    SetState(State::kBroken, "rebuild failed: " + s.message());
    return s;
  }
  SetState(State::kOk, "");
  return Status::Ok();
}

HistoryCache::HistoryCache(std::string path, std::string epoch) : path_(std::move(path)), epoch_(std::move(epoch)) {}

HistoryCache::~HistoryCache() = default;

Status HistoryCache::LoadHighWater() {
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), kHighWaterKey, &v);
  if (rs.IsNotFound()) {
    high_water_ = 0;
    return Status::Ok();
  }
  if (!rs.ok()) return FromRocks(rs, "history cache");
  if (v.size() != 8) return Status::Internal("history cache: bad high-water mark");
  high_water_ = static_cast<Mid>(GetBE64(v.data()));
  return Status::Ok();
}

void HistoryCache::Put(ConvId conv, Mid mid, int64_t ts, std::string_view json) {
  if (!usable()) return;
  if (!batch_) batch_ = std::make_unique<rocksdb::WriteBatch>();
  std::string value;
  value.reserve(8 + json.size());
  PutBE64(&value, static_cast<uint64_t>(ts));
  value.append(json);
  batch_->Put(Key('h', static_cast<uint64_t>(conv), static_cast<uint64_t>(mid)), value);
  if (mid > staged_high_) staged_high_ = mid;
}

Status HistoryCache::Flush() {
  if (!usable()) {
    Discard();
    return Status::Ok();
  }
  bool advance = staged_high_ > high_water_;
  if ((!batch_ || batch_->Count() == 0) && !advance) return Status::Ok();
  if (!batch_) batch_ = std::make_unique<rocksdb::WriteBatch>();
  if (advance) {
    std::string hw;
    PutBE64(&hw, static_cast<uint64_t>(staged_high_));
    batch_->Put(kHighWaterKey, hw);
  }
  rocksdb::Status rs = util::FaultHit("history-write") ? rocksdb::Status::NoSpace("injected fault history-write")
                                                        : db_->Write(CacheWrite(), batch_.get());
  batch_->Clear();
  if (!rs.ok()) {
    // RocksDB keeps refusing writes after this (its background error sticks) and the cache now
    // lacks these messages: stop trusting it until Resume() and a catch-up from SQLite.
    staged_high_ = high_water_;
    SetState(State::kBehind, rs.ToString());
    if (!outage_logged_) {  // once per outage, not once per failed attempt
      outage_logged_ = true;
      LOG_ERR("history cache write failed (%s): history is answered from SQLite until the cache catches up",
              rs.ToString().c_str());
    }
    return FromRocks(rs, "history write");
  }
  if (staged_high_ > high_water_) high_water_ = staged_high_;
  return Status::Ok();
}

Status HistoryCache::ReadStatus(const rocksdb::Status& rs) {
  if (rs.ok()) return Status::Ok();
  if (!broken()) {
    LOG_ERR("history cache read failed (%s): answering from SQLite until it is rebuilt", rs.ToString().c_str());
  }
  SetState(State::kBroken, "a read failed: " + rs.ToString());
  return FromRocks(rs, "history read");
}

void HistoryCache::Discard() {
  if (batch_) batch_->Clear();
  staged_high_ = high_water_;
}

Status HistoryCache::Page(ConvId conv, Mid before, int limit, std::vector<Entry>* out) {
  if (!db_) return NotOpen();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = Key('h', static_cast<uint64_t>(conv), 0);
  std::string start = before > 0 ? Key('h', static_cast<uint64_t>(conv), static_cast<uint64_t>(before))
                                 : Key('h', static_cast<uint64_t>(conv) + 1, 0);
  it->SeekForPrev(start);
  if (it->Valid() && it->key() == rocksdb::Slice(start)) it->Prev();
  for (; it->Valid() && static_cast<int>(out->size()) < limit; it->Prev()) {
    rocksdb::Slice k = it->key();
    if (k.size() != 17 || k.compare(lower) < 0) break;
    rocksdb::Slice v = it->value();
    if (v.size() < 8) continue;
    out->push_back(Entry{static_cast<Mid>(GetBE64(k.data() + 9)), static_cast<int64_t>(GetBE64(v.data())),
                         std::string(v.data() + 8, v.size() - 8)});
  }
  return ReadStatus(it->status());
}

Status HistoryCache::Range(ConvId conv, Mid after, int limit, std::vector<Entry>* out) {
  if (!db_) return NotOpen();
  return ReadStatus(ScanAfter(db_.get(), 'h', static_cast<uint64_t>(conv), after, limit,
                              [&](Mid mid, const rocksdb::Slice& v) {
                                if (v.size() < 8) return false;
                                out->push_back(Entry{mid, static_cast<int64_t>(GetBE64(v.data())),
                                                     std::string(v.data() + 8, v.size() - 8)});
                                return true;
                              }));
}

Status HistoryCache::Get(ConvId conv, Mid mid, Entry* out) {
  if (!db_) return NotOpen();
  std::string v;
  rocksdb::Status rs =
      db_->Get(rocksdb::ReadOptions(), Key('h', static_cast<uint64_t>(conv), static_cast<uint64_t>(mid)), &v);
  if (rs.IsNotFound() || (rs.ok() && v.size() < 8)) return Status::NotFound("not in history cache");
  if (!rs.ok()) return ReadStatus(rs);
  out->mid = mid;
  out->ts = static_cast<int64_t>(GetBE64(v.data()));
  out->json.assign(v.data() + 8, v.size() - 8);
  return Status::Ok();
}

Status HistoryCache::Trim(ConvId conv, int max_count, int64_t min_ts) {
  return TrimPrefix('h', 'f', static_cast<uint64_t>(conv), max_count, min_ts);
}

Status HistoryCache::TrimPrefix(char tag, char floor_tag, uint64_t id, int keep, int64_t min_ts) {
  if (!usable()) return Status::Ok();  // recovery trims what it copies
  // Walk from the newest down; the first entry that is past the count or too old, and
  // everything before it, goes in one range delete, with the new floor in the same batch.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = Key(tag, id, 0);
  it->SeekForPrev(Key(tag, id + 1, 0));
  int kept = 0;
  std::string cut;
  for (; it->Valid(); it->Prev()) {
    rocksdb::Slice k = it->key();
    if (k.size() != 17 || k.compare(lower) < 0) break;
    rocksdb::Slice v = it->value();
    int64_t ts = v.size() >= 8 ? static_cast<int64_t>(GetBE64(v.data())) : min_ts;
    if (kept >= keep || ts < min_ts) {
      cut = k.ToString();
      break;
    }
    ++kept;
  }
  Status s = FromRocks(it->status(), "history trim");
  it.reset();
  if (!s.ok() || cut.empty()) return s;
  std::string floor;
  PutBE64(&floor, GetBE64(cut.data() + 9) + 1);
  cut.push_back('\0');  // DeleteRange's end is exclusive: include `cut` itself
  rocksdb::WriteBatch batch;
  rocksdb::Status rs = batch.DeleteRange(lower, cut);
  if (rs.ok()) rs = batch.Put(FloorKey(floor_tag, id), floor);
  if (rs.ok()) rs = db_->Write(CacheWrite(), &batch);
  return FromRocks(rs, "history trim");
}

// Caches written before the per-user index was dropped: its 'g' floors and 'u' entries go (one
// range delete each; nothing to do when there are none).
Status HistoryCache::DropUserIndex() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->Seek(std::string(1, 'g'));
  bool any = it->Valid() && (it->key()[0] == 'g' || it->key()[0] == 'u');
  if (!any) {
    it->Seek(std::string(1, 'u'));
    any = it->Valid() && it->key()[0] == 'u';
  }
  Status s = FromRocks(it->status(), "history cache open");
  it.reset();
  if (!s.ok() || !any) return s;
  rocksdb::WriteBatch batch;
  rocksdb::Status rs = batch.DeleteRange(std::string(1, 'g'), std::string(1, 'h'));
  if (rs.ok()) rs = batch.DeleteRange(std::string(1, 'u'), std::string(1, 'v'));
  if (rs.ok()) rs = db_->Write(CacheWrite(), &batch);
  return FromRocks(rs, "history cache open");
}

Status HistoryCache::Floor(ConvId conv, Mid* out) { return ReadFloor('f', static_cast<uint64_t>(conv), out); }

Status HistoryCache::ReadFloor(char floor_tag, uint64_t id, Mid* out) {
  if (!db_) return NotOpen();
  std::string v;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), FloorKey(floor_tag, id), &v);
  if (rs.IsNotFound()) {
    *out = 0;
    return Status::Ok();
  }
  if (!rs.ok()) return ReadStatus(rs);
  if (v.size() != 8) return ReadStatus(rocksdb::Status::Corruption("bad retention floor"));
  *out = static_cast<Mid>(GetBE64(v.data()));
  return Status::Ok();
}

}  // namespace chatd::store
