// SPDX-License-Identifier: MIT
#include "store/message_store.h"

#include <algorithm>
#include <map>

#include "proto/frames.h"
#include "proto/names.h"
#include "store/dedupe.h"
#include "store/directory.h"
#include "store/history_cache.h"
#include "store/inbox.h"
#include "store/message_rows.h"
#include "store/webhook_queue.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kInsertMessage =
    "INSERT INTO messages (mid, conv_id, sender_id, cid, text, ts, recipient_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kPoolUsage =
    "SELECT count(*), coalesce(sum(length(CAST(m.text AS BLOB))), 0) FROM deliveries d "
    "JOIN messages m ON m.mid = d.mid "
    "WHERE d.user_id = ?1 AND d.mid > (SELECT acked_upto FROM users WHERE id = ?1)";
constexpr const char* kMarks = "SELECT acked_upto, joined_mid FROM users WHERE id = ?1";
constexpr const char* kOlderInConv =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM messages m WHERE m.conv_id = ?1 AND m.mid < ?2 ORDER BY m.mid DESC LIMIT ?3";
constexpr const char* kMessagesAfter =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM messages m WHERE m.mid > ?1 ORDER BY m.mid LIMIT ?2";
constexpr const char* kInsertNotification =
    "INSERT INTO messages (mid, conv_id, sender_id, cid, text, ts, kind, title, data) "
    "VALUES (?1, ?2, 0, ?3, ?4, ?5, 1, ?6, ?7)";
constexpr const char* kInsertNotice = "INSERT INTO deliveries (user_id, mid, notice) VALUES (?1, ?2, 1)";
constexpr const char* kRecipientsOf =
    "SELECT d.user_id, coalesce(u.name, '(deleted)'), coalesce(d.delivered_at, 0), coalesce(d.read_at, 0) "
    "FROM deliveries d LEFT JOIN users u ON u.id = d.user_id WHERE d.mid = ?1 ORDER BY u.name LIMIT 1000";
// A user's conversations by their newest message (rooms: since the user joined), then those
// with none. One index probe of messages_conv per conversation.
constexpr const char* kConversations =
    "SELECT c.kind, c.user_a, c.user_b, c.name, c.is_private, "
    "(SELECT max(m.mid) FROM messages m WHERE m.conv_id = c.id AND m.mid > mb.joined_mid) AS last "
    "FROM members mb JOIN conversations c ON c.id = mb.conv_id WHERE mb.user_id = ?1 AND c.kind IN (1, 2) "
    "ORDER BY last IS NULL, last DESC, c.id LIMIT ?2";
constexpr const char* kMessageByMid = "SELECT " CHATD_MESSAGE_COLUMNS " FROM messages m WHERE m.mid = ?1";
constexpr const char* kMessageInfo =
    "SELECT m.conv_id, m.sender_id, c.kind FROM messages m JOIN conversations c ON c.id = m.conv_id WHERE m.mid = ?1";
constexpr const char* kOlderNotices =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM deliveries d JOIN messages m ON m.mid = d.mid "
    "WHERE d.user_id = ?1 AND d.notice = 1 AND d.mid < ?2 ORDER BY d.mid DESC LIMIT ?3";
// Rooms and broadcasts keep no row per recipient: their marks say it (acked_upto: a device has
// it; read_upto / broadcast_read: read). Members who joined after the message are not asked.
constexpr const char* kRoomStatus =
    "SELECT u.name, u.acked_upto >= ?2, mb.read_upto >= ?2 FROM members mb JOIN users u ON u.id = mb.user_id "
    "WHERE mb.conv_id = ?1 AND mb.joined_mid < ?2 AND mb.user_id != ?3 ORDER BY u.name LIMIT 1000";
constexpr const char* kEveryoneStatus =
    "SELECT name, acked_upto >= ?1, broadcast_read >= ?1 FROM users WHERE joined_mid < ?1 AND id != ?2 "
    "ORDER BY name LIMIT 1000";
// The highest mid ever given out, also when a purge removed it.
constexpr const char* kLastMid =
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), "
    "           coalesce((SELECT max(mid) FROM messages), 0))";

constexpr int kCatchUpChunk = 10000;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr size_t kMaxPoolUsers = 100000;

}  // namespace

