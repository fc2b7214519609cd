// SPDX-License-Identifier: MIT
#include "store/inbox.h"

#include <algorithm>

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kFoldMark = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fold_log'";
constexpr const char* kSetFoldMark = "UPDATE meta SET value = ?1 WHERE key = 'fold_log'";
// The tail: 1:1 messages above the fold mark (a rowid range: the newest rows of the log).
constexpr const char* kTailRows =
    "SELECT mid, recipient_id, sender_id, length(CAST(text AS BLOB)) FROM messages "
    "WHERE mid > ?1 AND recipient_id IS NOT NULL ORDER BY mid";
constexpr const char* kAllMarks = "SELECT user_id, upto, ts FROM marks ORDER BY seq";
constexpr const char* kInsertMark = "INSERT INTO marks (user_id, upto, ts) VALUES (?1, ?2, ?3)";
// Folded rows an ack covers: each one's sender, size, and whether it still waited for delivery
// (a read marker may have delivered it).
constexpr const char* kCovered =
    "SELECT d.mid, m.sender_id, length(CAST(m.text AS BLOB)), d.delivered_at IS NULL "
    "FROM deliveries d JOIN messages m ON m.mid = d.mid WHERE d.user_id = ?1 AND d.mid > ?2 AND d.mid <= ?3";
constexpr const char* kAckedUpto = "SELECT acked_upto FROM users WHERE id = ?1";
constexpr const char* kDeliverRange =
    "UPDATE deliveries SET delivered_at = ?4 WHERE user_id = ?1 AND mid > ?2 AND mid <= ?3 AND delivered_at IS NULL";
constexpr const char* kSetAcked = "UPDATE users SET acked_upto = ?2 WHERE id = ?1 AND acked_upto < ?2";
constexpr const char* kInsertDelivery = "INSERT INTO deliveries (user_id, mid, delivered_at) VALUES (?1, ?2, ?3)";
constexpr const char* kClearMarks = "DELETE FROM marks";

}  // namespace

Status Inbox::Open(SqliteDb* db, BatchError* errors, std::unique_ptr<Inbox>* out) {
  std::unique_ptr<Inbox> in(new Inbox(db, errors));
  Status s = in->Prepare();
  if (!s.ok()) return s;
  if (!(s = in->Reload()).ok()) return s;
  *out = std::move(in);
  return Status::Ok();
}

Status Inbox::Prepare() {
  return db_->PrepareAll({{&fold_mark_, kFoldMark},
                          {&set_fold_mark_, kSetFoldMark},
                          {&tail_rows_, kTailRows},
                          {&all_marks_, kAllMarks},
                          {&insert_mark_, kInsertMark},
                          {&covered_, kCovered},
                          {&acked_upto_, kAckedUpto},
                          {&deliver_range_, kDeliverRange},
                          {&set_acked_, kSetAcked},
                          {&insert_delivery_, kInsertDelivery},
                          {&clear_marks_, kClearMarks}});
}

Status Inbox::Reload() {
  tail_.clear();
  marks_.clear();
  rows_ = marks_count_ = 0;
  Status s;
  {
    StmtScope st(fold_mark_.get());
    if (!st->Step(&s)) return s.ok() ? Status::Internal("the database has no fold mark") : s;
    folded_ = st->Int(0);
  }
  {
    StmtScope st(tail_rows_.get());
    st->Bind(1, folded_);
    while (st->Step(&s)) Add(st->Int(1), st->Int(0), st->Int(2), st->Int(3));
    if (!s.ok()) return s;
  }
  StmtScope st(all_marks_.get());
  while (st->Step(&s)) {
    marks_[st->Int(0)].push_back(Mark{st->Int(1), st->Int(2)});
    ++marks_count_;
  }
  return s;
}

void Inbox::Add(UserId recipient, Mid mid, UserId sender, int64_t bytes) {
  tail_[recipient].push_back(Row{mid, sender, bytes});
  ++rows_;
}

Mid Inbox::Cursor(UserId user, Mid acked) const {
  auto it = marks_.find(user);
  return it == marks_.end() || it->second.empty() ? acked : std::max(acked, it->second.back().upto);
}

