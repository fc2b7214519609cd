// SPDX-License-Identifier: MIT
#include "store/inbox.h"

#include <algorithm>
#include <limits>

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kFoldMark = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fold_log'";
constexpr const char* kSetFoldMark = "UPDATE meta SET value = ?1 WHERE key = 'fold_log'";
// The tail: 1:1 messages above the fold mark (a rowid range: the newest rows of the log).
constexpr const char* kTailRows =
    "SELECT mid, recipient_id, sender_id, length(CAST(text AS BLOB)), conv_id FROM messages "
    "WHERE mid > ?1 AND recipient_id IS NOT NULL ORDER BY mid";
constexpr const char* kAllMarks =
    "SELECT k.user_id, k.upto, k.ts, coalesce(k.conv_id, 0), coalesce(c.kind, 0) FROM marks k "
    "LEFT JOIN conversations c ON c.id = k.conv_id ORDER BY k.seq";
constexpr const char* kInsertMark = "INSERT INTO marks (user_id, upto, ts, conv_id) VALUES (?1, ?2, ?3, ?4)";
// Folded rows an ack covers: each one's sender, size, and whether it still waited for delivery
// (a read marker may have delivered it).
constexpr const char* kCovered =
    "SELECT d.mid, m.sender_id, length(CAST(m.text AS BLOB)), d.delivered_at IS NULL "
    "FROM deliveries d JOIN messages m ON m.mid = d.mid WHERE d.user_id = ?1 AND d.mid > ?2 AND d.mid <= ?3";
constexpr const char* kAckedUpto = "SELECT acked_upto FROM users WHERE id = ?1";
constexpr const char* kDeliverRange =
    "UPDATE deliveries SET delivered_at = ?4 WHERE user_id = ?1 AND mid > ?2 AND mid <= ?3 AND delivered_at IS NULL";
constexpr const char* kSetAcked = "UPDATE users SET acked_upto = ?2 WHERE id = ?1 AND acked_upto < ?2";
constexpr const char* kInsertDelivery =
    "INSERT INTO deliveries (user_id, mid, delivered_at, read_at) VALUES (?1, ?2, ?3, ?4)";
// A read marker over older rows of a 1:1 conversation, and over the user's notifications.
constexpr const char* kReadRange =
    "UPDATE deliveries SET read_at = ?4, delivered_at = coalesce(delivered_at, ?4) "
    "WHERE user_id = ?1 AND mid > ?2 AND mid <= ?3 AND read_at IS NULL "
    "AND mid IN (SELECT mid FROM messages WHERE conv_id = ?5 AND mid > ?2 AND mid <= ?3)";
constexpr const char* kReadNotices =
    "UPDATE deliveries SET read_at = ?4, delivered_at = coalesce(delivered_at, ?4) "
    "WHERE user_id = ?1 AND notice = 1 AND mid > ?2 AND mid <= ?3 AND read_at IS NULL";
constexpr const char* kMemberRead = "SELECT read_upto FROM members WHERE user_id = ?1 AND conv_id = ?2";
constexpr const char* kSetMemberRead =
    "UPDATE members SET read_upto = ?3 WHERE user_id = ?1 AND conv_id = ?2 AND read_upto < ?3";
constexpr const char* kFeedRead = "SELECT broadcast_read FROM users WHERE id = ?1";
constexpr const char* kSetFeedRead = "UPDATE users SET broadcast_read = ?2 WHERE id = ?1 AND broadcast_read < ?2";
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
                          {&clear_marks_, kClearMarks},
                          {&read_range_, kReadRange},
                          {&read_notices_, kReadNotices},
                          {&member_read_, kMemberRead},
                          {&set_member_read_, kSetMemberRead},
                          {&feed_read_, kFeedRead},
                          {&set_feed_read_, kSetFeedRead}});
}

