// SPDX-License-Identifier: MIT
#include "store/message_store.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <limits>
#include <memory>

#include "proto/json_writer.h"
#include "store/accounts.h"
#include "store/history_cache.h"
#include "util/log.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kFindDup = "SELECT mid, ts FROM messages WHERE sender_id = ?1 AND cid = ?2";
constexpr const char* kFindDirect = "SELECT id FROM conversations WHERE kind = 1 AND user_a = ?1 AND user_b = ?2";
constexpr const char* kInsertConv =
    "INSERT INTO conversations (kind, user_a, user_b, name, is_private, owner_id, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kInsertMember =
    "INSERT OR IGNORE INTO members (user_id, conv_id, joined_mid) VALUES (?1, ?2, ?3)";
constexpr const char* kInsertMessage =
    "INSERT INTO messages (mid, conv_id, sender_id, cid, text, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kInsertDelivery = "INSERT INTO deliveries (user_id, mid) VALUES (?1, ?2)";
constexpr const char* kPoolUsage =
    "SELECT count(*), coalesce(sum(length(CAST(m.text AS BLOB))), 0) FROM deliveries d "
    "JOIN messages m ON m.mid = d.mid "
    "WHERE d.user_id = ?1 AND d.mid > (SELECT acked_upto FROM users WHERE id = ?1)";
constexpr const char* kAckedUpto = "SELECT acked_upto, joined_mid FROM users WHERE id = ?1";
constexpr const char* kMarkDelivered =
    "UPDATE deliveries SET delivered_at = ?4 WHERE user_id = ?1 AND mid > ?2 AND mid <= ?3 AND delivered_at IS NULL";
constexpr const char* kSetAcked = "UPDATE users SET acked_upto = ?2 WHERE id = ?1 AND acked_upto < ?2";
constexpr const char* kPendingDirect =
    "SELECT d.mid, m.conv_id, m.sender_id, m.text, m.ts FROM deliveries d JOIN messages m ON m.mid = d.mid "
    "WHERE d.user_id = ?1 AND d.mid > ?2 ORDER BY d.mid LIMIT ?3";
constexpr const char* kPendingRooms =
    "SELECT m.mid, m.conv_id, m.sender_id, m.text, m.ts FROM members mb "
    "JOIN conversations c ON c.id = mb.conv_id AND c.kind = 2 "
    "JOIN messages m ON m.conv_id = mb.conv_id AND m.mid > max(?2, mb.joined_mid) "
    "WHERE mb.user_id = ?1 AND m.sender_id != ?1 ORDER BY m.mid LIMIT ?3";
constexpr const char* kPendingBroadcast =
    "SELECT mid, conv_id, sender_id, text, ts FROM messages "
    "WHERE conv_id = 1 AND mid > max(?2, (SELECT joined_mid FROM users WHERE id = ?1)) AND sender_id != ?1 "
    "ORDER BY mid LIMIT ?3";
// A user's conversations with the mid their view of each starts after (rooms: where they
// joined; 1:1: the beginning).
constexpr const char* kUserConvs =
    "SELECT mb.conv_id, CASE WHEN c.kind = 2 THEN mb.joined_mid ELSE 0 END FROM members mb "
    "JOIN conversations c ON c.id = mb.conv_id WHERE mb.user_id = ?1";
constexpr const char* kUserRooms =
    "SELECT mb.conv_id, mb.joined_mid FROM members mb JOIN conversations c ON c.id = mb.conv_id AND c.kind = 2 "
    "WHERE mb.user_id = ?1";
constexpr const char* kConvAfter =
    "SELECT mid, conv_id, sender_id, text, ts FROM messages WHERE conv_id = ?1 AND mid > ?2 AND mid < ?3 "
    "ORDER BY mid LIMIT ?4";
