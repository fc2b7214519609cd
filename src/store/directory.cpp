// SPDX-License-Identifier: MIT
#include "store/directory.h"

#include <algorithm>

#include "proto/frames.h"
#include "proto/names.h"
#include "store/accounts.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kFindDirect = "SELECT id FROM conversations WHERE kind = 1 AND user_a = ?1 AND user_b = ?2";
constexpr const char* kInsertConv =
    "INSERT INTO conversations (kind, user_a, user_b, name, is_private, owner_id, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kInsertMember =
    "INSERT OR IGNORE INTO members (user_id, conv_id, joined_mid) VALUES (?1, ?2, ?3)";
constexpr const char* kConvInfo = "SELECT kind, user_a, user_b, name FROM conversations WHERE id = ?1";
constexpr const char* kFindRoom = "SELECT id, name, is_private FROM conversations WHERE kind = 2 AND name = ?1";
constexpr const char* kMembers = "SELECT user_id FROM members WHERE conv_id = ?1 ORDER BY user_id";
constexpr const char* kNotificationConv = "SELECT id FROM conversations WHERE kind = 4 ORDER BY id LIMIT 1";

// Bounds of the caches: past them a cache starts over (it refills from SQLite as needed).
constexpr size_t kMaxUsers = 100000;
constexpr size_t kMaxRooms = 10000;

template <typename Map>
void Bound(Map* map, size_t max) {
  if (map->size() >= max) map->clear();
}

}  // namespace

Status Directory::Open(SqliteDb* db, Accounts* accounts, BatchError* errors, std::unique_ptr<Directory>* out) {
  std::unique_ptr<Directory> d(new Directory(db, accounts, errors));
  Status s = db->PrepareAll({{&d->find_direct_, kFindDirect},
                             {&d->insert_conv_, kInsertConv},
                             {&d->insert_member_, kInsertMember},
                             {&d->conv_info_, kConvInfo},
                             {&d->find_room_, kFindRoom},
                             {&d->members_, kMembers}});
  if (!s.ok()) return s;
  {
    std::unique_ptr<SqliteStmt> st;
    if (!(s = db->Prepare(kNotificationConv, &st)).ok()) return s;
    if (!st->Step(&s)) return s.ok() ? Status::Internal("the notification conversation is missing") : s;
    d->notification_conv_ = st->Int(0);
  }
  *out = std::move(d);
  return Status::Ok();
}

void Directory::Reload() {
  names_.clear();
  users_.clear();
  direct_convs_.clear();
  conv_users_.clear();
  room_names_.clear();
  rooms_.clear();
}

Status Directory::NameOf(UserId id, std::string* out) {
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
  Bound(&names_, kMaxUsers);
  names_[id] = info.name;
  *out = info.name;
  return Status::Ok();
}

Status Directory::FindUser(const std::string& name, UserInfo* out) {
  // Names never change and accounts are rarely deleted: a lookup per send is worth caching.
  std::string key = proto::FoldName(name);
  auto it = users_.find(key);
  if (it != users_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  UserRecord rec;
  Status s = accounts_->FindUser(name, &rec);
  if (s.code() == util::Code::kNotFound) return Status::NotFound("no user '" + name + "'");
  if (!s.ok()) return s;
  Bound(&users_, kMaxUsers);
  users_[key] = rec.info;
  *out = rec.info;
  return Status::Ok();
}

void Directory::RememberDirect(ConvId conv, UserId a, UserId b) {
  if (a > b) std::swap(a, b);
  Bound(&direct_convs_, kMaxUsers);
  Bound(&conv_users_, kMaxUsers);
  direct_convs_[{a, b}] = conv;
  conv_users_[conv] = {a, b};
}

Status Directory::DirectConv(UserId a, UserId b, bool create, int64_t now_ms, ConvId* out) {
  if (a > b) std::swap(a, b);
  auto it = direct_convs_.find({a, b});
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
      RememberDirect(*out, a, b);
      return Status::Ok();
    }
    if (!s.ok()) return s;
  }
  if (!create) return Status::NotFound("no conversation yet");
  Status s = CreateConversation(ConvKind::kDirect, a, b, "", false, 0, now_ms, out);
  for (UserId u : {a, b}) {
    if (s.ok()) s = AddMember(u, *out, 0);
  }
  if (!s.ok()) return s;
  RememberDirect(*out, a, b);
  return Status::Ok();
}