Status Inbox::Reload() {
  tail_.clear();
  marks_.clear();
  acked_.clear();
  read_.clear();
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
    while (st->Step(&s)) Add(st->Int(1), st->Int(0), st->Int(2), st->Int(3), st->Int(4));
    if (!s.ok()) return s;
  }
  StmtScope st(all_marks_.get());
  while (st->Step(&s)) {
    Remember(st->Int(0), Mark{st->Int(1), st->Int(2), st->Int(3), static_cast<ConvKind>(st->Int(4)), 0});
  }
  if (!s.ok()) return s;
  for (auto& [user, marks] : marks_) {
    if (!(s = ChainMarks(user, &marks)).ok()) return s;
  }
  return Status::Ok();
}

void Inbox::Add(UserId recipient, Mid mid, UserId sender, int64_t bytes, ConvId conv) {
  tail_[recipient].push_back(Row{mid, sender, bytes, conv});
  ++rows_;
}

Mid Inbox::Cursor(UserId user, Mid acked) const {
  auto it = acked_.find(user);
  return it == acked_.end() ? acked : std::max(acked, it->second);
}

Status Inbox::ReadMarker(UserId user, ConvId conv, Mid* out) {
  Status s = FoldedCursor(user, conv, out);
  if (!s.ok()) return s;
  if (auto it = read_.find({user, conv}); it != read_.end()) *out = std::max(*out, it->second);
  return Status::Ok();
}

Status Inbox::Read(UserId user, ConvId conv, ConvKind kind, Mid from, Mid upto, int64_t now_ms) {
  StmtScope st(insert_mark_.get());
  st->Bind(1, user).Bind(2, upto).Bind(3, now_ms).Bind(4, conv);
  Status s = st->Run();
  if (!s.ok()) return errors_->Record(s);
  Remember(user, Mark{upto, now_ms, conv, kind, from});
  return Status::Ok();
}

void Inbox::Remember(UserId user, const Mark& k) {
  marks_[user].push_back(k);
  ++marks_count_;
  Mid& cursor = k.conv == 0 ? acked_[user] : read_[{user, k.conv}];
  cursor = std::max(cursor, k.upto);
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
  st->Bind(1, user).Bind(2, upto).Bind(3, now_ms).BindNull(4);
  if (!(s = st->Run()).ok()) return errors_->Record(s);
  Remember(user, Mark{upto, now_ms, 0, ConvKind::kDirect, acked});
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
  for (UserId user : users) {
    auto t = tail_.find(user);
    auto m = marks_.find(user);
    Status s = FoldUser(user, t == tail_.end() ? kNoRows : t->second, m == marks_.end() ? kNoMarks : m->second);
    if (!s.ok()) return s;
  }
  Status s;
  if (marks_count_ > 0) {
    StmtScope st(clear_marks_.get());
    if (!(s = st->Run()).ok()) return errors_->Record(s);
  }
  tail_.clear();
  marks_.clear();
  acked_.clear();
  read_.clear();
  rows_ = marks_count_ = 0;
  return SetFoldMark(std::max(last_mid, folded_));
}

Status Inbox::FoldedCursor(UserId user, ConvId conv, Mid* out) {
  bool member = conv != 0 && conv != kBroadcastConv;
  SqliteStmt* st = conv == 0 ? acked_upto_.get() : member ? member_read_.get() : feed_read_.get();
  StmtScope scope(st);
  st->Bind(1, user);
  if (member) st->Bind(2, conv);
  Status s;
  if (st->Step(&s)) {
    *out = st->Int(0);
    return Status::Ok();
  }
  return s.ok() ? Status::NotFound(member ? "not a member" : "no such user") : s;
}

Status Inbox::ChainMarks(UserId user, std::vector<Mark>* marks) {
  std::map<ConvId, Mid> last;  // 0: the ack cursor
  for (Mark& k : *marks) {
    auto it = last.find(k.conv);
    if (it == last.end()) {
      Mid folded = 0;
      Status s = FoldedCursor(user, k.conv, &folded);
      if (s.code() == util::Code::kNotFound) {
        folded = std::numeric_limits<Mid>::max();  // gone: covers nothing
      } else if (!s.ok()) {
        return s;
      }
      it = last.emplace(k.conv, folded).first;
    }
    k.from = std::min(it->second, k.upto);
    it->second = std::max(it->second, k.upto);
  }
  return Status::Ok();
}

