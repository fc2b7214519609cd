// SPDX-License-Identifier: MIT
#include "store/engine.h"

#include <time.h>

#include "store/accounts.h"
#include "store/api_keys.h"
#include "store/catch_up_reader.h"
#include "store/directory.h"
#include "store/history_cache.h"
#include "store/message_store.h"
#include "store/room_store.h"
#include "store/sqlite_db.h"
#include "store/webhook_queue.h"
#include "util/log.h"

namespace chatd::store {

using util::Status;

namespace {

Status ReadEpoch(SqliteDb* db, std::string* epoch) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db->Prepare("SELECT value FROM meta WHERE key = 'epoch'", &st);
  if (!s.ok()) return s;
  if (!st->Step(&s)) return s.ok() ? Status::Internal("database has no epoch") : s;
  *epoch = std::string(st->Text(0));
  return Status::Ok();
}

MessageLimits Limits(const EngineOptions& o) {
  MessageLimits l;
  l.pool_max_messages = o.pool_max_messages;
  l.pool_max_bytes = o.pool_max_bytes;
  l.history_max_messages = o.history_max_messages;
  l.history_max_days = o.history_max_days;
  l.max_rooms_per_user = o.max_rooms_per_user;
  l.dedupe_days = o.dedupe_days;
  l.dedupe_max_entries = o.dedupe_max_entries;
  return l;
}

}  // namespace

Status Engine::Open(const EngineOptions& options, std::unique_ptr<Engine>* out, OpenReport* report) {
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  Status s = SqliteDb::Open(options.db_path, &e->db_);
  if (!s.ok()) return s;
  s = Migrate(e->db_.get(), EmbeddedMigrations(), &report->schema_from, &report->schema_to);
  if (!s.ok()) return s;
  if (!(s = Accounts::Open(e->db_.get(), &e->accounts_)).ok()) return s;
  if (!(s = ApiKeys::Open(e->db_.get(), &e->api_keys_)).ok()) return s;
  std::string epoch;
  if (!(s = ReadEpoch(e->db_.get(), &epoch)).ok()) return s;
  if (!(s = HistoryCache::Open(options.history_path, epoch, &e->history_, &report->history_rebuilt)).ok()) return s;
  MessageLimits limits = Limits(options);
  SqliteDb* db = e->db_.get();
  if (!(s = Directory::Open(db, e->accounts_.get(), &e->errors_, &e->directory_)).ok()) return s;
  if (!(s = MessageStore::Open(db, e->directory_.get(), e->history_.get(), &e->errors_, limits,
                                    options.clock->NowMs(), &e->messages_)).ok()) {
    return s;
  }
  if (!(s = CatchUpReader::Open(db, e->directory_.get(), e->history_.get(), e->messages_.get(), &e->pages_)).ok()) {
    return s;
  }
  if (!(s = RoomStore::Open(db, e->directory_.get(), e->messages_.get(), &e->errors_, limits.max_rooms_per_user,
                            &e->rooms_))
           .ok()) {
    return s;
  }
  if (options.webhooks) {
    if (!(s = WebhookQueue::Open(db, &e->errors_, &e->webhooks_)).ok()) return s;
    e->messages_->set_webhooks(e->webhooks_.get(), options.undelivered_after_ms);
    e->rooms_->set_webhooks(e->webhooks_.get());
  }
  if (e->history_->high_water() > e->messages_->last_mid()) {
    // The cache knows messages SQLite does not: it belongs to a restored/older database file.
    if (!(s = e->history_->Rebuild("ahead of the database")).ok()) return s;
    report->history_rebuilt = true;
  }
  s = e->messages_->CatchUpHistory(&report->history_caught_up);
  if (!s.ok()) {
    // A cache that cannot be written (a full disk) must not keep the server from starting:
    // SQLite answers history until the storage thread has caught the cache up.
    if (e->history_->usable()) return s;
    LOG_WARN("history cache cannot catch up at start (%s): serving history from SQLite for now",
             s.ToString().c_str());
  }
  e->RecordHistoryState();
  (void)e->history_->TakeStateChange();
  report->last_mid = e->messages_->last_mid();
  *out = std::move(e);
  return Status::Ok();
}

Status Engine::FoldPool() {
  if (in_batch_) return messages_->FoldPool();
  Status s = BeginBatch();
  if (!s.ok()) return s;
  (void)messages_->FoldPool();  // a failure is recorded in the batch: the commit says it
  return CommitBatch();
}

size_t Engine::pool_waiting() const { return messages_->pool_waiting(); }

bool Engine::fold_pending() const { return messages_->fold_pending(); }

Engine::~Engine() {
  if (in_batch_) AbortBatch();
}

Status Engine::BeginBatch() {
  Status s = db_->Exec("BEGIN IMMEDIATE");
  in_batch_ = s.ok();
  return s;
}