Status Directory::CreateConversation(ConvKind kind, UserId a, UserId b, const std::string& name, bool is_private,
                                     UserId owner, int64_t now_ms, ConvId* out) {
  StmtScope st(insert_conv_.get());
  st->Bind(1, static_cast<int64_t>(kind));
  if (kind == ConvKind::kDirect) {
    st->Bind(2, a).Bind(3, b).BindNull(4).Bind(5, 0).BindNull(6);
  } else {
    st->BindNull(2).BindNull(3).Bind(4, name).Bind(5, is_private ? 1 : 0).Bind(6, owner);
  }
  st->Bind(7, now_ms);
  Status s = st->Run();
  if (!s.ok()) return errors_->Record(s);
  *out = db_->LastInsertRowid();
  return Status::Ok();
}

Status Directory::AddMember(UserId user, ConvId conv, Mid joined_mid) {
  StmtScope st(insert_member_.get());
  st->Bind(1, user).Bind(2, conv).Bind(3, joined_mid);
  Status s = st->Run();
  return s.ok() ? s : errors_->Record(s);
}

Status Directory::ConvInfo(ConvId conv, ConvKind* kind, UserId* a, UserId* b, std::string* room) {
  if (conv == kBroadcastConv) {
    *kind = ConvKind::kBroadcast;
    return Status::Ok();
  }
  if (auto users = conv_users_.find(conv); users != conv_users_.end()) {
    *kind = ConvKind::kDirect;
    *a = users->second.first;
    *b = users->second.second;
    return Status::Ok();
  }
  if (auto name = room_names_.find(conv); name != room_names_.end()) {
    *kind = ConvKind::kRoom;
    *room = name->second;
    return Status::Ok();
  }
  StmtScope st(conv_info_.get());
  st->Bind(1, conv);
  Status s;
  if (!st->Step(&s)) return s.ok() ? Status::Internal("message in unknown conversation") : s;
  *kind = static_cast<ConvKind>(st->Int(0));
  if (*kind == ConvKind::kDirect) {
    *a = st->Int(1);
    *b = st->Int(2);
    RememberDirect(conv, *a, *b);
  } else if (*kind == ConvKind::kRoom) {
    *room = std::string(st->Text(3));
    Bound(&room_names_, kMaxRooms);
    room_names_[conv] = *room;
  }
  return Status::Ok();
}

bool Directory::IsMember(const MemberList& members, UserId user) {
  return members && std::binary_search(members->begin(), members->end(), user);
}

Status Directory::LoadMembers(ConvId conv, MemberList* out) {
  StmtScope st(members_.get());
  st->Bind(1, conv);
  auto list = std::make_shared<std::vector<UserId>>();
  Status s;
  while (st->Step(&s)) list->push_back(st->Int(0));
  if (!s.ok()) return s;
  *out = std::move(list);
  return Status::Ok();
}

Status Directory::FindRoom(const std::string& name, RoomInfo* out) {
  std::string key = proto::FoldName(name);
  auto it = rooms_.find(key);
  if (it != rooms_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  RoomInfo info;
  {
    StmtScope st(find_room_.get());
    st->Bind(1, name);
    Status s;
    if (!st->Step(&s)) return s.ok() ? Status::NotFound("no room #" + name) : s;
    info.conv = st->Int(0);
    info.name = std::string(st->Text(1));
    info.is_private = st->Int(2) != 0;
  }
  Status s = LoadMembers(info.conv, &info.members);
  if (!s.ok()) return s;
  UpdateRoom(info);
  *out = std::move(info);
  return Status::Ok();
}

void Directory::UpdateRoom(const RoomInfo& room) {
  Bound(&rooms_, kMaxRooms);
  Bound(&room_names_, kMaxRooms);
  rooms_[proto::FoldName(room.name)] = room;
  room_names_[room.conv] = room.name;
}

Status Directory::EncodeMessage(Mid mid, ConvId conv, UserId sender, std::string_view text, int64_t ts,
                                std::shared_ptr<const std::string>* out) {
  std::string from, to, room;
  Status s = NameOf(sender, &from);
  if (!s.ok()) return s;
  ConvKind kind = ConvKind::kBroadcast;
  UserId a = 0, b = 0;
  if (!(s = ConvInfo(conv, &kind, &a, &b, &room)).ok()) return s;
  if (kind == ConvKind::kBroadcast) {
    to = "*";
  } else if (kind == ConvKind::kDirect && !(s = NameOf(a == sender ? b : a, &to)).ok()) {
    return s;
  }
  *out = std::make_shared<const std::string>(proto::EncodeMessage({mid, from, to, room, text, ts}));
  return Status::Ok();
}

Status Directory::EncodeRow(const MessageRow& row, std::shared_ptr<const std::string>* out) {
  if (row.kind == MessageKind::kNotification) {
    *out = std::make_shared<const std::string>(proto::EncodeNotification({row.mid, row.title, row.text, row.data, row.ts}));
    return Status::Ok();
  }
  return EncodeMessage(row.mid, row.conv, row.sender, row.text, row.ts, out);
}

}  // namespace chatd::store
