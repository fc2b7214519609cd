// SPDX-License-Identifier: MIT
//
// store::EngineChatStore: the ChatStore (and SiteStore) of the server. Each operation becomes one job on a
// Storage (the storage thread's group commit, or InlineStorage in tests) that calls the Engine;
// its callback gets the job's status merged with the commit's (a job that succeeded in a batch
// that failed to commit fails with it), on the network thread. The free-space floor is applied
// here: operations that add data answer storage_full while the storage thread says the disk
// is below it (Engine::storage_full()).
// Network thread only; `*storage` must outlive it and every callback it hands out.
#pragma once

#include "store/chat_store.h"
#include "store/site_store.h"
#include "store/storage.h"

namespace chatd::store {

class EngineChatStore final : public ChatStore, public SiteStore {
 public:
  explicit EngineChatStore(Storage* storage) : storage_(storage) {}

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
  size_t Pending() const override { return storage_->Pending(); }

  void CheckApiKey(std::string key_hash, Callback<std::string> done) override;
  void Publish(PublishRequest req, Callback<PublishResult> done) override;
  void DeliveryStatus(std::string key_hash, Mid mid, Callback<DeliveryReport> done) override;
  void UnreadOf(std::string key_hash, std::string name, Callback<UserUnread> done) override;
  void RecordEvent(std::string event, std::string data, int64_t now_ms, StatusCallback done) override;

 private:
  // Runs `op(engine, &value) -> Status` as one job and answers `done` with the result.
  template <typename T, typename Op>
  void Run(Op op, Callback<T> done);
  template <typename Op>
  void RunStatus(Op op, StatusCallback done);

  Storage* storage_;
};

}  // namespace chatd::store