Status Inbox::Ack(UserId user, Mid acked, Mid upto, int64_t now_ms, Covered* out) {
  *out = Covered{};
  Status s;
  auto cover = [out](UserId sender, Mid mid, int64_t bytes, bool undelivered) {
    out->count += 1;
    out->bytes += bytes;
    if (undelivered && sender != 0) {  // a site's notification has no sender to tell
      Mid& m = out->newest[sender];
      m = std::max(m, mid);
    }
  };
  if (acked < folded_) {  // a device far behind: some of what it acks is folded already
    StmtScope st(covered_.get());
    st->Bind(1, user).Bind(2, acked).Bind(3, std::min(upto, folded_));
    while (st->Step(&s)) cover(st->Int(1), st->Int(0), st->Int(2), st->Int(3) != 0);
    if (!s.ok()) return s;
  }
  if (auto it = tail_.find(user); it != tail_.end()) {
    const auto& rows = it->second;
    auto from = std::upper_bound(rows.begin(), rows.end(), acked, [](Mid m, const Row& r) { return m < r.mid; });
    for (auto r = from; r != rows.end() && r->mid <= upto; ++r) cover(r->sender, r->mid, r->bytes, true);
  }
  StmtScope st(insert_mark_.get());
  st->Bind(1, user).Bind(2, upto).Bind(3, now_ms);
  if (!(s = st->Run()).ok()) return errors_->Record(s);
  marks_[user].push_back(Mark{upto, now_ms});
  ++marks_count_;
  return Status::Ok();
}

Status Inbox::Fold(Mid last_mid) {
  if (empty()) return folded_ < last_mid ? Advance(last_mid) : Status::Ok();
  // In user order, each user's rows in mid order: every B-tree page of `deliveries` and `users`
  // is visited once per fold, however many messages it holds.
  std::vector<UserId> users;
  users.reserve(tail_.size() + marks_.size());
  for (const auto& [user, rows] : tail_) users.push_back(user);
  for (const auto& [user, marks] : marks_) {
    if (tail_.find(user) == tail_.end()) users.push_back(user);
  }
  std::sort(users.begin(), users.end());
  static const std::vector<Row> kNoRows;
  static const std::vector<Mark> kNoMarks;
  Status s;
  for (UserId user : users) {
    auto t = tail_.find(user);
    auto m = marks_.find(user);
    const auto& rows = t == tail_.end() ? kNoRows : t->second;
    const auto& marks = m == marks_.end() ? kNoMarks : m->second;
    if (!marks.empty()) {
      Mid prev = 0;
      {
        StmtScope st(acked_upto_.get());
        st->Bind(1, user);
        if (!st->Step(&s)) {
          if (!s.ok()) return errors_->Record(s);
          prev = -1;  // the user was deleted meanwhile: nothing of theirs to update
        } else {
          prev = st->Int(0);
        }
      }
      if (prev >= 0) {
        // Older rows (folded before) that the marks covered, each range with its mark's time.
        for (const Mark& k : marks) {
          Mid upto = std::min(k.upto, folded_);
          if (upto > prev) {
            StmtScope st(deliver_range_.get());
            st->Bind(1, user).Bind(2, prev).Bind(3, upto).Bind(4, k.ts);
            if (!(s = st->Run()).ok()) return errors_->Record(s);
          }
          prev = std::max(prev, k.upto);
        }
        StmtScope st(set_acked_.get());
        st->Bind(1, user).Bind(2, marks.back().upto);
        if (!(s = st->Run()).ok()) return errors_->Record(s);
      }
    }
    // The tail's rows, delivered when the first mark that covers them was made.
    size_t k = 0;
    for (const Row& r : rows) {
      while (k < marks.size() && marks[k].upto < r.mid) ++k;
      StmtScope st(insert_delivery_.get());
      st->Bind(1, user).Bind(2, r.mid);
      if (k < marks.size()) st->Bind(3, marks[k].ts); else st->BindNull(3);
      if (!(s = st->Run()).ok()) return errors_->Record(s);
    }
  }
  if (marks_count_ > 0) {
    StmtScope st(clear_marks_.get());
    if (!(s = st->Run()).ok()) return errors_->Record(s);
  }
  tail_.clear();
  marks_.clear();
  rows_ = marks_count_ = 0;
  return SetFoldMark(std::max(last_mid, folded_));
}

Status Inbox::Advance(Mid mid) {
  if (!empty()) return Status::Internal("the pool's tail must be folded before its mark moves");
  return mid > folded_ ? SetFoldMark(mid) : Status::Ok();
}

Status Inbox::SetFoldMark(Mid mid) {
  StmtScope st(set_fold_mark_.get());
  st->Bind(1, mid);
  Status s = st->Run();
  if (!s.ok()) return errors_->Record(s);
  folded_ = mid;
  return Status::Ok();
}

}  // namespace chatd::store
