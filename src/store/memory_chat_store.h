// SPDX-License-Identifier: MIT
//
// store::MemoryChatStore: the ChatStore rules in memory, with no disk and no thread, for the
// core's unit tests (like LevelDB's memenv). Every operation runs when it is called, against
// maps that stand for the SQLite tables, and its callback is posted to the CompletionQueue,
// so callers see the same order and the same asynchrony as with EngineChatStore; the test
// drains the queue. Messages are encoded by proto::EncodeMessage, byte for byte as the engine
// stores them. tests/store/chat_store_test.cpp runs the same contract against both.
// Catch-up pages follow the engine's bounds (at most `limit` per source and a page of `limit`
// and about `max_bytes`); there is no history cache here, so retention does not apply.
// One thread (the test's); `*completions` must outlive it.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/chat_store.h"
#include "util/completion_queue.h"

namespace chatd::store {

class MemoryChatStore final : public ChatStore {
 public:
  MemoryChatStore(util::CompletionQueue* completions, MessageLimits limits = {});
  ~MemoryChatStore() override;

  // The free-space floor as the storage thread would report it.
  void set_storage_full(bool full) { storage_full_ = full; }

  void Send(SendRequest req, Callback<SendResult> done) override;
  void Ack(AckRequest req, Callback<AckResult> done) override;
  void FetchPage(PageRequest req, Callback<FetchResult> done) override;
  void History(HistoryRequest req, Callback<HistoryResult> done) override;
  void Read(ReadRequest req, Callback<ReadResult> done) override;
  void Join(JoinRequest req, Callback<JoinResult> done) override;
  void Leave(LeaveRequest req, Callback<RoomInfo> done) override;
  void Invite(InviteRequest req, Callback<InviteResult> done) override;
  void Members(MembersRequest req, Callback<std::vector<UserInfo>> done) override;
  void LoadUserState(UserId user, Callback<UserState> done) override;
  void Conversations(ConversationsRequest req, Callback<std::vector<ConversationSummary>> done) override;
  void CreateUser(NewUser req, Callback<UserInfo> done) override;
  void FindUser(std::string name, Callback<UserRecord> done) override;
  void SearchUsers(UserSearch req, Callback<std::vector<UserInfo>> done) override;
  void EnsureSiteUser(SiteLogin req, Callback<UserInfo> done) override;
  void CreateSession(NewSession req, StatusCallback done) override;
  void ResolveSession(SessionLookup req, Callback<UserInfo> done) override;
  void DeleteSession(std::string token_hash, StatusCallback done) override;
  void Ping(StatusCallback done) override;
  size_t Pending() const override { return *pending_; }

 private:
  struct User {
    UserRecord rec;
    Mid acked_upto = 0, joined_mid = 0, broadcast_read = 0;
  };
  struct Member {
    Mid joined = 0, read = 0;
  };
  struct Conv {
    ConvKind kind = ConvKind::kDirect;
    UserId a = 0, b = 0;
    std::string name;
    bool is_private = false;
    UserId owner = 0;
    std::map<UserId, Member> members;
    std::set<UserId> invited;
    std::vector<Mid> mids;  // increasing
  };
  struct Message {
    ConvId conv = 0;
    UserId sender = 0;
    std::string text;
    int64_t ts = 0;
    std::shared_ptr<const std::string> json;
  };
  struct Session {
    UserId user = 0;
    int64_t expires_ms = 0;
  };

  template <typename T>
  void Answer(Callback<T> done, util::Status status, T value);
  void Answer(StatusCallback done, util::Status status);

  util::Status DoSend(const SendRequest& req, SendResult* out);
  util::Status DoFetch(const PageRequest& req, FetchResult* out);
  util::Status DoHistory(const HistoryRequest& req, HistoryResult* out);
  util::Status DoRead(const ReadRequest& req, ReadResult* out);
  util::Status DoJoin(const JoinRequest& req, JoinResult* out);
  util::Status DoUserState(UserId user, UserState* out);
  util::Status FindUserByName(const std::string& name, User** out);
  util::Status FindRoom(const std::string& name, ConvId* id, Conv** out);
  ConvId DirectConv(UserId a, UserId b, bool create);
  RoomInfo InfoOf(ConvId id, const Conv& conv) const;
  std::string NameOf(UserId id) const;
  UserInfo Create(const std::string& name, const std::string& hash, bool admin, bool site, int64_t now_ms);

  util::CompletionQueue* completions_;
  MessageLimits limits_;
  std::shared_ptr<size_t> pending_;  // shared with the posted callbacks
  bool storage_full_ = false;
  Mid last_mid_ = 0;
  UserId next_user_ = 1;
  ConvId next_conv_ = kBroadcastConv + 1;
  std::map<UserId, User> users_;
  std::unordered_map<std::string, UserId> user_names_;  // folded name -> id
  std::map<ConvId, Conv> convs_;                         // conversation 1 is the broadcast feed
  std::map<std::pair<UserId, UserId>, ConvId> direct_;
  std::unordered_map<std::string, ConvId> room_names_;  // folded name -> id
  std::map<Mid, Message> messages_;
  std::map<std::pair<UserId, std::string>, Mid> cids_;  // (sender, cid) -> mid
  std::map<std::pair<UserId, Mid>, bool> deliveries_;   // (recipient, mid) -> delivered
  std::unordered_map<std::string, Session> sessions_;
};

}  // namespace chatd::store