Status Inbox::FoldUser(UserId user, const std::vector<Row>& rows, const std::vector<Mark>& marks) {
  Status s;
  // Older rows (folded before) that the marks cover, in the order the marks were made, each
  // with its own time: the first mark that covers a row sets it. Each mark knows the cursor it
  // moved from, so nothing is read here.
  Mid new_acked = 0;
  std::map<ConvId, Mid> reads;                                         // the new marker per conversation
  std::map<ConvId, std::vector<std::pair<Mid, int64_t>>> read_marks;  // for the tail's rows
  std::vector<std::pair<Mid, int64_t>> ack_marks;
  for (const Mark& k : marks) {
    Mid upto = std::min(k.upto, folded_);
    if (k.conv == 0) {
      if (upto > k.from) {
        StmtScope st(deliver_range_.get());
        st->Bind(1, user).Bind(2, k.from).Bind(3, upto).Bind(4, k.ts);
        if (!(s = st->Run()).ok()) return errors_->Record(s);
      }
      new_acked = std::max(new_acked, k.upto);
      ack_marks.emplace_back(k.upto, k.ts);
      continue;
    }
    if (upto > k.from && (k.kind == ConvKind::kDirect || k.conv == kBroadcastConv)) {
      SqliteStmt* st = k.conv == kBroadcastConv ? read_notices_.get() : read_range_.get();
      StmtScope scope(st);
      st->Bind(1, user).Bind(2, k.from).Bind(3, upto).Bind(4, k.ts);
      if (k.conv != kBroadcastConv) st->Bind(5, k.conv);
      if (!(s = st->Run()).ok()) return errors_->Record(s);
    }
    Mid& r = reads[k.conv];
    r = std::max(r, k.upto);
    read_marks[k.conv].emplace_back(k.upto, k.ts);
  }
  if (new_acked > 0) {
    StmtScope st(set_acked_.get());
    st->Bind(1, user).Bind(2, new_acked);
    if (!(s = st->Run()).ok()) return errors_->Record(s);
  }
  for (const auto& [conv, upto] : reads) {
    SqliteStmt* st = conv == kBroadcastConv ? set_feed_read_.get() : set_member_read_.get();
    StmtScope scope(st);
    if (conv == kBroadcastConv) st->Bind(1, user).Bind(2, upto); else st->Bind(1, user).Bind(2, conv).Bind(3, upto);
    if (!(s = st->Run()).ok()) return errors_->Record(s);
  }
  // The tail's rows, delivered (and read) when the first mark that covers them was made. The
  // marks' `upto` only grow (per conversation for reads), so the first covering is the lowest
  // `upto` at or above the row. (Rows of a user deleted meanwhile are made too: purge removes
  // rows without a user.)
  auto first_covering = [](const std::vector<std::pair<Mid, int64_t>>& v, Mid mid) -> int64_t {
    auto it = std::lower_bound(v.begin(), v.end(), mid, [](const std::pair<Mid, int64_t>& a, Mid m) { return a.first < m; });
    return it == v.end() ? 0 : it->second;
  };
  for (const Row& row : rows) {
    int64_t delivered = first_covering(ack_marks, row.mid);
    int64_t read = 0;
    if (auto rm = read_marks.find(row.conv); rm != read_marks.end()) read = first_covering(rm->second, row.mid);
    if (read != 0 && (delivered == 0 || read < delivered)) delivered = read;
    StmtScope st(insert_delivery_.get());
    st->Bind(1, user).Bind(2, row.mid);
    if (delivered != 0) st->Bind(3, delivered); else st->BindNull(3);
    if (read != 0) st->Bind(4, read); else st->BindNull(4);
    if (!(s = st->Run()).ok()) return errors_->Record(s);
  }
  return Status::Ok();
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
