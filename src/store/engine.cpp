// SPDX-License-Identifier: MIT
#include "store/engine.h"

#include "store/accounts.h"
#include "store/history_cache.h"
#include "store/message_store.h"
#include "store/sqlite_db.h"
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
  std::string epoch;
  if (!(s = ReadEpoch(e->db_.get(), &epoch)).ok()) return s;
  if (!(s = HistoryCache::Open(options.history_path, epoch, &e->history_, &report->history_rebuilt)).ok()) return s;
  if (!(s = MessageStore::Open(e->db_.get(), e->accounts_.get(), e->history_.get(), Limits(options), &e->messages_)).ok()) return s;
  if (e->history_->high_water() > e->messages_->last_mid()) {
    // The cache knows messages SQLite does not: it belongs to a restored/older database file.
    e->messages_.reset();
    e->history_.reset();
    if (!(s = HistoryCache::MoveAside(options.history_path, "ahead of the database")).ok()) return s;
    if (!(s = HistoryCache::Open(options.history_path, epoch, &e->history_, &report->history_rebuilt)).ok()) return s;
    report->history_rebuilt = true;
    if (!(s = MessageStore::Open(e->db_.get(), e->accounts_.get(), e->history_.get(), Limits(options), &e->messages_)).ok()) return s;
  }
  if (!(s = e->messages_->CatchUpHistory(&report->history_caught_up)).ok()) return s;
  report->last_mid = e->messages_->last_mid();
  *out = std::move(e);
  return Status::Ok();
}

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
  Status failed = messages_->TakeWriteError();
  Status s = failed.ok() ? db_->Exec("COMMIT") : failed;
  if (!s.ok()) {
    (void)db_->Exec("ROLLBACK");
    Status r = messages_->Reload();
    if (!r.ok()) LOG_ERR("reload after failed commit: %s", r.ToString().c_str());
    return s;
  }
  // SQLite holds the batch now; the cache follows. A failed cache write only leaves the cache
  // behind, which start-up repairs.
  Status h = history_->Flush();
  if (!h.ok()) LOG_ERR("history cache write failed: %s", h.ToString().c_str());
  return Status::Ok();
}

void Engine::AbortBatch() {
  if (!in_batch_) return;
  in_batch_ = false;
  (void)db_->Exec("ROLLBACK");
  Status r = messages_->Reload();
  if (!r.ok()) LOG_ERR("reload after rollback: %s", r.ToString().c_str());
}

Status Engine::EnsureUser(const std::string& name, UserInfo* out) {
  UserRecord rec;
  Status s = accounts_->FindUser(name, &rec);
  if (s.ok()) {
    *out = rec.info;
    return s;
  }
  if (s.code() != util::Code::kNotFound) return s;
  if (storage_full_) return Status::StorageFull("the server is out of disk space");
  return accounts_->CreateUser(name, "", false, options_.clock->NowMs(), out);
}

Status Engine::RebuildHistory() {
  std::string epoch;
  Status s = ReadEpoch(db_.get(), &epoch);
  if (!s.ok()) return s;
  history_.reset();
  if (!(s = HistoryCache::MoveAside(options_.history_path, "a read failed")).ok()) return s;
  bool rebuilt = false;
  if (!(s = HistoryCache::Open(options_.history_path, epoch, &history_, &rebuilt)).ok()) return s;
  messages_->set_history(history_.get());
  int64_t copied = 0;
  if (!(s = messages_->CatchUpHistory(&copied)).ok()) return s;
  LOG_NOTICE("history cache rebuilt: %lld message(s) copied from SQLite", static_cast<long long>(copied));
  return Status::Ok();
}

Status Engine::Maintain() {
  if (history_->broken()) {
    Status r = RebuildHistory();
    if (!r.ok()) LOG_ERR("history cache rebuild failed: %s", r.ToString().c_str());
  }
  int removed = 0;
  Status s = accounts_->PurgeExpiredSessions(options_.clock->NowMs(), &removed);
  if (s.ok() && removed > 0) LOG_INFO("removed %d expired login sessions", removed);
  Status t = messages_->TrimHistory(options_.clock->NowMs());
  return s.ok() ? t : s;
}

Status Engine::Ping() {
  int64_t n = 0;
  return accounts_->CountUsers(&n);
}

}  // namespace chatd::store
