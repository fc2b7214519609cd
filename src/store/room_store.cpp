// SPDX-License-Identifier: MIT
#include "store/room_store.h"

#include <algorithm>

#include "proto/frames.h"
#include "proto/names.h"
#include "store/accounts.h"
#include "store/directory.h"
#include "store/inbox.h"
#include "store/message_store.h"
#include "store/webhook_queue.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kRoomMembers =
    "SELECT u.id, u.name, u.is_admin FROM members m JOIN users u ON u.id = m.user_id WHERE m.conv_id = ?1 ORDER BY u.name";
constexpr const char* kUserConvs =
    "SELECT c.id, c.kind, c.user_a, c.user_b, c.name, c.is_private, mb.read_upto, mb.joined_mid, "
    "  (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.conv_id = c.id "
    "     AND m.mid > max(mb.read_upto, mb.joined_mid) AND m.sender_id != ?1 LIMIT 1000)) "
    "FROM members mb JOIN conversations c ON c.id = mb.conv_id WHERE mb.user_id = ?1";
constexpr const char* kBroadcastUnread =
    "SELECT count(*) FROM (SELECT 1 FROM messages m, users u WHERE u.id = ?1 AND m.conv_id = 1 "
    "  AND m.mid > max(u.broadcast_read, u.joined_mid) AND m.sender_id != ?1 LIMIT 1000)";
// The site's notifications to the user above the same marker (the feed is one: broadcasts and
// notifications, read together).
constexpr const char* kNoticeUnread =
    "SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.user_id = ?1 AND d.notice = 1 "
    "  AND d.mid > (SELECT broadcast_read FROM users WHERE id = ?1) LIMIT 1000)";
constexpr const char* kRoomsOwned = "SELECT count(*) FROM conversations WHERE kind = 2 AND owner_id = ?1";
constexpr const char* kIsInvited = "SELECT 1 FROM invites WHERE conv_id = ?1 AND user_id = ?2";
constexpr const char* kInsertInvite =
    "INSERT OR REPLACE INTO invites (conv_id, user_id, invited_by, created_at) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kDeleteMember = "DELETE FROM members WHERE user_id = ?1 AND conv_id = ?2";

}  // namespace

Status RoomStore::Open(SqliteDb* db, Directory* directory, MessageStore* messages, BatchError* errors,
                       int max_rooms_per_user, std::unique_ptr<RoomStore>* out) {
  std::unique_ptr<RoomStore> r(new RoomStore(db, directory, messages, errors, max_rooms_per_user));
  Status s = r->Prepare();
  if (!s.ok()) return s;
  *out = std::move(r);
  return Status::Ok();
}

Status RoomStore::Members(const UserInfo& user, const std::string& room, std::vector<UserInfo>* out) {
  out->clear();
  RoomInfo info;
  Status s = directory_->FindRoom(room, &info);
  if (!s.ok()) return s;
  if (!Directory::IsMember(info.members, user.id)) return Status::Forbidden("join #" + info.name + " to see its members");
  StmtScope st(room_members_.get());
  st->Bind(1, info.conv);
  return Accounts::ReadInfoRows(room_members_.get(), out);
}

Status RoomStore::Prepare() {
  return db_->PrepareAll({{&user_convs_, kUserConvs},
                          {&broadcast_unread_, kBroadcastUnread},
                          {&notice_unread_, kNoticeUnread},
                          {&rooms_owned_, kRoomsOwned},
                          {&is_invited_, kIsInvited},
                          {&insert_invite_, kInsertInvite},
                          {&delete_member_, kDeleteMember},
                          {&room_members_, kRoomMembers}});
}

Status RoomStore::Write(SqliteStmt* st) {
  Status s = st->Run();
  return s.ok() ? s : errors_->Record(s);
}