Status MessageStore::Open(SqliteDb* db, Directory* directory, HistoryCache* history, BatchError* errors,
                          MessageLimits limits, int64_t now_ms, std::unique_ptr<MessageStore>* out) {
  std::unique_ptr<MessageStore> m(new MessageStore(db, directory, history, errors, limits));
  Status s = m->Prepare(now_ms);  // the Inbox and the dedupe window read their state here
  if (!s.ok()) return s;
  if (!(s = m->LoadLastMid()).ok()) return s;
  *out = std::move(m);
  return Status::Ok();
}

MessageStore::MessageStore(SqliteDb* db, Directory* directory, HistoryCache* history, BatchError* errors,
                           MessageLimits limits)
    : db_(db), directory_(directory), history_(history), errors_(errors), limits_(limits) {}

MessageStore::~MessageStore() = default;

Status MessageStore::Prepare(int64_t now_ms) {
  Status s = Inbox::Open(db_, errors_, &inbox_);
  if (!s.ok()) return s;
  Dedupe::Window window{limits_.dedupe_days, limits_.dedupe_max_entries};
  if (!(s = Dedupe::Open(db_, window, now_ms, &dedupe_)).ok()) return s;
  return db_->PrepareAll({{&insert_message_, kInsertMessage},
                          {&pool_usage_, kPoolUsage},
                          {&marks_, kMarks},
                          {&older_in_conv_, kOlderInConv},
                          {&insert_notification_, kInsertNotification},
                          {&insert_notice_, kInsertNotice},
                          {&recipients_of_, kRecipientsOf},
                          {&message_info_, kMessageInfo},
                          {&older_notices_, kOlderNotices},
                          {&room_status_, kRoomStatus},
                          {&everyone_status_, kEveryoneStatus},
                          {&conversations_, kConversations},
                          {&message_by_mid_, kMessageByMid}});
}

Status MessageStore::LoadLastMid() {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kLastMid, &st);
  if (!s.ok()) return s;
  if (!st->Step(&s)) return s;
  last_mid_ = st->Int(0);
  return Status::Ok();
}

Status MessageStore::Reload() {
  Status s = LoadLastMid();
  if (!s.ok()) return s;
  pool_use_.clear();
  history_->Discard();
  return inbox_->Reload();
}

Status MessageStore::FoldPool() { return fold_pending() ? inbox_->Fold(last_mid_) : Status::Ok(); }

Status MessageStore::FoldPoolFor(UserId user) { return inbox_->Holds(user) ? FoldPool() : Status::Ok(); }

size_t MessageStore::pool_waiting() const { return inbox_->waiting(); }

bool MessageStore::fold_pending() const { return !inbox_->empty() || inbox_->folded() < last_mid_; }

Status MessageStore::PoolUsage(UserId user, int64_t* count, int64_t* bytes) {
  auto it = pool_use_.find(user);
  if (it == pool_use_.end()) {
    Status f = FoldPoolFor(user);  // once per user and run: counted from the folded pool
    if (!f.ok()) return f;
    StmtScope st(pool_usage_.get());
    st->Bind(1, user);
    Status s;
    if (!st->Step(&s)) return s.ok() ? Status::Internal("pool usage") : s;
    if (pool_use_.size() >= kMaxPoolUsers) pool_use_.clear();
    it = pool_use_.emplace(user, PoolUse{st->Int(0), st->Int(1)}).first;
  }
  *count = it->second.count;
  *bytes = it->second.bytes;
  return Status::Ok();
}

Status MessageStore::Insert(Mid mid, ConvId conv, const SendRequest& req, UserId recipient) {
  StmtScope st(insert_message_.get());
  st->Bind(1, mid).Bind(2, conv).Bind(3, req.sender.id).Bind(4, req.cid).Bind(5, req.text).Bind(6, req.ts);
  if (recipient != 0) st->Bind(7, recipient); else st->BindNull(7);
  Status s = st->Run();
  if (!s.ok()) return errors_->Record(s);
  dedupe_->Add(req.sender.id, req.cid, mid, req.ts);
  return s;
}