constexpr const char* kConvInfo = "SELECT kind, user_a, user_b, name FROM conversations WHERE id = ?1";
constexpr const char* kOlderInConv =
    "SELECT mid, conv_id, sender_id, text, ts FROM messages WHERE conv_id = ?1 AND mid < ?2 ORDER BY mid DESC LIMIT ?3";
constexpr const char* kMessagesAfter =
    "SELECT mid, conv_id, sender_id, text, ts FROM messages WHERE mid > ?1 ORDER BY mid LIMIT ?2";

// The highest mid ever given out, also when a purge removed it.
constexpr const char* kLastMid =
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), "
    "           coalesce((SELECT max(mid) FROM messages), 0))";

constexpr int kCatchUpChunk = 10000;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

}  // namespace

Status MessageStore::Open(SqliteDb* db, Accounts* accounts, HistoryCache* history, MessageLimits limits,
                          std::unique_ptr<MessageStore>* out) {
  std::unique_ptr<MessageStore> m(new MessageStore(db, accounts, history, limits));
  Status s = m->Prepare();
  if (!s.ok()) return s;
  if (!(s = m->Reload()).ok()) return s;
  *out = std::move(m);
  return Status::Ok();
}

Status MessageStore::Prepare() {
  struct {
    std::unique_ptr<SqliteStmt>* stmt;
    const char* sql;
  } all[] = {
      {&find_dup_, kFindDup},           {&find_direct_, kFindDirect},       {&insert_conv_, kInsertConv},
      {&insert_member_, kInsertMember}, {&insert_message_, kInsertMessage}, {&insert_delivery_, kInsertDelivery},
      {&pool_usage_, kPoolUsage},       {&acked_upto_, kAckedUpto},         {&mark_delivered_, kMarkDelivered},
      {&set_acked_, kSetAcked},         {&pending_direct_, kPendingDirect}, {&conv_info_, kConvInfo},
  };
  for (auto& p : all) {
    Status s = db_->Prepare(p.sql, p.stmt);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status MessageStore::Reload() {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kLastMid, &st);
  if (!s.ok()) return s;
  if (!st->Step(&s)) return s;
  last_mid_ = st->Int(0);
  write_error_ = Status::Ok();
  direct_convs_.clear();
  conv_users_.clear();
  pool_use_.clear();
  rooms_.clear();
  recipients_.clear();
  history_->Discard();
  return Status::Ok();
}

Status MessageStore::NameOf(UserId id, std::string* out) {
  auto it = names_.find(id);
  if (it != names_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  UserInfo info;
  Status s = accounts_->FindUserById(id, &info);
  if (s.code() == util::Code::kNotFound) {
    *out = "(deleted)";
    return Status::Ok();
  }
  if (!s.ok()) return s;
  if (names_.size() > 100000) names_.clear();
  names_[id] = info.name;
  *out = info.name;
  return Status::Ok();
}

Status MessageStore::FindRecipient(const std::string& name, UserInfo* out) {
  // Names never change and accounts are rarely deleted: a lookup per send is worth caching.
  std::string key = name;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = recipients_.find(key);
  if (it != recipients_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  UserRecord rec;
  Status s = accounts_->FindUser(name, &rec);
  if (s.code() == util::Code::kNotFound) return Status::NotFound("no user '" + name + "'");
  if (!s.ok()) return s;
  if (recipients_.size() > 100000) recipients_.clear();
  recipients_[key] = rec.info;
  *out = rec.info;
  return Status::Ok();
}

Status MessageStore::DirectConv(UserId a, UserId b, bool create, int64_t now_ms, ConvId* out) {
  if (a > b) std::swap(a, b);
  auto key = std::make_pair(a, b);
  auto it = direct_convs_.find(key);
  if (it != direct_convs_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  {
    StmtScope st(find_direct_.get());
    st->Bind(1, a).Bind(2, b);
    Status s;
    if (st->Step(&s)) {
      *out = st->Int(0);
      direct_convs_[key] = *out;
      conv_users_[*out] = key;
      return Status::Ok();
    }
    if (!s.ok()) return s;
  }
  if (!create) return Status::NotFound("no conversation yet");
  {
    StmtScope st(insert_conv_.get());
    st->Bind(1, static_cast<int64_t>(ConvKind::kDirect)).Bind(2, a).Bind(3, b).BindNull(4).Bind(5, 0).BindNull(6);
    st->Bind(7, now_ms);
    Status s = st->Run();
    if (!s.ok()) return WriteFailed(s);
  }
  ConvId conv = db_->LastInsertRowid();
  for (UserId u : {a, b}) {
    StmtScope st(insert_member_.get());
    st->Bind(1, u).Bind(2, conv).Bind(3, 0);
    Status s = st->Run();
    if (!s.ok()) return WriteFailed(s);
  }
  direct_convs_[key] = conv;
  conv_users_[conv] = key;
  *out = conv;
  return Status::Ok();
}

Status MessageStore::PoolUsage(UserId user, int64_t* count, int64_t* bytes) {
  auto it = pool_use_.find(user);
  if (it == pool_use_.end()) {
    StmtScope st(pool_usage_.get());
    st->Bind(1, user);
    Status s;
    if (!st->Step(&s)) return s.ok() ? Status::Internal("pool usage") : s;
    if (pool_use_.size() > 100000) pool_use_.clear();
    it = pool_use_.emplace(user, PoolUse{st->Int(0), st->Int(1)}).first;
  }
  *count = it->second.count;
  *bytes = it->second.bytes;
  return Status::Ok();
}

Status MessageStore::EncodeRow(Mid mid, ConvId conv, UserId sender, std::string_view text, int64_t ts,
                               std::shared_ptr<const std::string>* out) {
  std::string from, to, room;
  Status s = NameOf(sender, &from);
  if (!s.ok()) return s;
  if (conv == kBroadcastConv) {
    to = "*";
  } else {
    auto users = conv_users_.find(conv);
    if (users != conv_users_.end()) {
      UserId other = users->second.first == sender ? users->second.second : users->second.first;
      if (!(s = NameOf(other, &to)).ok()) return s;
    } else {
      StmtScope st(conv_info_.get());
      st->Bind(1, conv);
      if (!st->Step(&s)) return s.ok() ? Status::Internal("message in unknown conversation") : s;
      auto kind = static_cast<ConvKind>(st->Int(0));
      if (kind == ConvKind::kDirect) {
        UserId a = st->Int(1), b = st->Int(2);
        conv_users_[conv] = {a, b};
        if (!(s = NameOf(a == sender ? b : a, &to)).ok()) return s;
      } else {
        room = std::string(st->Text(3));
      }
    }
  }
  std::string json;
  json.reserve(96 + text.size());
  proto::JsonWriter w(&json);
  w.Begin().Str("type", "message").Int("mid", mid).Str("from", from);
  if (room.empty()) {
    w.Str("to", to);
  } else {
    w.Str("room", room);
  }
  w.Str("text", text).Int("ts", ts).End();
  *out = std::make_shared<const std::string>(std::move(json));
  return Status::Ok();
}

Status MessageStore::Send(const SendRequest& req, bool storage_full, int64_t now_ms, SendResult* out) {
  *out = SendResult{};
  // A resend of something already stored gets the same answer, and nothing else happens.
  {
    StmtScope st(find_dup_.get());
    st->Bind(1, req.sender.id).Bind(2, req.cid);
    Status s;
    if (st->Step(&s)) {
      out->mid = st->Int(0);
      out->ts = st->Int(1);
      out->dup = true;
      return Status::Ok();
    }
    if (!s.ok()) return s;
  }
  if (!req.room.empty()) {
    RoomInfo room;
    Status s = FindRoom(req.room, &room);
    if (!s.ok()) return s;
    if (!IsMember(room.members, req.sender.id)) return Status::Forbidden("join #" + room.name + " first");
    if (storage_full) return Status::StorageFull("the server is out of disk space; try again later");
    Mid mid = last_mid_ + 1;
    StmtScope st(insert_message_.get());
    st->Bind(1, mid).Bind(2, room.conv).Bind(3, req.sender.id).Bind(4, req.cid).Bind(5, req.text).Bind(6, req.ts);
    if (!(s = st->Run()).ok()) return WriteFailed(s);
    last_mid_ = mid;
    names_[req.sender.id] = req.sender.name;
    std::string json;
    json.reserve(96 + req.text.size());
    proto::JsonWriter(&json)
        .Begin()
        .Str("type", "message")
        .Int("mid", mid)
        .Str("from", req.sender.name)
        .Str("room", room.name)
        .Str("text", req.text)
        .Int("ts", req.ts)
        .End();
    out->json = std::make_shared<const std::string>(std::move(json));
    history_->Put(room.conv, mid, req.ts, *out->json, 0, 0);
    touched_convs_.insert(room.conv);
    out->mid = mid;
    out->ts = req.ts;
    out->kind = ConvKind::kRoom;
    out->conv = room.conv;
    out->room = room;
    return Status::Ok();
  }
  bool broadcast = req.to == "*";
  UserInfo recipient;
  int64_t bytes = static_cast<int64_t>(req.text.size());
  if (broadcast) {
    if (!req.sender.admin) return Status::Forbidden("only admins may broadcast");
  } else {
    Status s = FindRecipient(req.to, &recipient);
    if (!s.ok()) return s;
    int64_t count = 0, used = 0;
    if (!(s = PoolUsage(recipient.id, &count, &used)).ok()) return s;
    if (count + 1 > limits_.pool_max_messages || used + bytes > limits_.pool_max_bytes) {
      return Status::QuotaExceeded(recipient.name + " has too many undelivered messages waiting; try again later");
    }
  }
  if (storage_full) return Status::StorageFull("the server is out of disk space; try again later");

  ConvId conv = kBroadcastConv;
  if (!broadcast) {
    Status s = DirectConv(req.sender.id, recipient.id, true, now_ms, &conv);
    if (!s.ok()) return s;
  }
  Mid mid = last_mid_ + 1;
  {
    StmtScope st(insert_message_.get());
    st->Bind(1, mid).Bind(2, conv).Bind(3, req.sender.id).Bind(4, req.cid).Bind(5, req.text).Bind(6, req.ts);
    Status s = st->Run();
    if (!s.ok()) return WriteFailed(s);
  }
  if (!broadcast) {
    StmtScope st(insert_delivery_.get());
    st->Bind(1, recipient.id).Bind(2, mid);
    Status s = st->Run();
    if (!s.ok()) return WriteFailed(s);
    auto& use = pool_use_[recipient.id];
    use.count += 1;
    use.bytes += bytes;
  }
  last_mid_ = mid;
  names_[req.sender.id] = req.sender.name;
  if (!broadcast) names_[recipient.id] = recipient.name;
  Status s = EncodeRow(mid, conv, req.sender.id, req.text, req.ts, &out->json);
  if (!s.ok()) return s;
  history_->Put(conv, mid, req.ts, *out->json, broadcast ? 0 : req.sender.id, broadcast ? 0 : recipient.id);
  touched_convs_.insert(conv);
  if (!broadcast) {
    touched_users_.insert(req.sender.id);
    touched_users_.insert(recipient.id);
  }
  out->mid = mid;
  out->ts = req.ts;
  out->kind = broadcast ? ConvKind::kBroadcast : ConvKind::kDirect;
  out->conv = conv;
  out->recipient = recipient;
  return Status::Ok();
}

Status MessageStore::AckedUpto(UserId user, Mid* out) {
  StmtScope st(acked_upto_.get());
  st->Bind(1, user);
  Status s;
  if (!st->Step(&s)) return s.ok() ? Status::NotFound("no such user") : s;
  *out = st->Int(0);
  return Status::Ok();
}

Status MessageStore::Ack(UserId user, Mid upto, int64_t now_ms) {
  upto = std::min(upto, last_mid_);
  Mid acked = 0;
  Status s = AckedUpto(user, &acked);
  if (!s.ok()) return s;
  if (upto <= acked) return Status::Ok();
  {
    StmtScope st(mark_delivered_.get());
    st->Bind(1, user).Bind(2, acked).Bind(3, upto).Bind(4, now_ms);
    if (!(s = st->Run()).ok()) return WriteFailed(s);
  }
  {
    StmtScope st(set_acked_.get());
    st->Bind(1, user).Bind(2, upto);
    if (!(s = st->Run()).ok()) return WriteFailed(s);
  }
  pool_use_.erase(user);  // recounted on the next send to this user
  return Status::Ok();
}

namespace {

// Reads rows (mid, conv_id, sender_id, text, ts) into `rows`; returns how many.
struct Row {
  Mid mid;
  ConvId conv;
  UserId sender;
  std::string text;
  int64_t ts;
};

Status ReadRows(SqliteStmt* st, std::vector<Row>* rows, int* n) {
  Status s;
  *n = 0;
  while (st->Step(&s)) {
    rows->push_back(Row{st->Int(0), st->Int(1), st->Int(2), std::string(st->Text(3)), st->Int(4)});
    ++*n;
  }
  return s;
}

// Runs each query with (user, from, limit) and adds its rows; a query that returned `limit` rows
// may have more, so the page is marked truncated.
Status ReadQueries(SqliteDb* db, std::initializer_list<const char*> sqls, UserId user, Mid from, int limit,
                   std::vector<Row>* rows, bool* truncated) {
  for (const char* sql : sqls) {
    std::unique_ptr<SqliteStmt> st;
    Status s = db->Prepare(sql, &st);
    if (!s.ok()) return s;
    st->Bind(1, user).Bind(2, from).Bind(3, limit);
    int n = 0;
    if (!(s = ReadRows(st.get(), rows, &n)).ok()) return s;
    *truncated = *truncated || n >= limit;
  }
  return Status::Ok();
}

// Sorts `rows` by mid and puts the first of them, at most `limit` and about `max_bytes` (always at
// least one), encoded by `encode`, into `out`; what is left out makes the page incomplete.
template <typename Encode>
Status FillPage(std::vector<Row>* rows, int limit, size_t max_bytes, bool truncated, const Encode& encode,
                FetchResult* out) {
  std::sort(rows->begin(), rows->end(), [](const Row& a, const Row& b) { return a.mid < b.mid; });
  if (static_cast<int>(rows->size()) > limit) {
    rows->resize(static_cast<size_t>(limit));
    truncated = true;
  }
  size_t bytes = 0;
  for (const auto& r : *rows) {
    if (bytes >= max_bytes) {
      truncated = true;  // the next page continues from here
      break;
    }
    StoredMessage m{r.mid, r.ts, r.conv, r.sender, nullptr};
    Status s = encode(r, &m.json);
    if (!s.ok()) return s;
    bytes += m.json->size();
    out->messages.push_back(std::move(m));
  }
  out->complete = !truncated;
  // A truncated page holds at least one row (a query returned `limit`, or bytes cut after the
  // first), so the next page starts past where this one started.
  out->next = out->complete || out->messages.empty() ? out->high_water : out->messages.back().mid;
  return Status::Ok();
}

}  // namespace

Status MessageStore::FetchPending(UserId user, Mid after, int limit, FetchResult* out, size_t max_bytes) {
  out->messages.clear();
  out->high_water = last_mid_;
  Mid acked = 0;
  Status s = AckedUpto(user, &acked);
  if (!s.ok()) return s;
  Mid from = std::max(after, acked);
  std::vector<Row> rows;
  bool truncated = false;
  int n = 0;
  {
    StmtScope st(pending_direct_.get());
    st->Bind(1, user).Bind(2, from).Bind(3, limit);
    if (!(s = ReadRows(pending_direct_.get(), &rows, &n)).ok()) return s;
    truncated = truncated || n >= limit;
  }
  if (!(s = ReadQueries(db_, {kPendingRooms, kPendingBroadcast}, user, from, limit, &rows, &truncated)).ok()) return s;
  return FillPage(&rows, limit, max_bytes, truncated,
                  [this](const Row& r, std::shared_ptr<const std::string>* json) {
                    return EncodeRow(r.mid, r.conv, r.sender, r.text, r.ts, json);
                  },
                  out);
}

Status MessageStore::FetchSince(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes) {
  if (history_->usable()) {
    bool covered = false;
    Status s = FetchSinceFromCache(user, cursor, limit, out, max_bytes, &covered);
    if (s.ok() && covered) return s;
    if (!s.ok() && history_->usable()) return s;  // not the cache's fault
  }
  return FetchSinceFromDb(user, cursor, limit, out, max_bytes);
}

Status MessageStore::SinceRanges(UserId user, Mid cursor, bool rooms_only, std::vector<std::pair<ConvId, Mid>>* out) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(rooms_only ? kUserRooms : kUserConvs, &st);
  if (!s.ok()) return s;
  st->Bind(1, user);
  while (st->Step(&s)) out->emplace_back(st->Int(0), std::max(cursor, st->Int(1)));
  if (!s.ok()) return s;
  StmtScope a(acked_upto_.get());
  a->Bind(1, user);
  Mid joined = 0;
  if (a->Step(&s)) joined = a->Int(1);
  if (!s.ok()) return s;
  out->emplace_back(kBroadcastConv, std::max(cursor, joined));
  return Status::Ok();
}

Status MessageStore::FetchSinceFromDb(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes) {
  out->messages.clear();
  out->high_water = last_mid_;
  std::vector<std::pair<ConvId, Mid>> ranges;
  Status s = SinceRanges(user, cursor, false, &ranges);
  if (!s.ok()) return s;
  // One indexed range per conversation (messages_conv), each at most `limit` rows and, once
  // `limit` rows are in hand, only rows below the limit-th: a device far behind costs a page,
  // not a scan of everything it missed.
  std::unique_ptr<SqliteStmt> st;
  if (!(s = db_->Prepare(kConvAfter, &st)).ok()) return s;
  std::vector<Row> rows;
  bool truncated = false;
  Mid bound = std::numeric_limits<Mid>::max();
  for (const auto& [conv, from] : ranges) {
    if (from + 1 >= bound) continue;
    st->Reset();
    st->Bind(1, conv).Bind(2, from).Bind(3, bound).Bind(4, limit);
    int n = 0;
    if (!(s = ReadRows(st.get(), &rows, &n)).ok()) return s;
    truncated = truncated || n >= limit;
    if (static_cast<int>(rows.size()) > limit) {
      std::nth_element(rows.begin(), rows.begin() + limit, rows.end(),
                       [](const Row& a, const Row& b) { return a.mid < b.mid; });
      rows.resize(static_cast<size_t>(limit));
      truncated = true;
      bound = std::max_element(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.mid < b.mid; })->mid;
      bound += 1;  // rows below it may still displace ones we hold; at it or above, never
    }
  }
  return FillPage(&rows, limit, max_bytes, truncated,
                  [this](const Row& r, std::shared_ptr<const std::string>* json) {
                    return EncodeRow(r.mid, r.conv, r.sender, r.text, r.ts, json);
                  },
                  out);
}

Status MessageStore::FetchSinceFromCache(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes,
                                         bool* covered) {
  // The cache answers only a page it provably holds all of: nothing of this batch is still
  // staged (SQLite has those rows already; the cache gets them at commit), and no range starts
  // below the retention floor of what it reads. Otherwise *covered stays false and SQLite
  // answers the page; later pages, past the floors, come from the cache again.
  *covered = false;
  out->messages.clear();
  out->high_water = last_mid_;
  if (history_->high_water() < last_mid_) return Status::Ok();
  bool truncated = false;
  std::vector<StoredMessage> found;
  // 1:1 conversations through the per-user index.
  Mid floor = 0;
  Status s = history_->UserIndexFloor(user, &floor);
  if (!s.ok()) return s;
  if (cursor + 1 < floor) return Status::Ok();
  std::vector<std::pair<Mid, ConvId>> idx;
  if (!(s = history_->UserIndex(user, cursor, limit, &idx)).ok()) return s;
  truncated = static_cast<int>(idx.size()) >= limit;
  for (const auto& [mid, conv] : idx) {
    HistoryCache::Entry e;
    s = history_->Get(conv, mid, &e);
    if (s.code() == util::Code::kNotFound) return Status::Ok();  // the conversation was trimmed past it
    if (!s.ok()) return s;
    found.push_back(StoredMessage{mid, e.ts, conv, 0, std::make_shared<const std::string>(std::move(e.json))});
  }
  // Rooms and the broadcast feed through their conversation ranges.
  std::vector<std::pair<ConvId, Mid>> ranges;
  if (!(s = SinceRanges(user, cursor, true, &ranges)).ok()) return s;
  for (const auto& [conv, from] : ranges) {
    if (!(s = history_->Floor(conv, &floor)).ok()) return s;
    if (from + 1 < floor) return Status::Ok();
    std::vector<HistoryCache::Entry> entries;
    if (!(s = history_->Range(conv, from, limit, &entries)).ok()) return s;
    truncated = truncated || static_cast<int>(entries.size()) >= limit;
    for (auto& e : entries) {
      found.push_back(StoredMessage{e.mid, e.ts, conv, 0, std::make_shared<const std::string>(std::move(e.json))});
    }
  }
  std::sort(found.begin(), found.end(), [](const StoredMessage& a, const StoredMessage& b) { return a.mid < b.mid; });
  if (static_cast<int>(found.size()) > limit) {
    found.resize(static_cast<size_t>(limit));
    truncated = true;
  }
  size_t bytes = 0;
  for (size_t i = 0; i < found.size(); ++i) {
    if (bytes >= max_bytes) {
      found.resize(i);
      truncated = true;
      break;
    }
    bytes += found[i].json->size();
  }
  out->messages = std::move(found);
  out->complete = !truncated;
  // A truncated page always holds at least one message (a source returned `limit`, or bytes
  // cut after the first), so the next page starts past the cursor.
  out->next = out->complete ? last_mid_ : out->messages.back().mid;
  *covered = true;
  return Status::Ok();
}

Status MessageStore::History(const UserInfo& user, const std::string& with, const std::string& room, Mid before,
                             int limit, HistoryResult* out, size_t max_bytes) {
  out->messages.clear();
  out->more = false;
  ConvId conv = 0;
  if (!room.empty()) {
    RoomInfo info;
    Status s = FindRoom(room, &info);
    if (!s.ok()) return s;
    if (!IsMember(info.members, user.id)) return Status::Forbidden("join #" + info.name + " to read its history");
    conv = info.conv;
  } else if (with == "*") {
    conv = kBroadcastConv;
  } else {
    UserRecord peer;
    Status s = accounts_->FindUser(with, &peer);
    if (s.code() == util::Code::kNotFound) return Status::NotFound("no user '" + with + "'");
    if (!s.ok()) return s;
    s = DirectConv(user.id, peer.info.id, false, 0, &conv);
    if (s.code() == util::Code::kNotFound) return Status::Ok();  // never talked: empty history
    if (!s.ok()) return s;
  }
  std::vector<HistoryCache::Entry> page;
  Status s = history_->usable() ? history_->Page(conv, before, limit + 1, &page) : Status::Ok();
  if (!s.ok()) {
    if (history_->usable()) return s;
    page.clear();  // an untrusted cache: the whole page comes from SQLite
  }
  std::vector<std::shared_ptr<const std::string>> newest_first;
  for (auto& e : page) newest_first.push_back(std::make_shared<const std::string>(std::move(e.json)));
  if (static_cast<int>(page.size()) < limit + 1) {
    // Older than the cache keeps: SQLite has it (unless purged).
    Mid below = page.empty() ? (before > 0 ? before : last_mid_ + 1) : page.back().mid;
    std::unique_ptr<SqliteStmt> st;
    if (!(s = db_->Prepare(kOlderInConv, &st)).ok()) return s;
    st->Bind(1, conv).Bind(2, below).Bind(3, limit + 1 - static_cast<int>(page.size()));
    std::vector<Row> rows;
    int n = 0;
    if (!(s = ReadRows(st.get(), &rows, &n)).ok()) return s;
    for (const auto& r : rows) {
      std::shared_ptr<const std::string> json;
      if (!(s = EncodeRow(r.mid, r.conv, r.sender, r.text, r.ts, &json)).ok()) return s;
      newest_first.push_back(std::move(json));
    }
  }
  if (static_cast<int>(newest_first.size()) > limit) {
    newest_first.resize(static_cast<size_t>(limit));
    out->more = true;
  }
  // The newest are kept (the client pages on from the oldest it got).
  size_t bytes = 0;
  for (size_t i = 0; i < newest_first.size(); ++i) {
    if (bytes >= max_bytes) {
      newest_first.resize(i);
      out->more = true;
      break;
    }
    bytes += newest_first[i]->size();
  }
  out->messages.assign(newest_first.rbegin(), newest_first.rend());
  return Status::Ok();
}

Status MessageStore::CatchUpHistory(int64_t* copied) {
  *copied = 0;
  if (!history_->usable()) return Status::Unavailable("history cache is not trusted: " + history_->problem());
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kMessagesAfter, &st);
  if (!s.ok()) return s;
  Mid after = history_->high_water();
  for (;;) {
    st->Reset();
    st->Bind(1, after).Bind(2, kCatchUpChunk);
    std::vector<Row> rows;
    int n = 0;
    if (!(s = ReadRows(st.get(), &rows, &n)).ok()) return s;
    if (rows.empty()) break;
    for (const auto& r : rows) {
      std::shared_ptr<const std::string> json;
      if (!(s = EncodeRow(r.mid, r.conv, r.sender, r.text, r.ts, &json)).ok()) return s;
      UserId a = 0, b = 0;
      auto users = conv_users_.find(r.conv);
      if (users != conv_users_.end()) {
        a = users->second.first;
        b = users->second.second;
        touched_users_.insert(a);
        touched_users_.insert(b);
      }
      history_->Put(r.conv, r.mid, r.ts, *json, a, b);
      touched_convs_.insert(r.conv);
      after = r.mid;
    }
    if (!(s = history_->Flush()).ok()) return s;
    *copied += n;
    if (n < kCatchUpChunk) break;
  }
  if (history_->high_water() < last_mid_) {
    // The newest mids are gone from SQLite (purged): the cache has everything there is.
    history_->AdvanceHighWater(last_mid_);
    if (!(s = history_->Flush()).ok()) return s;
  }
  if (*copied > 0) return TrimHistory(0);
  return Status::Ok();
}

Status MessageStore::TrimHistory(int64_t now_ms) {
  int64_t min_ts = limits_.history_max_days > 0 && now_ms > 0 ? now_ms - limits_.history_max_days * kDayMs : 0;
  for (ConvId conv : touched_convs_) {
    Status s = history_->Trim(conv, limits_.history_max_messages, min_ts);
    if (!s.ok()) return s;
  }
  for (UserId user : touched_users_) {
    Status s = history_->TrimUserIndex(user, limits_.history_max_messages * 4);
    if (!s.ok()) return s;
  }
  touched_convs_.clear();
  touched_users_.clear();
  return Status::Ok();
}

}  // namespace chatd::store
