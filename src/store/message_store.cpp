// SPDX-License-Identifier: MIT
#include "store/message_store.h"

#include "store/history_cache.h"

namespace chatd::store {

using util::Status;

Status MessageStore::Open(SqliteDb* db, HistoryCache* history, std::unique_ptr<MessageStore>* out) {
  std::unique_ptr<MessageStore> m(new MessageStore(db, history));
  Status s = m->Reload();
  if (!s.ok()) return s;
  *out = std::move(m);
  return Status::Ok();
}

Status MessageStore::Reload() {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare("SELECT coalesce(max(mid), 0) FROM messages", &st);
  if (!s.ok()) return s;
  if (!st->Step(&s)) return s;
  last_mid_ = st->Int(0);
  return Status::Ok();
}

Status MessageStore::CatchUpHistory(int64_t* copied) {
  *copied = 0;
  return Status::Ok();
}

}  // namespace chatd::store