Status MessageStore::Send(const SendRequest& req, bool storage_full, int64_t now_ms, SendResult* out) {
  *out = SendResult{};
  // A resend of something already stored gets the same answer, and nothing else happens.
  {
    Status s = dedupe_->Find(req.sender.id, req.cid, &out->dup, &out->mid, &out->ts);
    if (!s.ok() || out->dup) return s;
  }
  directory_->Remember(req.sender);
  if (!req.room.empty()) {
    RoomInfo room;
    Status s = directory_->FindRoom(req.room, &room);
    if (!s.ok()) return s;
    if (!Directory::IsMember(room.members, req.sender.id)) return Status::Forbidden("join #" + room.name + " first");
    if (storage_full) return Status::StorageFull("the server is out of disk space; try again later");
    Mid mid = last_mid_ + 1;
    if (!(s = Insert(mid, room.conv, req, 0)).ok()) return s;
    last_mid_ = mid;
    out->json = std::make_shared<const std::string>(
        proto::EncodeMessage({mid, req.sender.name, "", room.name, req.text, req.ts}));
    history_->Put(room.conv, mid, req.ts, *out->json);
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
    if (!MayBroadcast(req.sender)) return BroadcastRefused();
  } else {
    Status s = directory_->FindUser(req.to, &recipient);
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
    Status s = directory_->DirectConv(req.sender.id, recipient.id, true, now_ms, &conv);
    if (!s.ok()) return s;
  }
  Mid mid = last_mid_ + 1;
  Status s = Insert(mid, conv, req, broadcast ? 0 : recipient.id);
  if (!s.ok()) return s;
  if (!broadcast) {
    inbox_->Add(recipient.id, mid, req.sender.id, bytes, conv);  // its deliveries row comes with the fold
    auto& use = pool_use_[recipient.id];
    use.count += 1;
    use.bytes += bytes;
    directory_->Remember(recipient);
    if (webhooks_ && recipient.id != req.sender.id &&
        !(s = webhooks_->AddCheck(recipient.id, mid, now_ms + undelivered_after_ms_)).ok()) {
      return s;
    }
  }
  last_mid_ = mid;
  if (!(s = directory_->EncodeMessage(mid, conv, req.sender.id, req.text, req.ts, &out->json)).ok()) return s;
  history_->Put(conv, mid, req.ts, *out->json);
  touched_convs_.insert(conv);
  out->mid = mid;
  out->ts = req.ts;
  out->kind = broadcast ? ConvKind::kBroadcast : ConvKind::kDirect;
  out->conv = conv;
  out->recipient = recipient;
  return Status::Ok();
}

Status MessageStore::Marks(UserId user, Mid* acked_upto, Mid* joined_mid) {
  StmtScope st(marks_.get());
  st->Bind(1, user);
  Status s;
  if (!st->Step(&s)) return s.ok() ? Status::NotFound("no such user") : s;
  *acked_upto = inbox_->Cursor(user, st->Int(0));  // raised by acks not folded yet
  *joined_mid = st->Int(1);
  return Status::Ok();
}

Status MessageStore::Ack(UserId user, Mid upto, int64_t now_ms, std::vector<std::pair<UserId, Mid>>* delivered) {
  if (delivered) delivered->clear();
  upto = std::min(upto, last_mid_);
  Mid acked = 0, joined = 0;
  Status s = Marks(user, &acked, &joined);
  if (!s.ok()) return s;
  if (upto <= acked) return Status::Ok();
  // One appended marks row; the rows it covers are marked delivered by the fold.
  Inbox::Covered covered;
  if (!(s = inbox_->Ack(user, acked, upto, now_ms, &covered)).ok()) return s;
  if (delivered) delivered->assign(covered.newest.begin(), covered.newest.end());
  if (auto use = pool_use_.find(user); use != pool_use_.end()) {
    // The rows the ack covered leave the count: as many as the ack touched, not the whole pool.
    use->second.count = std::max<int64_t>(0, use->second.count - covered.count);
    use->second.bytes = std::max<int64_t>(0, use->second.bytes - covered.bytes);
  }
  return Status::Ok();
}