Status Engine::CommitBatch() {
  in_batch_ = false;
  Status failed = errors_.Take();
  Status s = failed.ok() ? db_->Exec("COMMIT") : failed;
  if (!s.ok()) {
    (void)db_->Exec("ROLLBACK");
    Reload();
    return s;
  }
  // SQLite holds the batch now; the cache follows. A failed cache write makes the cache
  // untrusted (it logs that once); the storage thread then recovers it (RecoverHistory).
  (void)history_->Flush();
  if (history_->TakeStateChange()) RecordHistoryState();
  return Status::Ok();
}

void Engine::AbortBatch() {
  if (!in_batch_) return;
  in_batch_ = false;
  (void)db_->Exec("ROLLBACK");
  Reload();
}

void Engine::Reload() {
  // The rolled-back batch may have made rows the caches hold, and used mids.
  (void)errors_.Take();
  directory_->Reload();
  api_keys_->Invalidate();
  Status r = messages_->Reload();
  if (!r.ok()) LOG_ERR("reload after a rolled-back batch: %s", r.ToString().c_str());
}

Status Engine::EnsureUser(const std::string& name, bool allow_local, UserInfo* out) {
  UserRecord rec;
  Status s = accounts_->FindUser(name, &rec);
  if (s.ok()) {
    // A site vouches for its own users only: its token must not open a local account (an
    // admin's, say) that happens to have the same name.
    if (!rec.site_user && !allow_local) {
      return Status::Unauthorized("'" + rec.info.name + "' is a local account here; a site token cannot log in as it");
    }
    *out = rec.info;
    return s;
  }
  if (s.code() != util::Code::kNotFound) return s;
  if (storage_full_) return Status::StorageFull("the server is out of disk space; try again later");
  return accounts_->CreateUser(name, "", false, options_.clock->NowMs(), out, true);
}

Status Engine::RebuildHistory() {
  Status s = history_->Rebuild(history_->problem().empty() ? "rebuild requested" : history_->problem());
  if (s.ok()) {
    int64_t copied = 0;
    if ((s = messages_->CatchUpHistory(&copied)).ok()) {
      LOG_NOTICE("history cache rebuilt: %lld message(s) copied from SQLite", static_cast<long long>(copied));
    }
  }
  if (history_->TakeStateChange()) RecordHistoryState();
  return s;
}

Status Engine::RecoverHistory() {
  if (history_->usable()) return Status::Ok();
  if (history_->broken()) return RebuildHistory();
  // Behind: RocksDB refused a write (its error sticks until Resume()). Once it takes writes
  // again, copy what it missed from SQLite; the cache is trusted again only after that.
  std::string why = history_->problem();
  Status s = history_->Resume();
  if (s.ok()) {
    int64_t copied = 0;
    s = messages_->CatchUpHistory(&copied);
    if (s.ok()) {
      LOG_NOTICE("history cache caught up after a failed write: %lld message(s) copied from SQLite",
                 static_cast<long long>(copied));
      history_->EndOutage();
      resume_failures_ = 0;
    }
  }
  if (!s.ok() && resume_failures_++ == 0) {
    LOG_WARN("history cache still cannot be written (%s); retrying in the background", s.ToString().c_str());
  }
  if (history_->TakeStateChange()) RecordHistoryState();
  return s;
}

void Engine::RecordHistoryState() {
  // For `chatd stats`, which reads the database: best effort, outside any batch (a full disk
  // may refuse even this one small row; the log has said it already).
  std::string state = "ok";
  if (!history_->usable()) {
    char when[32] = "?";
    time_t t = static_cast<time_t>(options_.clock->NowMs() / 1000);
    struct tm tm {};
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    state = std::string(history_->broken() ? "broken" : "behind") + " since " + when + " (" + history_->problem() +
            "): history is answered from SQLite";
  }
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('history_cache', ?1)", &st);
  if (s.ok()) {
    st->Bind(1, state);
    s = st->Run();
  }
  if (!s.ok()) LOG_DEBUG("recording the history cache state: %s", s.ToString().c_str());
}

Status Engine::Maintain() {
  if (!history_->usable()) {
    Status r = RecoverHistory();
    if (!r.ok()) LOG_DEBUG("history cache recovery: %s", r.ToString().c_str());
  }
  int removed = 0;
  Status s = accounts_->PurgeExpiredSessions(options_.clock->NowMs(), &removed);
  if (s.ok() && removed > 0) LOG_INFO("removed %d expired login sessions", removed);
  Status t = messages_->TrimHistory(options_.clock->NowMs());
  return s.ok() ? t : s;
}

bool Engine::history_needs_recovery() const { return !history_->usable(); }

Status Engine::Ping() {
  int64_t n = 0;
  return accounts_->CountUsers(&n);
}

}  // namespace chatd::store
