// SPDX-License-Identifier: MIT
//
// store::RoomStore: rooms (join, leave, invite), read markers, and what a user's login needs
// to know (rooms, 1:1 partners, unread counts). Room rules (docs/protocol.md): joining a room
// that does not exist creates it, owned by the joiner, public unless asked private (at most
// max_rooms_per_user rooms per user, admins exempt); anyone may join a public room; a private
// room needs an invitation from a member; only members may send to a room or read it.
// Tables: conversations, members (read_upto, joined_mid), invites, users.broadcast_read,
// deliveries.read_at (schema 002). A failed write records itself in the batch's BatchError.
// Storage thread only; borrows everything it is given (all outlive it).
#pragma once

#include <memory>
#include <string>

#include "store/batch_error.h"
#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class Directory;
class MessageStore;
class WebhookQueue;

class RoomStore {
 public:
  static util::Status Open(SqliteDb* db, Directory* directory, MessageStore* messages, BatchError* errors,
                           int max_rooms_per_user, std::unique_ptr<RoomStore>* out);

  // The user's rooms (sorted by name, ignoring case), 1:1 partners and unread counts.
  util::Status LoadUserState(UserId user, UserState* out);
  // Joins `room`, creating it (owned by the user; private if `make_private`) when it does not
  // exist. Private rooms need an invitation. Joining twice is fine (already_member).
  // QuotaExceeded when the user (not an admin) has created max_rooms_per_user rooms already.
  util::Status Join(const UserInfo& user, const std::string& room, bool make_private, int64_t now_ms,
                    JoinResult* out);
  // NotFound if the user is not in the room. *out is the room after the leave.
  util::Status Leave(const UserInfo& user, const std::string& room, RoomInfo* out);
  // The room's members by name (at most 1,000): not_found (no such room), forbidden (`user` is not one).
  util::Status Members(const UserInfo& user, const std::string& room, std::vector<UserInfo>* out);
  // A member invites `invitee` (who may then join even a private room).
  util::Status Invite(const UserInfo& inviter, const std::string& room, const std::string& invitee, int64_t now_ms,
                      UserInfo* invited, RoomInfo* info);
  // Moves the user's read marker of a conversation ("!notifications" as `room` for the
  // broadcast/notification feed) up to `upto` (never back; capped at the last mid).
  util::Status Read(const UserInfo& user, const std::string& with, const std::string& room, Mid upto, int64_t now_ms,
                    ReadResult* out);
  // Webhooks on: a marker that moves queues a message.read event.
  void set_webhooks(WebhookQueue* queue) { webhooks_ = queue; }

 private:
  RoomStore(SqliteDb* db, Directory* directory, MessageStore* messages, BatchError* errors, int max_rooms_per_user)
      : db_(db), directory_(directory), messages_(messages), errors_(errors), max_rooms_per_user_(max_rooms_per_user) {}
  util::Status Prepare();
  // Runs a prepared write; a failure poisons the batch.
  util::Status Write(SqliteStmt* st);
  // The message.read event of a marker that moved (webhooks on).
  util::Status ReadEvent(const UserInfo& user, const std::string& with, const std::string& room, Mid upto,
                         int64_t now_ms);

  SqliteDb* db_;
  Directory* directory_;
  MessageStore* messages_;
  BatchError* errors_;
  int max_rooms_per_user_;
  WebhookQueue* webhooks_ = nullptr;
  std::unique_ptr<SqliteStmt> user_convs_, broadcast_unread_, notice_unread_, rooms_owned_, is_invited_, insert_invite_,
      delete_member_, room_members_;
};

}  // namespace chatd::store