Status MessageStore::Conversations(UserId user, int limit, std::vector<ConversationSummary>* out) {
  out->clear();
  std::vector<UserId> peers;  // named once the statement is done (NameOf runs one of its own)
  Status s;
  {
    StmtScope st(conversations_.get());
    st->Bind(1, user).Bind(2, static_cast<int64_t>(limit));
    while (st->Step(&s)) {
      ConversationSummary c;
      if (static_cast<ConvKind>(st->Int(0)) == ConvKind::kRoom) {
        c.room = std::string(st->Text(3));
        c.is_private = st->Int(4) != 0;
      } else {
      }
      peers.push_back(c.room.empty() ? (st->Int(1) == user ? st->Int(2) : st->Int(1)) : 0);
      c.last_mid = st->Int(5);
      out->push_back(std::move(c));
    }
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < out->size(); ++i) {
    ConversationSummary& c = (*out)[i];
    if (peers[i] != 0 && !(s = directory_->NameOf(peers[i], &c.with)).ok()) return s;
    if (c.last_mid == 0) continue;
    StmtScope st(message_by_mid_.get());
    st->Bind(1, c.last_mid);
    std::vector<MessageRow> rows;
    int n = 0;
    if (!(s = ReadMessageRows(message_by_mid_.get(), &rows, &n)).ok()) return s;
    if (rows.empty()) continue;  // purged meanwhile
    if (!(s = directory_->EncodeRow(rows.front(), &c.last)).ok()) return s;
  }
  return Status::Ok();
}

