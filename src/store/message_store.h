// SPDX-License-Identifier: MIT
//
// store::MessageStore: messages and the offline pool in SQLite (schema 002), mirrored into the
// HistoryCache. See docs/storage.md for the data model; in short:
//   - every accepted message is one `messages` row with a server id `mid` (increasing);
//   - a 1:1 message's row names its recipient; its `deliveries` row (the offline pool) and the
//     acks that cover it (appended `marks` rows) are folded in the background (Inbox);
//   - users.acked_upto, raised by the unfolded acks, is how far the user's devices have
//     acknowledged: rows above it are undelivered and are sent again on the next hello
//     without a cursor;
//   - a resend with the same (sender_id, cid) gets the same mid, also after a restart, for
//     the messages of the dedupe window (Dedupe: days, from memory).
// Operations check everything that can refuse the request before writing; a failed write
// poisons the batch (BatchError: Engine rolls it back and answers every job in it with it).
// Catch-up pages are CatchUpReader's; rooms and read markers RoomStore's.
// Storage thread only; borrows the SqliteDb, Directory, HistoryCache and BatchError (all
// outlive it).
#pragma once

#include <memory>
#include <unordered_set>
#include <string>
#include <unordered_map>

#include "store/batch_error.h"
#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class Dedupe;
class Directory;
class HistoryCache;
class Inbox;
class WebhookQueue;

class MessageStore {
 public:
  static util::Status Open(SqliteDb* db, Directory* directory, HistoryCache* history, BatchError* errors,
                           MessageLimits limits, int64_t now_ms, std::unique_ptr<MessageStore>* out);
  ~MessageStore();

  // The highest mid given out (also when a purge removed it); the next message gets one more.
  Mid last_mid() const { return last_mid_; }

  // Stores a message (see SendResult). Refusals: NotFound (no such user or room), Forbidden
  // (broadcast by a non-admin, room not joined), QuotaExceeded (recipient's pool is full),
  // StorageFull (`storage_full`, checked after those, so a resend is still answered).
  util::Status Send(const SendRequest& req, bool storage_full, int64_t now_ms, SendResult* out);

  // Stores a site's notification (see PublishRequest; the API key is checked already and is
  // `key_name`): to users and room members, one row in the notification conversation and a
  // delivery row each; to everyone, a row in the broadcast feed. Users whose pool is full are
  // left out (refused); all of them: QuotaExceeded. NotFound lists unknown names in
  // out->unknown (callers that `create` make them first). StorageFull after the dup check.
  util::Status Publish(const PublishRequest& req, const std::string& key_name, bool storage_full, PublishResult* out);
  // Who got message `mid` and who read it. NotFound when there is no such message.
  util::Status DeliveryStatus(Mid mid, DeliveryReport* out);

  // The user's devices have everything up to `upto`: their undelivered rows up to there
  // become delivered. *delivered (optional): for each sender of a 1:1 message this marked, the
  // largest such mid (their "delivered" receipt).
  util::Status Ack(UserId user, Mid upto, int64_t now_ms, std::vector<std::pair<UserId, Mid>>* delivered = nullptr);
  // How far the user's devices acknowledged, and the newest mid when the account was made.
  util::Status Marks(UserId user, Mid* acked_upto, Mid* joined_mid);

  // A page of a conversation, newest `limit` before `before` (0 = newest), returned oldest first:
  // at most `limit` messages and about `max_bytes` of them (always at least one); `more` when
  // older ones exist. From the cache while it is trusted, from SQLite beyond it.
  // The user's conversations, newest activity first (ChatStore::Conversations).
  util::Status Conversations(UserId user, int limit, std::vector<ConversationSummary>* out);
  util::Status History(const UserInfo& user, const std::string& with, const std::string& room, Mid before, int limit,
                       HistoryResult* out, size_t max_bytes = 1 << 20);

  // Copies every message with mid > history.high_water() from SQLite into the cache.
  util::Status CatchUpHistory(int64_t* copied);
  // Applies history retention to the conversations written since the last call.
  util::Status TrimHistory(int64_t now_ms);

  // Webhooks on: each stored 1:1 message and notification gets an undelivered check.
  void set_webhooks(WebhookQueue* queue, int64_t undelivered_after_ms) {
    webhooks_ = queue;
    undelivered_after_ms_ = undelivered_after_ms;
  }

  // Re-reads in-memory state after a rolled-back batch.
  util::Status Reload();

  // Folds the pool's appended tail and acks into `deliveries` and users.acked_upto (Inbox):
  // readers of those tables call it first; the storage thread calls it in the background.
  util::Status FoldPool();
  // The same, only when something of `user`'s is waiting (readers of one user's pool).
  util::Status FoldPoolFor(UserId user);
  // Rows and acks waiting for the fold.
  size_t pool_waiting() const;
  // Something for the fold to do: rows or marks waiting, or the fold mark behind the newest
  // message (rooms and broadcasts leave nothing else; the mark bounds what a start reads back).
  bool fold_pending() const;
  // The pool's tail and unfolded marks (RoomStore appends read markers to it).
  Inbox& inbox() { return *inbox_; }

 private:
  MessageStore(SqliteDb* db, Directory* directory, HistoryCache* history, BatchError* errors, MessageLimits limits);
  util::Status Prepare(int64_t now_ms);
  util::Status LoadLastMid();
  util::Status PoolUsage(UserId user, int64_t* count, int64_t* bytes);
  // Writes a chat message's row and remembers its (sender, cid) in the dedupe window.
  util::Status Insert(Mid mid, ConvId conv, const SendRequest& req, UserId recipient);
  // The "!notifications" history: broadcasts and the user's notifications, newest first.
  util::Status NotificationHistory(const UserInfo& user, Mid before, int limit,
                                   std::vector<std::shared_ptr<const std::string>>* newest_first);
  // Who a publish goes to: `recipients` (sorted, each once), or the names that are no users.
  util::Status PublishRecipients(const PublishRequest& req, std::vector<UserInfo>* recipients,
                                 std::vector<std::string>* unknown);

  SqliteDb* db_;
  Directory* directory_;
  HistoryCache* history_;
  BatchError* errors_;
  MessageLimits limits_;
  Mid last_mid_ = 0;
  WebhookQueue* webhooks_ = nullptr;
  int64_t undelivered_after_ms_ = 0;

  struct PoolUse {
    int64_t count = 0, bytes = 0;
  };
  // Undelivered rows per recipient, counted once from the pool on the first send to them, then
  // kept by each send and ack (O(1) per send); dropped by Reload() (a rolled-back batch).
  std::unordered_map<UserId, PoolUse> pool_use_;
  std::unordered_set<ConvId> touched_convs_;  // written since the last TrimHistory()

  std::unique_ptr<Inbox> inbox_;  // the pool above the fold mark, and the acks not folded
  std::unique_ptr<Dedupe> dedupe_;  // (sender, cid) -> mid for the recent window
  std::unique_ptr<SqliteStmt> insert_message_, pool_usage_, marks_, older_in_conv_, insert_notification_,
      insert_notice_, recipients_of_, message_info_, older_notices_, room_status_, everyone_status_, conversations_, message_by_mid_;
};

}  // namespace chatd::store
