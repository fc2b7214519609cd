// SPDX-License-Identifier: MIT
#include "store/webhook_queue.h"

#include "proto/frames.h"
#include "store/inbox.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kEnqueue =
    "INSERT INTO webhook_events (event, body, created_at, next_at) VALUES (?1, ?2, ?3, ?3)";
constexpr const char* kAddCheck = "INSERT INTO webhook_checks (due_at, user_id, mid) VALUES (?1, ?2, ?3)";
// A due check with what decides it (the user's acknowledgement: the folded cursor or an ack
// waiting for the fold; the delivery row) and what the event says (the message). Deleted users
// and purged messages come back as NULLs.
constexpr const char* kDueChecks =
    "SELECT c.id, c.mid, u.name, "
    "       " CHATD_ACK_CURSOR ", "
    "       d.delivered_at IS NOT NULL, m.mid IS NOT NULL, "
    "       coalesce(m.kind, 0), coalesce(m.title, ''), coalesce(m.text, ''), coalesce(m.ts, 0), "
    "       coalesce(s.name, '') "
    "FROM webhook_checks c LEFT JOIN users u ON u.id = c.user_id "
    "LEFT JOIN deliveries d ON d.user_id = c.user_id AND d.mid = c.mid "
    "LEFT JOIN messages m ON m.mid = c.mid LEFT JOIN users s ON s.id = m.sender_id "
    "WHERE c.due_at <= ?1 ORDER BY c.due_at, c.id LIMIT ?2";
constexpr const char* kDeleteCheck = "DELETE FROM webhook_checks WHERE id = ?1";
constexpr const char* kDue =
    "SELECT id, event, body, created_at, attempts FROM webhook_events WHERE next_at <= ?1 ORDER BY next_at, id LIMIT ?2";
constexpr const char* kSent = "DELETE FROM webhook_events WHERE id = ?1";
constexpr const char* kFailed = "UPDATE webhook_events SET attempts = attempts + 1, next_at = ?2 WHERE id = ?1";
constexpr const char* kCount = "SELECT count(*) FROM webhook_events";
constexpr const char* kTrim =
    "DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events ORDER BY id DESC LIMIT -1 OFFSET ?1)";
constexpr const char* kAddDropped =
    "INSERT INTO meta (key, value) VALUES ('webhook_dropped', ?1) "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?1";
constexpr const char* kDropped = "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'webhook_dropped'), 0)";

}  // namespace

Status WebhookQueue::Open(SqliteDb* db, BatchError* errors, std::unique_ptr<WebhookQueue>* out) {
  std::unique_ptr<WebhookQueue> q(new WebhookQueue(db, errors));
  Status s = db->PrepareAll({{&q->enqueue_, kEnqueue},
                             {&q->add_check_, kAddCheck},
                             {&q->due_checks_, kDueChecks},
                             {&q->delete_check_, kDeleteCheck},
                             {&q->due_, kDue},
                             {&q->sent_, kSent},
                             {&q->failed_, kFailed},
                             {&q->count_, kCount},
                             {&q->trim_, kTrim},
                             {&q->add_dropped_, kAddDropped},
                             {&q->dropped_, kDropped}});
  if (!s.ok()) return s;
  *out = std::move(q);
  return Status::Ok();
}

Status WebhookQueue::Write(SqliteStmt* st) {
  Status s = st->Run();
  return s.ok() || !errors_ ? s : errors_->Record(s);
}

Status WebhookQueue::Enqueue(const std::string& event, const std::string& data, int64_t now_ms) {
  StmtScope st(enqueue_.get());
  st->Bind(1, event).Bind(2, data).Bind(3, now_ms);
  return Write(enqueue_.get());
}

Status WebhookQueue::AddCheck(UserId user, Mid mid, int64_t due_ms) {
  StmtScope st(add_check_.get());
  st->Bind(1, due_ms).Bind(2, user).Bind(3, mid);
  return Write(add_check_.get());
}

Status WebhookQueue::MakeDueEvents(int64_t now_ms, int limit, int* made) {
  *made = 0;
  SqliteTxn txn(db_);
  Status s = txn.Begin();
  if (!s.ok()) return s;
  struct Check {
    int64_t id;
    bool fire;
    std::string data;
  };
  std::vector<Check> checks;
  {
    StmtScope st(due_checks_.get());
    st->Bind(1, now_ms).Bind(2, limit);
    while (st->Step(&s)) {
      Check c{st->Int(0), false, {}};
      Mid mid = st->Int(1);
      bool user_exists = !st->IsNull(2);
      bool acked = st->Int(3) >= mid || st->Int(4) != 0;
      bool message_exists = st->Int(5) != 0;
      c.fire = user_exists && message_exists && !acked;
      if (c.fire) {
        bool notification = st->Int(6) == 1;
        c.data = proto::EncodeUndeliveredEvent({mid, st->Text(2), notification, notification ? "" : st->Text(10),
                                                st->Text(7), st->Text(8), st->Int(9)});
      }
      checks.push_back(std::move(c));
    }
  }
  if (!s.ok()) return s;
  for (const auto& c : checks) {
    if (c.fire) {
      if (!(s = Enqueue("message.undelivered", c.data, now_ms)).ok()) return s;
      ++*made;
    }
    StmtScope st(delete_check_.get());
    st->Bind(1, c.id);
    if (!(s = Write(delete_check_.get())).ok()) return s;
  }
  return txn.Commit();
}

Status WebhookQueue::Trim(int max, int64_t* dropped) {
  *dropped = 0;
  SqliteTxn txn(db_);
  Status s = txn.Begin();
  if (!s.ok()) return s;
  {
    StmtScope st(trim_.get());
    st->Bind(1, int64_t{max});
    if (!(s = Write(trim_.get())).ok()) return s;
    *dropped = db_->Changes();
  }
  if (*dropped > 0) {
    StmtScope st(add_dropped_.get());
    st->Bind(1, *dropped);
    if (!(s = Write(add_dropped_.get())).ok()) return s;
  }
  return txn.Commit();
}

Status WebhookQueue::Due(int64_t now_ms, int limit, std::vector<WebhookEvent>* out) {
  out->clear();
  Status s;
  StmtScope st(due_.get());
  st->Bind(1, now_ms).Bind(2, limit);
  while (st->Step(&s)) {
    WebhookEvent e;
    e.id = st->Int(0);
    e.event = std::string(st->Text(1));
    e.body = proto::EncodeWebhookBody(e.id, e.event, st->Int(3), st->Text(2));
    e.attempts = st->Int(4);
    out->push_back(std::move(e));
  }
  return s;
}

Status WebhookQueue::Sent(int64_t id) {
  StmtScope st(sent_.get());
  st->Bind(1, id);
  return Write(sent_.get());
}

Status WebhookQueue::Failed(int64_t id, int64_t next_ms) {
  StmtScope st(failed_.get());
  st->Bind(1, id).Bind(2, next_ms);
  return Write(failed_.get());
}

Status WebhookQueue::Counts(int64_t* waiting, int64_t* dropped) {
  Status s;
  for (auto [stmt, into] : {std::pair{count_.get(), waiting}, std::pair{dropped_.get(), dropped}}) {
    StmtScope st(stmt);
    if (!st->Step(&s)) return s.ok() ? Status::Internal("count") : s;
    *into = st->Int(0);
  }
  return Status::Ok();
}

}  // namespace chatd::store
