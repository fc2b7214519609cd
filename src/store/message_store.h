// SPDX-License-Identifier: MIT
//
// store::MessageStore: messages, conversations and the offline pool in SQLite (schema 002),
// mirrored into the HistoryCache. See docs/storage.md for the data model; in short:
//   - every accepted message is one `messages` row with a server id `mid` (increasing);
//   - a 1:1 message also gets one `deliveries` row for its recipient (the offline pool);
//   - users.acked_upto is how far the user's devices have acknowledged: rows above it are
//     undelivered and are sent again on the next hello without a cursor;
//   - (sender_id, cid) is unique, so a resend is recognised even after a restart.
// Operations check everything that can refuse the request before writing; a failed write
// poisons the batch (Engine rolls it back and answers every job in it with the error).
// Storage thread only; borrows the SqliteDb, Accounts and HistoryCache (all outlive it).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class Accounts;
class HistoryCache;

struct MessageLimits {
  int pool_max_messages = 10000;
  int64_t pool_max_bytes = 64LL * 1024 * 1024;
  int history_max_messages = 10000;
  int history_max_days = 365;
  int max_rooms_per_user = 100;  // rooms one (non-admin) user may create; 0 = no limit
};

struct SendRequest {
  UserInfo sender;
  std::string cid;
  std::string to;    // user name, or "*" for a broadcast
  std::string room;  // or a room name
  std::string text;
  int64_t ts = 0;
};

using MemberList = std::shared_ptr<const std::vector<UserId>>;

struct RoomInfo {
  ConvId conv = 0;
  std::string name;
  bool is_private = false;
  MemberList members;  // a snapshot; membership changes make a new list
};

struct SendResult {
  Mid mid = 0;
  int64_t ts = 0;
  bool dup = false;             // same (sender, cid) seen before: nothing stored or delivered
  ConvKind kind = ConvKind::kDirect;
  ConvId conv = 0;
  UserInfo recipient;           // direct messages: the recipient, canonical name
  RoomInfo room;                // rooms: the room and its members (sender included)
  std::shared_ptr<const std::string> json;  // the message frame; empty when dup
};

// What a page of catch-up holds. `high_water`: every message up to it was considered.
struct FetchResult {
  std::vector<StoredMessage> messages;
  Mid high_water = 0;
  bool complete = false;  // no more after this page (as of high_water)
  Mid next = 0;           // not complete: the next page starts after this mid
};

// Everything a fresh login needs to know (welcome, presence and unread counts).
struct UserState {
  std::vector<RoomInfo> rooms;
  std::vector<UserInfo> partners;                         // users with a 1:1 conversation
  std::vector<std::pair<std::string, int64_t>> unread;  // "bob", "#general", "!notifications" -> count
};

struct JoinResult {
  RoomInfo room;
  bool created = false;
  bool already_member = false;
};

struct ReadResult {
  ConvKind kind = ConvKind::kDirect;
  UserInfo peer;  // 1:1: who gets the receipt
  Mid upto = 0;   // the marker after this read (never moves backwards)
};

struct HistoryResult {
  std::vector<std::shared_ptr<const std::string>> messages;  // oldest first
  bool more = false;
};

class MessageStore {
 public:
  // `*db`, `*accounts` and `*history` must outlive the store.
  static util::Status Open(SqliteDb* db, Accounts* accounts, HistoryCache* history, MessageLimits limits,
                           std::unique_ptr<MessageStore>* out);

  Mid last_mid() const { return last_mid_; }

  // Stores a message (see SendResult). Refusals: NotFound (no such user or room), Forbidden
  // (broadcast by a non-admin, room not joined), QuotaExceeded (recipient's pool is full),
  // StorageFull (`storage_full`). Needs an open batch.
  util::Status Send(const SendRequest& req, bool storage_full, int64_t now_ms, SendResult* out);

  // The user's devices have everything up to `upto`: their undelivered rows up to there
  // become delivered.
  util::Status Ack(UserId user, Mid upto, int64_t now_ms);

  // Undelivered messages for `user` with mid > after (hello without cursor), oldest first: at
  // most `limit` messages and about `max_bytes` of them (always at least one).
  util::Status FetchPending(UserId user, Mid after, int limit, FetchResult* out, size_t max_bytes = 1 << 20);
  // Every message of `user`'s conversations with mid > cursor, also their own (hello with a
  // cursor: a device catching up), oldest first, from the history cache. Same bounds.
  util::Status FetchSince(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes = 1 << 20);

  // A page of a conversation, newest `limit` before `before` (0 = newest), returned oldest first:
  // at most `limit` messages and about `max_bytes` of them (always at least one); `more` when
  // older ones exist.
  util::Status History(const UserInfo& user, const std::string& with, const std::string& room, Mid before, int limit,
                       HistoryResult* out, size_t max_bytes = 1 << 20);

