// SPDX-License-Identifier: MIT
#include "store/accounts.h"

namespace chatd::store {

using util::Status;

namespace {

constexpr const char* kInsertUser =
    "INSERT INTO users (name, password_hash, is_admin, created_at, joined_mid, site_user) "
    "VALUES (?1, ?2, ?3, ?4, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), ?5)";
constexpr const char* kFindUser =
    "SELECT id, name, is_admin, password_hash, created_at, site_user FROM users WHERE name = ?1";
constexpr const char* kFindUserById = "SELECT id, name, is_admin FROM users WHERE id = ?1";
constexpr const char* kListUsers =
    "SELECT id, name, is_admin, password_hash, created_at, site_user FROM users ORDER BY name";
// NOCASE folds ASCII only and compares the rest byte by byte; 0xFF never occurs in UTF-8, so
// prefix + "\xff" is above every name that starts with the prefix.
constexpr const char* kSearchUsers =
    "SELECT id, name, is_admin FROM users WHERE name >= ?1 AND name < ?2 ORDER BY name LIMIT ?3";
constexpr const char* kDeleteUser = "DELETE FROM users WHERE name = ?1";
constexpr const char* kSetPassword = "UPDATE users SET password_hash = ?2 WHERE name = ?1";
constexpr const char* kCountUsers = "SELECT count(*) FROM users";
constexpr const char* kInsertSession =
    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kResolveSession =
    "SELECT u.id, u.name, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.token_hash = ?1 AND s.expires_at > ?2";
constexpr const char* kDeleteSession = "DELETE FROM sessions WHERE token_hash = ?1";
constexpr const char* kRevokeSessions = "DELETE FROM sessions WHERE user_id = ?1";
constexpr const char* kPurgeSessions = "DELETE FROM sessions WHERE expires_at <= ?1";

void ReadRecord(SqliteStmt* st, UserRecord* out) {
  out->info.id = st->Int(0);
  out->info.name = std::string(st->Text(1));
  out->info.admin = st->Int(2) != 0;
  out->password_hash = std::string(st->Text(3));
  out->created_at = st->Int(4);
  out->site_user = st->Int(5) != 0;
}

}  // namespace

Status Accounts::Open(SqliteDb* db, std::unique_ptr<Accounts>* out) {
  std::unique_ptr<Accounts> a(new Accounts(db));
  Status s = db->PrepareAll({{&a->insert_user_, kInsertUser},
                             {&a->find_user_, kFindUser},
                             {&a->find_user_id_, kFindUserById},
                             {&a->search_users_, kSearchUsers},
                             {&a->insert_session_, kInsertSession},
                             {&a->resolve_session_, kResolveSession},
                             {&a->delete_session_, kDeleteSession}});
  if (!s.ok()) return s;
  *out = std::move(a);
  return Status::Ok();
}

Status Accounts::CreateUser(const std::string& name, const std::string& password_hash, bool admin, int64_t now_ms,
                            UserInfo* out, bool site_user) {
  StmtScope st(insert_user_.get());
  st->Bind(1, name).Bind(2, password_hash).Bind(3, admin ? 1 : 0).Bind(4, now_ms).Bind(5, site_user ? 1 : 0);
  Status s = st->Run();
  if (s.code() == util::Code::kConflict) return Status::Conflict("the name '" + name + "' is taken");
  if (!s.ok()) return s;
  out->id = db_->LastInsertRowid();
  out->name = name;
  out->admin = admin;
  return Status::Ok();
}

Status Accounts::FindUser(const std::string& name, UserRecord* out) {
  StmtScope st(find_user_.get());
  st->Bind(1, name);
  Status s;
  if (!st->Step(&s)) return s.ok() ? Status::NotFound("no user '" + name + "'") : s;
  ReadRecord(find_user_.get(), out);
  return Status::Ok();
}

Status Accounts::FindUserById(UserId id, UserInfo* out) {
  StmtScope st(find_user_id_.get());
  st->Bind(1, id);
  Status s;
  if (!st->Step(&s)) return s.ok() ? Status::NotFound("no user #" + std::to_string(id)) : s;
  out->id = st->Int(0);
  out->name = std::string(st->Text(1));
  out->admin = st->Int(2) != 0;
  return Status::Ok();
}

Status Accounts::SearchUsers(const std::string& prefix, int limit, std::vector<UserInfo>* out) {
  out->clear();
  StmtScope st(search_users_.get());
  st->Bind(1, prefix).Bind(2, prefix + "\xff").Bind(3, static_cast<int64_t>(limit));
  return ReadInfoRows(search_users_.get(), out);
}

Status Accounts::ReadInfoRows(SqliteStmt* st, std::vector<UserInfo>* out) {
  Status s;
  while (st->Step(&s)) {
    UserInfo u;
    u.id = st->Int(0);
    u.name = std::string(st->Text(1));
    u.admin = st->Int(2) != 0;
    out->push_back(std::move(u));
  }
  return s;
}

Status Accounts::ListUsers(std::vector<UserRecord>* out) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kListUsers, &st);
  if (!s.ok()) return s;
  while (st->Step(&s)) {
    UserRecord r;
    ReadRecord(st.get(), &r);
    out->push_back(std::move(r));
  }
  return s;
}