Status MessageStore::History(const UserInfo& user, const std::string& with, const std::string& room, Mid before,
                             int limit, HistoryResult* out, size_t max_bytes) {
  out->messages.clear();
  out->more = false;
  ConvId conv = 0;
  std::vector<std::shared_ptr<const std::string>> newest_first;
  Status s;
  if (room == proto::kNotificationFeed) {
    if (!(s = NotificationHistory(user, before, limit, &newest_first)).ok()) return s;
  } else if (!room.empty()) {
    RoomInfo info;
    if (!(s = directory_->FindRoom(room, &info)).ok()) return s;
    if (!Directory::IsMember(info.members, user.id)) return Status::Forbidden("join #" + info.name + " to read its history");
    conv = info.conv;
  } else if (with == "*") {
    conv = kBroadcastConv;
  } else {
    UserInfo peer;
    if (!(s = directory_->FindUser(with, &peer)).ok()) return s;
    s = directory_->DirectConv(user.id, peer.id, false, 0, &conv);
    if (s.code() == util::Code::kNotFound) return Status::Ok();  // never talked: empty history
    if (!s.ok()) return s;
  }
  std::vector<HistoryCache::Entry> page;
  if (conv != 0) {
    s = history_->usable() ? history_->Page(conv, before, limit + 1, &page) : Status::Ok();
    if (!s.ok()) {
      if (history_->usable()) return s;
      page.clear();  // an untrusted cache: the whole page comes from SQLite
    }
  }
  for (auto& e : page) newest_first.push_back(std::make_shared<const std::string>(std::move(e.json)));
  if (conv != 0 && static_cast<int>(page.size()) < limit + 1) {
    // Older than the cache keeps: SQLite has it (unless purged).
    Mid below = page.empty() ? (before > 0 ? before : last_mid_ + 1) : page.back().mid;
    StmtScope st(older_in_conv_.get());
    st->Bind(1, conv).Bind(2, below).Bind(3, limit + 1 - static_cast<int>(page.size()));
    std::vector<MessageRow> rows;
    int n = 0;
    if (!(s = ReadMessageRows(older_in_conv_.get(), &rows, &n)).ok()) return s;
    for (const auto& r : rows) {
      std::shared_ptr<const std::string> json;
      if (!(s = directory_->EncodeRow(r, &json)).ok()) return s;
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

Status MessageStore::NotificationHistory(const UserInfo& user, Mid before, int limit,
                                         std::vector<std::shared_ptr<const std::string>>* newest_first) {
  // Two indexed ranges (the broadcast feed, the user's notice rows), each newest limit + 1,
  // merged: the newest limit + 1 of both.
  Mid below = before > 0 ? before : last_mid_ + 1;
  std::vector<MessageRow> rows;
  int n = 0;
  Status s;
  for (SqliteStmt* st : {older_in_conv_.get(), older_notices_.get()}) {
    StmtScope scope(st);
    st->Bind(1, st == older_in_conv_.get() ? kBroadcastConv : user.id).Bind(2, below).Bind(3, limit + 1);
    if (!(s = ReadMessageRows(st, &rows, &n)).ok()) return s;
  }
  std::sort(rows.begin(), rows.end(), [](const MessageRow& a, const MessageRow& b) { return a.mid > b.mid; });
  if (static_cast<int>(rows.size()) > limit + 1) rows.resize(static_cast<size_t>(limit + 1));
  for (const auto& r : rows) {
    std::shared_ptr<const std::string> json;
    if (!(s = directory_->EncodeRow(r, &json)).ok()) return s;
    newest_first->push_back(std::move(json));
  }
  return Status::Ok();
}

Status MessageStore::PublishRecipients(const PublishRequest& req, std::vector<UserInfo>* recipients,
                                       std::vector<std::string>* unknown) {
  Status s;
  if (!req.room.empty()) {
    RoomInfo room;
    if (!(s = directory_->FindRoom(req.room, &room)).ok()) return s;
    for (UserId id : *room.members) {
      UserInfo u;
      u.id = id;
      if (!(s = directory_->NameOf(id, &u.name)).ok()) return s;
      recipients->push_back(std::move(u));
    }
    return Status::Ok();
  }
  for (const auto& name : req.to) {
    UserInfo u;
    s = directory_->FindUser(name, &u);
    if (s.code() == util::Code::kNotFound) {
      unknown->push_back(name);
      continue;
    }
    if (!s.ok()) return s;
    recipients->push_back(std::move(u));
  }
  std::sort(recipients->begin(), recipients->end(), [](const UserInfo& a, const UserInfo& b) { return a.id < b.id; });
  recipients->erase(std::unique(recipients->begin(), recipients->end(),
                                [](const UserInfo& a, const UserInfo& b) { return a.id == b.id; }),
                    recipients->end());
  if (unknown->empty()) return Status::Ok();
  std::string names;
  for (size_t i = 0; i < unknown->size() && i < 5; ++i) names += (i ? ", '" : "'") + (*unknown)[i] + "'";
  if (unknown->size() > 5) names += " and " + std::to_string(unknown->size() - 5) + " more";
  return Status::NotFound("no such user" + std::string(unknown->size() > 1 ? "s: " : ": ") + names +
                          " (publish with \"create\":true to make them)");
}

Status MessageStore::Publish(const PublishRequest& req, const std::string& key_name, bool storage_full,
                             PublishResult* out) {
  *out = PublishResult{};
  out->key_name = key_name;
  out->everyone = req.everyone;
  // A site's cid is its own per key; without one, the mid makes the row's cid unique.
  std::string cid = req.cid.empty() ? std::string() : "pub:" + key_name + ":c:" + req.cid;
  Status s;
  if (!cid.empty() && !(s = dedupe_->Find(0, cid, &out->dup, &out->mid, &out->ts)).ok()) return s;
  if (out->dup) {
    {
      StmtScope info(message_info_.get());
      info->Bind(1, out->mid);
      if (info->Step(&s)) out->everyone = info->Int(0) == kBroadcastConv;
      if (!s.ok()) return s;
    }
    StmtScope st(recipients_of_.get());
    st->Bind(1, out->mid);
    while (st->Step(&s)) out->recipients.push_back(UserInfo{st->Int(0), std::string(st->Text(1)), false});
    return s;
  }
  // A publish writes its deliveries rows itself (one per recipient: it is not the 1:1 hot
  // path), so everything before it is folded first and the fold mark moves past it.
  if (!(s = FoldPool()).ok()) return s;
  std::vector<UserInfo> wanted;
  if (!req.everyone && !(s = PublishRecipients(req, &wanted, &out->unknown)).ok()) return s;
  int64_t bytes = static_cast<int64_t>(req.text.size() + req.title.size() + req.data.size());
  for (auto& u : wanted) {
    int64_t count = 0, used = 0;
    if (!(s = PoolUsage(u.id, &count, &used)).ok()) return s;
    if (count + 1 > limits_.pool_max_messages || used + bytes > limits_.pool_max_bytes) {
      out->refused.push_back(u.name);
    } else {
      out->recipients.push_back(std::move(u));
    }
  }
  if (!wanted.empty() && out->recipients.empty()) {
    return Status::QuotaExceeded(wanted.size() == 1 ? wanted[0].name + " has too many undelivered messages waiting"
                                                    : "every recipient has too many undelivered messages waiting");
  }
  if (storage_full) return Status::StorageFull("the server is out of disk space; try again later");

  Mid mid = last_mid_ + 1;
  ConvId conv = req.everyone ? kBroadcastConv : directory_->notification_conv();
  if (cid.empty()) cid = "pub:" + key_name + ":m:" + std::to_string(mid);
  {
    StmtScope st(insert_notification_.get());
    st->Bind(1, mid).Bind(2, conv).Bind(3, cid).Bind(4, req.text).Bind(5, req.ts);
    if (req.title.empty()) st->BindNull(6); else st->Bind(6, req.title);
    if (req.data.empty()) st->BindNull(7); else st->Bind(7, req.data);
    if (!(s = st->Run()).ok()) return errors_->Record(s);
  }
  dedupe_->Add(0, cid, mid, req.ts);
  for (const auto& u : out->recipients) {
    StmtScope st(insert_notice_.get());
    st->Bind(1, u.id).Bind(2, mid);
    if (!(s = st->Run()).ok()) return errors_->Record(s);
    auto& use = pool_use_[u.id];
    use.count += 1;
    use.bytes += bytes;
    directory_->Remember(u);
    if (webhooks_ && !(s = webhooks_->AddCheck(u.id, mid, req.ts + undelivered_after_ms_)).ok()) return s;
  }
  last_mid_ = mid;
  if (!(s = inbox_->Advance(mid)).ok()) return s;
  out->json = std::make_shared<const std::string>(proto::EncodeNotification({mid, req.title, req.text, req.data, req.ts}));
  if (req.everyone) {
    history_->Put(conv, mid, req.ts, *out->json);
    touched_convs_.insert(conv);
  } else {
    history_->AdvanceHighWater(mid);  // per-user notifications are read from SQLite
  }
  out->mid = mid;
  out->ts = req.ts;
  return Status::Ok();
}

Status MessageStore::DeliveryStatus(Mid mid, DeliveryReport* out) {
  *out = DeliveryReport{};
  out->mid = mid;
  ConvId conv = 0;
  UserId sender = 0;
  ConvKind kind = ConvKind::kDirect;
  Status s = FoldPool();  // deliveries rows and acks up to now
  if (!s.ok()) return s;
  {
    StmtScope info(message_info_.get());
    info->Bind(1, mid);
    if (!info->Step(&s)) return s.ok() ? Status::NotFound("no message " + std::to_string(mid)) : s;
    conv = info->Int(0);
    sender = info->Int(1);
    kind = static_cast<ConvKind>(info->Int(2));
  }
  if (kind == ConvKind::kDirect || kind == ConvKind::kNotifications) {
    StmtScope st(recipients_of_.get());
    st->Bind(1, mid);
    while (st->Step(&s)) {
      RecipientStatus r;
      r.user = std::string(st->Text(1));
      r.delivered_at = st->Int(2);
      r.read_at = st->Int(3);
      r.delivered = r.delivered_at > 0;
      r.read = r.read_at > 0;
      out->recipients.push_back(std::move(r));
    }
    return s;
  }
  SqliteStmt* st = kind == ConvKind::kRoom ? room_status_.get() : everyone_status_.get();
  StmtScope scope(st);
  if (kind == ConvKind::kRoom) {
    st->Bind(1, conv).Bind(2, mid).Bind(3, sender);
  } else {
    st->Bind(1, mid).Bind(2, sender);
  }
  while (st->Step(&s)) {
    RecipientStatus r;
    r.user = std::string(st->Text(0));
    r.delivered = st->Int(1) != 0;
    r.read = st->Int(2) != 0;
    out->recipients.push_back(std::move(r));
  }
  return s;
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
    std::vector<MessageRow> rows;
    int n = 0;
    if (!(s = ReadMessageRows(st.get(), &rows, &n)).ok()) return s;
    if (rows.empty()) break;
    for (const auto& r : rows) {
      after = r.mid;
      if (r.conv == directory_->notification_conv()) {
        history_->AdvanceHighWater(r.mid);  // per-user notifications are read from SQLite
        continue;
      }
      std::shared_ptr<const std::string> json;
      if (!(s = directory_->EncodeRow(r, &json)).ok()) return s;
      history_->Put(r.conv, r.mid, r.ts, *json);
      touched_convs_.insert(r.conv);
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
  touched_convs_.clear();
  return Status::Ok();
}

}  // namespace chatd::store
