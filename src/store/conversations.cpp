// SPDX-License-Identifier: MIT
//
// MessageStore, second part: rooms (join/leave/invite), read markers and unread counts.
// Room rules (docs/protocol.md): joining a room that does not exist creates it, owned by the
// joiner, public unless asked private; anyone may join a public room; a private room needs an
// invitation from a member; only members may send to a room or read its history.
#include <algorithm>
#include <cctype>

#include "store/accounts.h"
#include "store/message_store.h"

namespace chatd::store {

using util::Status;

namespace {

constexpr const char* kFindRoom =
    "SELECT id, name, is_private FROM conversations WHERE kind = 2 AND name = ?1";
constexpr const char* kMembers = "SELECT user_id FROM members WHERE conv_id = ?1 ORDER BY user_id";
constexpr const char* kUserConvs =
    "SELECT c.id, c.kind, c.user_a, c.user_b, c.name, c.is_private, mb.read_upto, mb.joined_mid, "
    "  (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.conv_id = c.id "
    "     AND m.mid > max(mb.read_upto, mb.joined_mid) AND m.sender_id != ?1 LIMIT 1000)) "
    "FROM members mb JOIN conversations c ON c.id = mb.conv_id WHERE mb.user_id = ?1";
constexpr const char* kBroadcastUnread =
    "SELECT count(*) FROM (SELECT 1 FROM messages m, users u WHERE u.id = ?1 AND m.conv_id = 1 "
    "  AND m.mid > max(u.broadcast_read, u.joined_mid) AND m.sender_id != ?1 LIMIT 1000)";
constexpr const char* kRoomsOwned = "SELECT count(*) FROM conversations WHERE kind = 2 AND owner_id = ?1";
constexpr const char* kIsInvited = "SELECT 1 FROM invites WHERE conv_id = ?1 AND user_id = ?2";
constexpr const char* kInsertInvite =
    "INSERT OR REPLACE INTO invites (conv_id, user_id, invited_by, created_at) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kDeleteMember = "DELETE FROM members WHERE user_id = ?1 AND conv_id = ?2";
constexpr const char* kReadMarker = "SELECT read_upto FROM members WHERE user_id = ?1 AND conv_id = ?2";
constexpr const char* kSetReadMarker = "UPDATE members SET read_upto = ?3 WHERE user_id = ?1 AND conv_id = ?2";
constexpr const char* kMarkRead =
    "UPDATE deliveries SET read_at = ?4, delivered_at = coalesce(delivered_at, ?4) "
    "WHERE user_id = ?1 AND mid > ?2 AND mid <= ?3 AND read_at IS NULL "
    "AND mid IN (SELECT mid FROM messages WHERE conv_id = ?5 AND mid > ?2 AND mid <= ?3)";
constexpr const char* kBroadcastRead = "SELECT broadcast_read FROM users WHERE id = ?1";
constexpr const char* kSetBroadcastRead = "UPDATE users SET broadcast_read = ?2 WHERE id = ?1";

std::string Lower(const std::string& s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status PrepareRun(SqliteDb* db, const char* sql, std::unique_ptr<SqliteStmt>* st) { return db->Prepare(sql, st); }

}  // namespace

bool MessageStore::IsMember(const MemberList& members, UserId user) {
  return members && std::binary_search(members->begin(), members->end(), user);
}

Status MessageStore::LoadMembers(ConvId conv, MemberList* out) {
  std::unique_ptr<SqliteStmt> st;
  Status s = PrepareRun(db_, kMembers, &st);
  if (!s.ok()) return s;
  st->Bind(1, conv);
  auto list = std::make_shared<std::vector<UserId>>();
  while (st->Step(&s)) list->push_back(st->Int(0));
  if (!s.ok()) return s;
  *out = std::move(list);
  return Status::Ok();
}

Status MessageStore::FindRoom(const std::string& name, RoomInfo* out) {
  std::string key = Lower(name);
  auto it = rooms_.find(key);
  if (it != rooms_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  std::unique_ptr<SqliteStmt> st;
  Status s = PrepareRun(db_, kFindRoom, &st);
  if (!s.ok()) return s;
  st->Bind(1, name);
  if (!st->Step(&s)) return s.ok() ? Status::NotFound("no room #" + name) : s;
  RoomInfo info;
  info.conv = st->Int(0);
  info.name = std::string(st->Text(1));
  info.is_private = st->Int(2) != 0;
  if (!(s = LoadMembers(info.conv, &info.members)).ok()) return s;
  if (rooms_.size() > 10000) rooms_.clear();
  rooms_[key] = info;
  *out = std::move(info);
  return Status::Ok();
}

Status MessageStore::LoadUserState(UserId user, UserState* out) {
  *out = UserState{};
  std::unique_ptr<SqliteStmt> st;
  Status s = PrepareRun(db_, kUserConvs, &st);
  if (!s.ok()) return s;
  st->Bind(1, user);
  struct Conv {
    ConvId id;
    ConvKind kind;
    UserId a, b;
    std::string name;
    int64_t unread;
  };
  std::vector<Conv> convs;
  while (st->Step(&s)) {
    convs.push_back(Conv{st->Int(0), static_cast<ConvKind>(st->Int(1)), st->Int(2), st->Int(3),
                         std::string(st->Text(4)), st->Int(8)});
  }
  if (!s.ok()) return s;
  for (const auto& c : convs) {
    if (c.kind == ConvKind::kDirect) {
      UserInfo peer;
      peer.id = c.a == user ? c.b : c.a;
      if (!(s = NameOf(peer.id, &peer.name)).ok()) return s;
      direct_convs_[{c.a, c.b}] = c.id;
      conv_users_[c.id] = {c.a, c.b};
      if (c.unread > 0) out->unread.emplace_back(peer.name, c.unread);
      if (peer.id != user) out->partners.push_back(std::move(peer));
    } else if (c.kind == ConvKind::kRoom) {
      RoomInfo room;
      if (!(s = FindRoom(c.name, &room)).ok()) return s;
      if (c.unread > 0) out->unread.emplace_back("#" + room.name, c.unread);
      out->rooms.push_back(std::move(room));
    }
  }
  std::unique_ptr<SqliteStmt> b;
  if (!(s = PrepareRun(db_, kBroadcastUnread, &b)).ok()) return s;
  b->Bind(1, user);
  if (b->Step(&s) && b->Int(0) > 0) out->unread.emplace_back("!notifications", b->Int(0));
  std::sort(out->rooms.begin(), out->rooms.end(),
            [](const RoomInfo& x, const RoomInfo& y) { return Lower(x.name) < Lower(y.name); });
  return s;
}

Status MessageStore::Join(const UserInfo& user, const std::string& room, bool make_private, int64_t now_ms,
                          JoinResult* out) {
  *out = JoinResult{};
  Status s = FindRoom(room, &out->room);
  if (s.code() == util::Code::kNotFound) {
    if (limits_.max_rooms_per_user > 0 && !user.admin) {
      std::unique_ptr<SqliteStmt> owned;
      if (!(s = PrepareRun(db_, kRoomsOwned, &owned)).ok()) return s;
      owned->Bind(1, user.id);
      if (!owned->Step(&s)) return s.ok() ? Status::Internal("room count") : s;
      if (owned->Int(0) >= limits_.max_rooms_per_user) {
        return Status::QuotaExceeded("you have created " + std::to_string(owned->Int(0)) +
                                     " rooms, the most allowed here; join an existing one or ask an admin");
      }
    }
    StmtScope st(insert_conv_.get());
    st->Bind(1, static_cast<int64_t>(ConvKind::kRoom)).BindNull(2).BindNull(3).Bind(4, room);
    st->Bind(5, make_private ? 1 : 0).Bind(6, user.id).Bind(7, now_ms);
    if (!(s = st->Run()).ok()) return WriteFailed(s);
    out->room.conv = db_->LastInsertRowid();
    out->room.name = room;
    out->room.is_private = make_private;
    out->room.members = std::make_shared<std::vector<UserId>>();
    out->created = true;
  } else if (!s.ok()) {
    return s;
  }
  if (IsMember(out->room.members, user.id)) {
    out->already_member = true;
    return Status::Ok();
  }
  if (out->room.is_private && !out->created) {
    std::unique_ptr<SqliteStmt> inv;
    if (!(s = PrepareRun(db_, kIsInvited, &inv)).ok()) return s;
    inv->Bind(1, out->room.conv).Bind(2, user.id);
    bool invited = inv->Step(&s);
    if (!s.ok()) return s;
    if (!invited) return Status::Forbidden("#" + out->room.name + " is private: a member has to invite you");
  }
  {
    StmtScope st(insert_member_.get());
    st->Bind(1, user.id).Bind(2, out->room.conv).Bind(3, last_mid_);
    if (!(s = st->Run()).ok()) return WriteFailed(s);
  }
  auto members = std::make_shared<std::vector<UserId>>(*out->room.members);
  members->insert(std::upper_bound(members->begin(), members->end(), user.id), user.id);
  out->room.members = members;
  rooms_[Lower(out->room.name)] = out->room;
  return Status::Ok();
}

Status MessageStore::Leave(const UserInfo& user, const std::string& room, RoomInfo* out) {
  Status s = FindRoom(room, out);
  if (!s.ok()) return s;
  if (!IsMember(out->members, user.id)) return Status::NotFound("you are not in #" + out->name);
  std::unique_ptr<SqliteStmt> st;
  if (!(s = PrepareRun(db_, kDeleteMember, &st)).ok()) return s;
  st->Bind(1, user.id).Bind(2, out->conv);
  if (!(s = st->Run()).ok()) return WriteFailed(s);
  auto members = std::make_shared<std::vector<UserId>>(*out->members);
  members->erase(std::lower_bound(members->begin(), members->end(), user.id));
  out->members = members;
  rooms_[Lower(out->name)] = *out;
  return Status::Ok();
}

Status MessageStore::Invite(const UserInfo& inviter, const std::string& room, const std::string& invitee,
                            int64_t now_ms, UserInfo* invited, RoomInfo* info) {
  Status s = FindRoom(room, info);
  if (!s.ok()) return s;
  if (!IsMember(info->members, inviter.id)) return Status::Forbidden("only members of #" + info->name + " may invite");
  UserRecord rec;
  s = accounts_->FindUser(invitee, &rec);
  if (s.code() == util::Code::kNotFound) return Status::NotFound("no user '" + invitee + "'");
  if (!s.ok()) return s;
  *invited = rec.info;
  if (IsMember(info->members, invited->id)) return Status::Conflict(invited->name + " is already in #" + info->name);
  std::unique_ptr<SqliteStmt> st;
  if (!(s = PrepareRun(db_, kInsertInvite, &st)).ok()) return s;
  st->Bind(1, info->conv).Bind(2, invited->id).Bind(3, inviter.id).Bind(4, now_ms);
  if (!(s = st->Run()).ok()) return WriteFailed(s);
  return Status::Ok();
}

Status MessageStore::Read(const UserInfo& user, const std::string& with, const std::string& room, Mid upto,
                          int64_t now_ms, ReadResult* out) {
  *out = ReadResult{};
  upto = std::min(upto, last_mid_);
  Status s;
  if (room == "!notifications") {
    out->kind = ConvKind::kBroadcast;
    std::unique_ptr<SqliteStmt> st;
    if (!(s = PrepareRun(db_, kBroadcastRead, &st)).ok()) return s;
    st->Bind(1, user.id);
    if (!st->Step(&s)) return s.ok() ? Status::NotFound("no such user") : s;
    Mid old = st->Int(0);
    out->upto = std::max(old, upto);
    if (upto <= old) return Status::Ok();
    if (!(s = PrepareRun(db_, kSetBroadcastRead, &st)).ok()) return s;
    st->Bind(1, user.id).Bind(2, upto);
    if (!(s = st->Run()).ok()) return WriteFailed(s);
    return Status::Ok();
  }
  ConvId conv = 0;
  if (!room.empty()) {
    RoomInfo info;
    if (!(s = FindRoom(room, &info)).ok()) return s;
    if (!IsMember(info.members, user.id)) return Status::Forbidden("you are not in #" + info.name);
    conv = info.conv;
    out->kind = ConvKind::kRoom;
  } else {
    UserRecord peer;
    s = accounts_->FindUser(with, &peer);
    if (s.code() == util::Code::kNotFound) return Status::NotFound("no user '" + with + "'");
    if (!s.ok()) return s;
    out->peer = peer.info;
    s = DirectConv(user.id, peer.info.id, false, 0, &conv);
    if (s.code() == util::Code::kNotFound) return Status::NotFound("no conversation with " + peer.info.name);
    if (!s.ok()) return s;
  }
  std::unique_ptr<SqliteStmt> st;
  if (!(s = PrepareRun(db_, kReadMarker, &st)).ok()) return s;
  st->Bind(1, user.id).Bind(2, conv);
  if (!st->Step(&s)) return s.ok() ? Status::NotFound("not a member") : s;
  Mid old = st->Int(0);
  out->upto = std::max(old, upto);
  if (upto <= old) return Status::Ok();
  if (!(s = PrepareRun(db_, kSetReadMarker, &st)).ok()) return s;
  st->Bind(1, user.id).Bind(2, conv).Bind(3, upto);
  if (!(s = st->Run()).ok()) return WriteFailed(s);
  if (out->kind == ConvKind::kDirect) {
    if (!(s = PrepareRun(db_, kMarkRead, &st)).ok()) return s;
    st->Bind(1, user.id).Bind(2, old).Bind(3, upto).Bind(4, now_ms).Bind(5, conv);
    if (!(s = st->Run()).ok()) return WriteFailed(s);
  }
  return Status::Ok();
}

}  // namespace chatd::store
