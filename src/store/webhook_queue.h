// SPDX-License-Identifier: MIT
//
// store::WebhookQueue: the events chatd owes a site's backend (webhook-url), kept in SQLite
// (tables webhook_events, webhook_checks; schema 005) so each is sent at least once, also
// across a restart. Two users, each with its own connection to the database:
//   - the storage thread adds: Enqueue() an event in the batch that caused it (a read marker
//     moved, a user came online), AddCheck() for each stored 1:1 message and notification;
//   - the webhook thread (webhook::Sender) turns due checks into message.undelivered events
//     (MakeDueEvents: only when no device of the recipient acked the message), bounds the queue
//     (Trim: past webhook-queue-max the oldest are dropped and counted in the meta table), reads
//     what is due (Due) and records each attempt (Sent deletes, Failed reschedules).
// Every call is a short statement or transaction, so neither thread waits long for the other.
// One thread per object; borrows the SqliteDb.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/batch_error.h"
#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

struct WebhookEvent {
  int64_t id = 0;
  std::string event;
  std::string body;  // the JSON posted: {"id":…,"event":…,"created_at":…,"data":{…}}
  int64_t attempts = 0;
};

class WebhookQueue {
 public:
  // `errors` (the storage thread's) is poisoned by a failed write; null elsewhere.
  static util::Status Open(SqliteDb* db, BatchError* errors, std::unique_ptr<WebhookQueue>* out);

  // --- the storage thread -----------------------------------------------------------------------
  // `data` is the event's JSON object.
  util::Status Enqueue(const std::string& event, const std::string& data, int64_t now_ms);
  util::Status AddCheck(UserId user, Mid mid, int64_t due_ms);

  // --- the webhook thread -----------------------------------------------------------------------
  // Turns up to `limit` due checks into message.undelivered events; *made counts the events.
  util::Status MakeDueEvents(int64_t now_ms, int limit, int* made);
  // Drops the oldest events past `max`; *dropped counts them (also added to meta
  // 'webhook_dropped').
  util::Status Trim(int max, int64_t* dropped);
  // Up to `limit` events due by `now_ms`, in order.
  util::Status Due(int64_t now_ms, int limit, std::vector<WebhookEvent>* out);
  util::Status Sent(int64_t id);
  util::Status Failed(int64_t id, int64_t next_ms);
  // Events waiting, and events dropped so far.
  util::Status Counts(int64_t* waiting, int64_t* dropped);

 private:
  WebhookQueue(SqliteDb* db, BatchError* errors) : db_(db), errors_(errors) {}
  util::Status Write(SqliteStmt* st);

  SqliteDb* db_;
  BatchError* errors_;
  std::unique_ptr<SqliteStmt> enqueue_, add_check_, due_checks_, delete_check_, due_, sent_, failed_, count_,
      trim_, add_dropped_, dropped_;
};

}  // namespace chatd::store
