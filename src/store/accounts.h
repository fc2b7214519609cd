// SPDX-License-Identifier: MIT
//
// store::Accounts: users and login sessions in SQLite (tables `users`, `sessions`, schema 001).
// Synchronous; it borrows a SqliteDb (`*db` must outlive it) and is used by one thread: the
// storage thread in the server, the main thread in `chatd user ...`. Passwords arrive already
// hashed (auth::HashPassword runs elsewhere); tokens arrive already hashed (auth::TokenHash).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class Accounts {
 public:
  static util::Status Open(SqliteDb* db, std::unique_ptr<Accounts>* out);

  // Conflict if the name is taken (case-insensitively). `site_user`: made by a site token.
  util::Status CreateUser(const std::string& name, const std::string& password_hash, bool admin, int64_t now_ms,
                          UserInfo* out, bool site_user = false);
  // NotFound if there is no such user.
  util::Status FindUser(const std::string& name, UserRecord* out);
  util::Status FindUserById(UserId id, UserInfo* out);
  util::Status ListUsers(std::vector<UserRecord>* out);
  // Names starting with `prefix` (ASCII case ignored, as the names' collation does), in name
  // order, at most `limit`: an index range, never a scan of the table.
  util::Status SearchUsers(const std::string& prefix, int limit, std::vector<UserInfo>* out);
  // Steps `st` to its end, one UserInfo per row of (id, name, is_admin) columns.
  static util::Status ReadInfoRows(SqliteStmt* st, std::vector<UserInfo>* out);
  util::Status DeleteUser(const std::string& name);
  util::Status SetPassword(const std::string& name, const std::string& password_hash);
  util::Status CountUsers(int64_t* out);

  util::Status CreateSession(UserId user, const std::string& token_hash, int64_t now_ms, int64_t expires_ms);
  // Unauthorized if the token is unknown or expired.
  util::Status ResolveSession(const std::string& token_hash, int64_t now_ms, UserInfo* out);
  util::Status DeleteSession(const std::string& token_hash);
  // Revokes every login of the user (after a password change).
  util::Status RevokeSessions(UserId user, int* removed);
  // Removes expired sessions; *removed counts them.
  util::Status PurgeExpiredSessions(int64_t now_ms, int* removed);

 private:
  explicit Accounts(SqliteDb* db) : db_(db) {}
  // Runs a DELETE taking one argument; *removed counts the rows.
  util::Status DeleteCounting(const char* sql, int64_t arg, int* removed);
  SqliteDb* db_;
  std::unique_ptr<SqliteStmt> insert_user_, find_user_, find_user_id_, search_users_, insert_session_, resolve_session_,
      delete_session_;
};

}  // namespace chatd::store
