// SPDX-License-Identifier: MIT
//
// store::ChatStore: everything the chat core asks of storage, one operation per domain
// request, asynchronous. Each takes a request and a callback that gets one Result: the status
// of the operation as committed (a refusal, or the failure of the batch it shared) and its
// value together. Callbacks run on the thread that drains the CompletionQueue (the network
// thread), in the order the operations were submitted, and never before the call returns.
// A write's callback runs only once it is durable.
//
// Implementations: EngineChatStore (the server: SQLite and RocksDB through a Storage, i.e. the
// storage thread with group commit, or InlineStorage in tests) and MemoryChatStore (the same
// rules in memory, for core tests). Both pass tests/store/chat_store_test.cpp.
// Policies (who may broadcast, the free-space floor, quotas) are the store's: callers do not
// check them first.
// Methods may be called from the network thread only; the object must outlive every callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

template <typename T>
struct Result {
  util::Status status;
  T value;
};
template <typename T>
using Callback = std::function<void(Result<T>&&)>;
using StatusCallback = std::function<void(const util::Status&)>;

// --- requests ------------------------------------------------------------------------------------
struct AckRequest {
  UserId user = 0;
  Mid upto = 0;  // capped at the last mid
  int64_t now_ms = 0;
};
// What an ack delivered: for each sender of 1:1 messages it marked delivered, the largest mid.
struct AckResult {
  std::vector<std::pair<UserId, Mid>> delivered;
};
// A page of a login's catch-up: with a cursor, everything of the user's conversations after
// `after`; without, their undelivered messages after it (FetchResult says where to go on).
struct PageRequest {
  UserId user = 0;
  Mid after = 0;
  bool with_cursor = false;
  int limit = 1000;
  size_t max_bytes = 1 << 20;
};
struct HistoryRequest {
  UserInfo user;
  std::string with, room;  // the peer ("*" for broadcasts), or a room
  Mid before = 0;          // 0: the newest
  int limit = 50;
  size_t max_bytes = 1 << 20;
};
struct ReadRequest {
  UserInfo user;
  std::string with, room;  // or room "!notifications" for the notification feed
  Mid upto = 0;
  int64_t now_ms = 0;
};
struct JoinRequest {
  UserInfo user;
  std::string room;
  bool make_private = false;  // when the join creates the room
  int64_t now_ms = 0;
};
struct LeaveRequest {
  UserInfo user;
  std::string room;
};
struct InviteRequest {
  UserInfo inviter;
  std::string room, invitee;
  int64_t now_ms = 0;
};
struct InviteResult {
  UserInfo invited;
  RoomInfo room;
};
struct NewUser {
  std::string name, password_hash;
  bool admin = false;
  int64_t now_ms = 0;
};
struct SiteLogin {
  std::string name;          // a site token's subject
  bool allow_local = false;  // site-users-may-be-local
};
struct NewSession {
  UserId user = 0;
  std::string token_hash;
  int64_t now_ms = 0, expires_ms = 0;
};
struct MembersRequest {
  UserInfo user;  // who asks: a member
  std::string room;
};
struct ConversationsRequest {
  UserId user = 0;
  int limit = 100;
};
struct UserSearch {
  std::string prefix;  // of the name, ignoring ASCII case; "" = from the first name
  int limit = 20;
};
struct SessionLookup {
  std::string token_hash;
  int64_t now_ms = 0;
};

class ChatStore {
 public:
  virtual ~ChatStore() = default;

  // --- messages ----------------------------------------------------------------------------------
  // Stores a message. Refusals: not_found (user, room), forbidden (broadcast by a non-admin,
  // room not joined), quota_exceeded (the recipient's pool), storage_full. A resend of a
  // (sender, cid) seen before answers the first mid with dup and stores nothing.
  virtual void Send(SendRequest req, Callback<SendResult> done) = 0;
  virtual void Ack(AckRequest req, Callback<AckResult> done) = 0;
  virtual void FetchPage(PageRequest req, Callback<FetchResult> done) = 0;
  // not_found (no such peer or room), forbidden (room not joined); never talked: empty.
  virtual void History(HistoryRequest req, Callback<HistoryResult> done) = 0;
  // not_found (peer, room, or no conversation yet), forbidden (room not joined).
  virtual void Read(ReadRequest req, Callback<ReadResult> done) = 0;

  // --- rooms ---------------------------------------------------------------------------------------
  // Creates the room when it does not exist. forbidden (private, not invited), quota_exceeded
  // (max-rooms-per-user), storage_full.
  virtual void Join(JoinRequest req, Callback<JoinResult> done) = 0;
  // not_found (no such room, or not in it). The value is the room after the leave.
  virtual void Leave(LeaveRequest req, Callback<RoomInfo> done) = 0;
  // forbidden (inviter not a member), not_found (invitee), conflict (already a member).
  virtual void Invite(InviteRequest req, Callback<InviteResult> done) = 0;
  // A room's members by name. not_found (no such room), forbidden (the asker is not a member).
  virtual void Members(MembersRequest req, Callback<std::vector<UserInfo>> done) = 0;
  virtual void LoadUserState(UserId user, Callback<UserState> done) = 0;
  // The user's 1:1 conversations and rooms with their newest message (rooms: since joining),
  // newest first, then those with none; at most limit.
  virtual void Conversations(ConversationsRequest req, Callback<std::vector<ConversationSummary>> done) = 0;

  // --- accounts and login sessions -------------------------------------------------------------
  // conflict (the name is taken, ignoring case), storage_full.
  virtual void CreateUser(NewUser req, Callback<UserInfo> done) = 0;
  virtual void FindUser(std::string name, Callback<UserRecord> done) = 0;
  // The directory: users whose name starts with the prefix, by name, at most limit + 1 (so the
  // caller can tell there are more).
  virtual void SearchUsers(UserSearch req, Callback<std::vector<UserInfo>> done) = 0;
  // Finds, or creates as a site account, the user a site token names. unauthorized when the
  // name is a local account and !allow_local; storage_full.
  virtual void EnsureSiteUser(SiteLogin req, Callback<UserInfo> done) = 0;
  virtual void CreateSession(NewSession req, StatusCallback done) = 0;
  // unauthorized when the token is unknown or expired.
  virtual void ResolveSession(SessionLookup req, Callback<UserInfo> done) = 0;
  virtual void DeleteSession(std::string token_hash, StatusCallback done) = 0;

  // Proves the store answers (for /healthz).
  virtual void Ping(StatusCallback done) = 0;
  // Operations submitted and not yet answered (shutdown waits for them).
  virtual size_t Pending() const = 0;
};

}  // namespace chatd::store
