// SPDX-License-Identifier: MIT
//
// store::Directory: the lookups every store operation makes, cached, and the rows that make
// conversations. It knows users (by id and by name), the 1:1 conversation of each pair and
// the two users of each 1:1 conversation, rooms by name with their member lists, and how a
// stored message is written on the wire (EncodeMessage, through proto::EncodeMessage).
// Everything is read lazily from SQLite (tables users, conversations, members; schema 002) and
// kept until Reload(), which a rolled-back batch calls (it may have made rows the caches hold).
// Each cache is cleared when it passes its bound, so memory stays bounded however many users
// and rooms there are. A failed write records itself in the batch's BatchError.
// Storage thread only; `*db`, `*accounts` and `*errors` must outlive it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "store/batch_error.h"
#include "store/message_rows.h"
#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class Accounts;

class Directory {
 public:
  static util::Status Open(SqliteDb* db, Accounts* accounts, BatchError* errors, std::unique_ptr<Directory>* out);

  // Forgets every cached row (after a rollback).
  void Reload();

  // --- users ---------------------------------------------------------------------------------
  // A user's name; "(deleted)" for an account that is gone.
  util::Status NameOf(UserId id, std::string* out);
  // Remembers a user's name (a sender or recipient just seen).
  void Remember(const UserInfo& user) { names_[user.id] = user.name; }
  // A user by name, ignoring case. NotFound "no user 'x'".
  util::Status FindUser(const std::string& name, UserInfo* out);

  // --- conversations -------------------------------------------------------------------------
  // The 1:1 conversation of `a` and `b`; with `create`, made (with both as members) when there
  // is none, else NotFound.
  util::Status DirectConv(UserId a, UserId b, bool create, int64_t now_ms, ConvId* out);
  // Remembers a 1:1 conversation read elsewhere (a user's state).
  void RememberDirect(ConvId conv, UserId a, UserId b);
  // Inserts a conversation row; *out is its id. `a`, `b` for 1:1 (kind kDirect), `name` for rooms.
  util::Status CreateConversation(ConvKind kind, UserId a, UserId b, const std::string& name, bool is_private,
                                  UserId owner, int64_t now_ms, ConvId* out);
  // Adds a member (no-op if already one); rooms: `joined_mid` is where their view starts.
  util::Status AddMember(UserId user, ConvId conv, Mid joined_mid);

  // --- rooms ---------------------------------------------------------------------------------
  // A room by name, ignoring case, with its members. NotFound "no room #x".
  util::Status FindRoom(const std::string& name, RoomInfo* out);
  // The room after a membership change (its member list is a new snapshot).
  void UpdateRoom(const RoomInfo& room);
  static bool IsMember(const MemberList& members, UserId user);

  // --- the wire form --------------------------------------------------------------------------
  // The message frame of a stored message: its sender's name, and the peer's name or the
  // room's name or "*" for the broadcast feed, looked up here.
  util::Status EncodeMessage(Mid mid, ConvId conv, UserId sender, std::string_view text, int64_t ts,
                             std::shared_ptr<const std::string>* out);
  // The frame of any row read back: a message frame, or a notification frame.
  util::Status EncodeRow(const MessageRow& row, std::shared_ptr<const std::string>* out);

  // The conversation that holds notifications to users (schema 005: kind 4, the only one).
  ConvId notification_conv() const { return notification_conv_; }

 private:
  Directory(SqliteDb* db, Accounts* accounts, BatchError* errors) : db_(db), accounts_(accounts), errors_(errors) {}
  util::Status LoadMembers(ConvId conv, MemberList* out);
  // kind, parties and room name of any conversation, from the cache or conversations.
  util::Status ConvInfo(ConvId conv, ConvKind* kind, UserId* a, UserId* b, std::string* room);

  SqliteDb* db_;
  Accounts* accounts_;
  BatchError* errors_;
  ConvId notification_conv_ = 0;
  std::unique_ptr<SqliteStmt> find_direct_, insert_conv_, insert_member_, conv_info_, find_room_, members_;

  std::unordered_map<UserId, std::string> names_;
  std::unordered_map<std::string, UserInfo> users_;                   // folded name -> user
  std::map<std::pair<UserId, UserId>, ConvId> direct_convs_;          // (smaller id, larger id)
  std::unordered_map<ConvId, std::pair<UserId, UserId>> conv_users_;  // 1:1 conversation -> its users
  std::unordered_map<ConvId, std::string> room_names_;                // room conversation -> name
  std::unordered_map<std::string, RoomInfo> rooms_;                   // folded name -> room
};

}  // namespace chatd::store