Status Accounts::DeleteUser(const std::string& name) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kDeleteUser, &st);
  if (!s.ok()) return s;
  st->Bind(1, name);
  if (!(s = st->Run()).ok()) return s;
  if (db_->Changes() == 0) return Status::NotFound("no user '" + name + "'");
  return Status::Ok();
}

Status Accounts::SetPassword(const std::string& name, const std::string& password_hash) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kSetPassword, &st);
  if (!s.ok()) return s;
  st->Bind(1, name).Bind(2, password_hash);
  if (!(s = st->Run()).ok()) return s;
  if (db_->Changes() == 0) return Status::NotFound("no user '" + name + "'");
  return Status::Ok();
}

Status Accounts::CountUsers(int64_t* out) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(kCountUsers, &st);
  if (!s.ok()) return s;
  if (!st->Step(&s)) return s;
  *out = st->Int(0);
  return Status::Ok();
}

Status Accounts::CreateSession(UserId user, const std::string& token_hash, int64_t now_ms, int64_t expires_ms) {
  StmtScope st(insert_session_.get());
  st->Bind(1, token_hash).Bind(2, user).Bind(3, now_ms).Bind(4, expires_ms);
  return st->Run();
}

Status Accounts::ResolveSession(const std::string& token_hash, int64_t now_ms, UserInfo* out) {
  StmtScope st(resolve_session_.get());
  st->Bind(1, token_hash).Bind(2, now_ms);
  Status s;
  if (!st->Step(&s)) return s.ok() ? Status::Unauthorized("unknown or expired token") : s;
  out->id = st->Int(0);
  out->name = std::string(st->Text(1));
  out->admin = st->Int(2) != 0;
  return Status::Ok();
}

Status Accounts::DeleteSession(const std::string& token_hash) {
  StmtScope st(delete_session_.get());
  st->Bind(1, token_hash);
  return st->Run();
}

Status Accounts::DeleteCounting(const char* sql, int64_t arg, int* removed) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db_->Prepare(sql, &st);
  if (!s.ok()) return s;
  st->Bind(1, arg);
  if (!(s = st->Run()).ok()) return s;
  *removed = db_->Changes();
  return Status::Ok();
}

Status Accounts::RevokeSessions(UserId user, int* removed) { return DeleteCounting(kRevokeSessions, user, removed); }

Status Accounts::PurgeExpiredSessions(int64_t now_ms, int* removed) {
  return DeleteCounting(kPurgeSessions, now_ms, removed);
}

}  // namespace chatd::store