Status RoomStore::LoadUserState(UserId user, UserState* out) {
  *out = UserState{};
  // Unread counts come from the read markers in SQLite: the user's unfolded ones go first.
  Status folded = messages_->FoldPoolFor(user);
  if (!folded.ok()) return folded;
  struct Conv {
    ConvId id;
    ConvKind kind;
    UserId a, b;
    std::string name;
    int64_t unread;
  };
  std::vector<Conv> convs;
  Status s;
  {
    StmtScope st(user_convs_.get());
    st->Bind(1, user);
    while (st->Step(&s)) {
      convs.push_back(Conv{st->Int(0), static_cast<ConvKind>(st->Int(1)), st->Int(2), st->Int(3),
                           std::string(st->Text(4)), st->Int(8)});
    }
  }
  if (!s.ok()) return s;
  for (const auto& c : convs) {
    if (c.kind == ConvKind::kDirect) {
      UserInfo peer;
      peer.id = c.a == user ? c.b : c.a;
      if (!(s = directory_->NameOf(peer.id, &peer.name)).ok()) return s;
      directory_->RememberDirect(c.id, c.a, c.b);
      if (c.unread > 0) out->unread.emplace_back(peer.name, c.unread);
      if (peer.id != user) out->partners.push_back(std::move(peer));
    } else if (c.kind == ConvKind::kRoom) {
      RoomInfo room;
      if (!(s = directory_->FindRoom(c.name, &room)).ok()) return s;
      if (c.unread > 0) out->unread.emplace_back("#" + room.name, c.unread);
      out->rooms.push_back(std::move(room));
    }
  }
  int64_t feed = 0;
  for (SqliteStmt* st : {broadcast_unread_.get(), notice_unread_.get()}) {
    StmtScope scope(st);
    st->Bind(1, user);
    if (st->Step(&s)) feed += st->Int(0);
    if (!s.ok()) return s;
  }
  if (feed > 0) out->unread.emplace_back(std::string(proto::kNotificationFeed), std::min<int64_t>(feed, 1000));
  std::sort(out->rooms.begin(), out->rooms.end(), [](const RoomInfo& x, const RoomInfo& y) {
    return proto::FoldName(x.name) < proto::FoldName(y.name);
  });
  return s;
}

Status RoomStore::Join(const UserInfo& user, const std::string& room, bool make_private, int64_t now_ms,
                       JoinResult* out) {
  *out = JoinResult{};
  Status s = directory_->FindRoom(room, &out->room);
  if (s.code() == util::Code::kNotFound) {
    if (max_rooms_per_user_ > 0 && !user.admin) {
      StmtScope owned(rooms_owned_.get());
      owned->Bind(1, user.id);
      if (!owned->Step(&s)) return s.ok() ? Status::Internal("room count") : s;
      if (owned->Int(0) >= max_rooms_per_user_) {
        return Status::QuotaExceeded("you have created " + std::to_string(owned->Int(0)) +
                                     " rooms, the most allowed here; join an existing one or ask an admin");
      }
    }
    if (!(s = directory_->CreateConversation(ConvKind::kRoom, 0, 0, room, make_private, user.id, now_ms,
                                             &out->room.conv))
             .ok()) {
      return s;
    }
    out->room.name = room;
    out->room.is_private = make_private;
    out->room.members = std::make_shared<std::vector<UserId>>();
    out->created = true;
  } else if (!s.ok()) {
    return s;
  }
  if (Directory::IsMember(out->room.members, user.id)) {
    out->already_member = true;
    return Status::Ok();
  }
  if (out->room.is_private && !out->created) {
    StmtScope inv(is_invited_.get());
    inv->Bind(1, out->room.conv).Bind(2, user.id);
    bool invited = inv->Step(&s);
    if (!s.ok()) return s;
    if (!invited) return Status::Forbidden("#" + out->room.name + " is private: a member has to invite you");
  }
  if (!(s = directory_->AddMember(user.id, out->room.conv, messages_->last_mid())).ok()) return s;
  auto members = std::make_shared<std::vector<UserId>>(*out->room.members);
  members->insert(std::upper_bound(members->begin(), members->end(), user.id), user.id);
  out->room.members = members;
  directory_->UpdateRoom(out->room);
  return Status::Ok();
}