  // --- rooms, read markers, unread counts (conversations.cpp) -----------------------------
  util::Status LoadUserState(UserId user, UserState* out);
  // Joins `room`, creating it (owned by the user; private if `make_private`) when it does not
  // exist. Private rooms need an invitation. Joining twice is fine (already_member).
  // QuotaExceeded when the user (not an admin) has created max_rooms_per_user rooms already.
  util::Status Join(const UserInfo& user, const std::string& room, bool make_private, int64_t now_ms,
                    JoinResult* out);
  // NotFound if the user is not in the room. *out is the room after the leave.
  util::Status Leave(const UserInfo& user, const std::string& room, RoomInfo* out);
  // A member invites `invitee` (who may then join even a private room).
  util::Status Invite(const UserInfo& inviter, const std::string& room, const std::string& invitee, int64_t now_ms,
                      UserInfo* invited, RoomInfo* info);
  // Moves the user's read marker of a conversation ("!notifications" as `room` for the
  // broadcast/notification feed) up to `upto`.
  util::Status Read(const UserInfo& user, const std::string& with, const std::string& room, Mid upto, int64_t now_ms,
                    ReadResult* out);

  // Copies every message with mid > history.high_water() from SQLite into the cache.
  util::Status CatchUpHistory(int64_t* copied);
  // Applies history retention to the conversations written since the last call.
  util::Status TrimHistory(int64_t now_ms);

  // Re-reads in-memory state after a rolled-back batch.
  util::Status Reload();

  // A write failed half-way through an operation in this batch: the batch must be rolled back.
  // Returns that failure once, and clears it.
  util::Status TakeWriteError() {
    util::Status s = write_error_;
    write_error_ = util::Status::Ok();
    return s;
  }

 private:
  MessageStore(SqliteDb* db, Accounts* accounts, HistoryCache* history, MessageLimits limits)
      : db_(db), accounts_(accounts), history_(history), limits_(limits) {}
  util::Status Prepare();
  util::Status FindRecipient(const std::string& name, UserInfo* out);
  // *covered = false: the cache cannot prove it holds the whole page; SQLite must answer.
  util::Status FetchSinceFromCache(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes,
                                   bool* covered);
  util::Status FetchSinceFromDb(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes);
  // (conversation, mid its catch-up starts after) for every conversation of `user` (or only
  // its rooms), and the broadcast feed.
  util::Status SinceRanges(UserId user, Mid cursor, bool rooms_only, std::vector<std::pair<ConvId, Mid>>* out);
  util::Status DirectConv(UserId a, UserId b, bool create, int64_t now_ms, ConvId* out);
  util::Status PoolUsage(UserId user, int64_t* count, int64_t* bytes);
  // Finds a room by name (NotFound), with its member list.
  util::Status FindRoom(const std::string& name, RoomInfo* out);
  util::Status LoadMembers(ConvId conv, MemberList* out);
  static bool IsMember(const MemberList& members, UserId user);
  util::Status AckedUpto(UserId user, Mid* out);
  util::Status NameOf(UserId id, std::string* out);
  // Records a failed write (see TakeWriteError) and returns it.
  util::Status WriteFailed(util::Status s) {
    if (write_error_.ok()) write_error_ = s;
    return s;
  }
  util::Status EncodeRow(Mid mid, ConvId conv, UserId sender, std::string_view text, int64_t ts,
                         std::shared_ptr<const std::string>* out);

  SqliteDb* db_;
  Accounts* accounts_;
  HistoryCache* history_;
  MessageLimits limits_;
  Mid last_mid_ = 0;
  util::Status write_error_;

  struct PoolUse {
    int64_t count = 0, bytes = 0;
  };
  // Caches, all rebuilt lazily (and dropped by Reload()).
  std::map<std::pair<UserId, UserId>, ConvId> direct_convs_;
  std::unordered_map<ConvId, std::pair<UserId, UserId>> conv_users_;  // direct conv -> its users
  std::unordered_map<UserId, PoolUse> pool_use_;
  std::unordered_map<UserId, std::string> names_;
  std::unordered_map<std::string, UserInfo> recipients_;  // lower-case name -> user
  std::unordered_map<std::string, RoomInfo> rooms_;  // lower-case name -> room
  std::set<ConvId> touched_convs_;
  std::set<UserId> touched_users_;

  std::unique_ptr<SqliteStmt> find_dup_, find_direct_, insert_conv_, insert_member_, insert_message_,
      insert_delivery_, pool_usage_, acked_upto_, mark_delivered_, set_acked_, pending_direct_, conv_info_;
};

}  // namespace chatd::store
