// SPDX-License-Identifier: MIT
#include "store/dedupe.h"

#include <functional>
#include <limits>
#include <vector>

#include "util/log.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kCheck = "SELECT ts FROM messages WHERE mid = ?1 AND sender_id = ?2 AND cid = ?3";
// The newest messages first (a rowid range read backwards), until the window is full.
constexpr const char* kNewest = "SELECT mid, sender_id, cid, ts FROM messages ORDER BY mid DESC";

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

}  // namespace

Status Dedupe::Open(SqliteDb* db, Window window, int64_t now_ms, std::unique_ptr<Dedupe>* out) {
  std::unique_ptr<Dedupe> d(new Dedupe(db, window));
  Status s = db->Prepare(kCheck, &d->check_);
  if (!s.ok()) return s;
  if (!(s = d->Load(now_ms)).ok()) return s;
  *out = std::move(d);
  return Status::Ok();
}

uint64_t Dedupe::Key(UserId sender, std::string_view cid) {
  uint64_t h = std::hash<std::string_view>{}(cid);
  return h ^ (static_cast<uint64_t>(sender) * 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
}

Status Dedupe::Load(int64_t now_ms) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kNewest, &st);
  if (!s.ok()) return s;
  int64_t since = Since(now_ms);
  std::vector<Entry> newest_first;
  while (newest_first.size() < window_.max_entries && st->Step(&s)) {
    int64_t ts = st->Int(3);
    if (ts < since) break;
    newest_first.push_back(Entry{Key(st->Int(1), st->Text(2)), st->Int(0), ts});
  }
  if (!s.ok()) return s;
  by_key_.reserve(newest_first.size());
  for (auto e = newest_first.rbegin(); e != newest_first.rend(); ++e) {
    by_key_.emplace(e->key, e->mid);
    order_.push_back(*e);
  }
  if (order_.size() >= 100000) LOG_INFO("dedupe: %zu recent messages read back", order_.size());
  return Status::Ok();
}

Status Dedupe::Find(UserId sender, std::string_view cid, bool* found, Mid* mid, int64_t* ts) {
  *found = false;
  auto [from, to] = by_key_.equal_range(Key(sender, cid));
  for (auto it = from; it != to; ++it) {
    StmtScope st(check_.get());
    st->Bind(1, it->second).Bind(2, sender).Bind(3, cid);
    Status s;
    if (st->Step(&s)) {
      *found = true;
      *mid = it->second;
      *ts = st->Int(0);
      return Status::Ok();
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

void Dedupe::Add(UserId sender, std::string_view cid, Mid mid, int64_t ts) {
  uint64_t key = Key(sender, cid);
  by_key_.emplace(key, mid);
  order_.push_back(Entry{key, mid, ts});
  Forget(ts);
}

int64_t Dedupe::Since(int64_t now_ms) const {
  return window_.days > 0 ? now_ms - window_.days * kDayMs : std::numeric_limits<int64_t>::min();
}

void Dedupe::Forget(int64_t now_ms) {
  int64_t since = Since(now_ms);
  while (!order_.empty() && (order_.size() > window_.max_entries || order_.front().ts < since)) {
    const Entry& e = order_.front();
    auto [from, to] = by_key_.equal_range(e.key);
    for (auto it = from; it != to; ++it) {
      if (it->second == e.mid) {
        by_key_.erase(it);
        break;
      }
    }
    order_.pop_front();
  }
}

}  // namespace chatd::store