Status RoomStore::Leave(const UserInfo& user, const std::string& room, RoomInfo* out) {
  Status s = directory_->FindRoom(room, out);
  if (!s.ok()) return s;
  if (!Directory::IsMember(out->members, user.id)) return Status::NotFound("you are not in #" + out->name);
  {
    StmtScope st(delete_member_.get());
    st->Bind(1, user.id).Bind(2, out->conv);
    if (!(s = Write(delete_member_.get())).ok()) return s;
  }
  auto members = std::make_shared<std::vector<UserId>>(*out->members);
  members->erase(std::lower_bound(members->begin(), members->end(), user.id));
  out->members = members;
  directory_->UpdateRoom(*out);
  return Status::Ok();
}

Status RoomStore::Invite(const UserInfo& inviter, const std::string& room, const std::string& invitee, int64_t now_ms,
                         UserInfo* invited, RoomInfo* info) {
  Status s = directory_->FindRoom(room, info);
  if (!s.ok()) return s;
  if (!Directory::IsMember(info->members, inviter.id)) {
    return Status::Forbidden("only members of #" + info->name + " may invite");
  }
  if (!(s = directory_->FindUser(invitee, invited)).ok()) return s;
  if (Directory::IsMember(info->members, invited->id)) {
    return Status::Conflict(invited->name + " is already in #" + info->name);
  }
  StmtScope st(insert_invite_.get());
  st->Bind(1, info->conv).Bind(2, invited->id).Bind(3, inviter.id).Bind(4, now_ms);
  return Write(insert_invite_.get());
}

Status RoomStore::Read(const UserInfo& user, const std::string& with, const std::string& room, Mid upto,
                       int64_t now_ms, ReadResult* out) {
  *out = ReadResult{};
  upto = std::min(upto, messages_->last_mid());
  // A read marker is appended (Inbox): the fold moves the marker in SQLite and marks the
  // `deliveries` rows it covers read.
  Status s;
  ConvId conv = kBroadcastConv;
  std::string room_name;
  if (room == proto::kNotificationFeed) {
    out->kind = ConvKind::kBroadcast;
    room_name = room;
  } else if (!room.empty()) {
    RoomInfo info;
    if (!(s = directory_->FindRoom(room, &info)).ok()) return s;
    room_name = info.name;
    if (!Directory::IsMember(info.members, user.id)) return Status::Forbidden("you are not in #" + info.name);
    conv = info.conv;
    out->kind = ConvKind::kRoom;
  } else {
    if (!(s = directory_->FindUser(with, &out->peer)).ok()) return s;
    s = directory_->DirectConv(user.id, out->peer.id, false, 0, &conv);
    if (s.code() == util::Code::kNotFound) return Status::NotFound("no conversation with " + out->peer.name);
    if (!s.ok()) return s;
  }
  Inbox& inbox = messages_->inbox();
  Mid old = 0;
  if (!(s = inbox.ReadMarker(user.id, conv, &old)).ok()) return s;
  out->upto = std::max(old, upto);
  if (upto <= old) return Status::Ok();
  if (!(s = inbox.Read(user.id, conv, out->kind, old, upto, now_ms)).ok()) return s;
  return ReadEvent(user, out->peer.name, room_name, upto, now_ms);
}

Status RoomStore::ReadEvent(const UserInfo& user, const std::string& with, const std::string& room, Mid upto,
                            int64_t now_ms) {
  if (!webhooks_) return Status::Ok();
  return webhooks_->Enqueue("message.read", proto::EncodeReadEvent(user.name, with, room, upto), now_ms);
}

}  // namespace chatd::store
