// SPDX-License-Identifier: MIT
//
// Owning wrappers around SQLite handles (STYLE R1):
//  - SqliteDb: one connection, opened with chatd's pragmas (WAL, synchronous=FULL, foreign keys,
//    busy timeout, extension loading off, defensive mode). Move-only; closes on destruction.
//  - SqliteStmt: one prepared statement; Reset() makes it reusable. Finalized on destruction.
//  - SqliteTxn: BEGIN IMMEDIATE ... COMMIT, rolled back by the destructor unless Commit() ran.
// Also Migrate(): applies the embedded schema/NNN_*.sql files in order, each in a transaction,
// tracking the version in PRAGMA user_version and refusing a database newer than the binary.
// A connection is used by one thread at a time (the storage thread in the server, the main
// thread in admin commands).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace chatd::store {

class SqliteStmt;

class SqliteDb {
 public:
  // Opens (creating if needed) the database file at `path`.
  static util::Status Open(const std::string& path, std::unique_ptr<SqliteDb>* out);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  util::Status Exec(const char* sql);
  util::Status Prepare(const char* sql, std::unique_ptr<SqliteStmt>* out);
  // A statement to prepare once, and where to keep it.
  struct Statement {
    std::unique_ptr<SqliteStmt>* stmt;
    const char* sql;
  };
  // Prepares each; the first failure is returned.
  util::Status PrepareAll(std::initializer_list<Statement> all);
  // Maps the connection's last error (or `rc`) onto a Status: SQLITE_FULL -> StorageFull,
  // constraint violations -> Conflict, busy -> Unavailable, anything else -> Internal.
  util::Status Error(int rc, std::string_view what) const;

  int64_t LastInsertRowid() const;
  int Changes() const;
  sqlite3* raw() { return db_; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

class SqliteStmt {
 public:
  SqliteStmt(SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStmt();
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  // Binding: parameters are 1-based, as in SQLite.
  SqliteStmt& Bind(int idx, int64_t value);
  SqliteStmt& Bind(int idx, std::string_view text);
  SqliteStmt& BindNull(int idx);

  // One step: true with a row ready, false when done. On error *status is set (and false).
  bool Step(util::Status* status);
  // Runs a statement that returns no rows (INSERT/UPDATE/DELETE) to completion.
  util::Status Run();

  int64_t Int(int col) const;
  std::string_view Text(int col) const;
  bool IsNull(int col) const;

  // Clears bindings and rewinds; call before reusing a cached statement.
  void Reset();

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
};

// Resets a cached statement when the scope ends, however it ends.
class StmtScope {
 public:
  explicit StmtScope(SqliteStmt* stmt) : stmt_(stmt) {}
  ~StmtScope() { stmt_->Reset(); }
  StmtScope(const StmtScope&) = delete;
  StmtScope& operator=(const StmtScope&) = delete;
  SqliteStmt* operator->() { return stmt_; }

 private:
  SqliteStmt* stmt_;
};

class SqliteTxn {
 public:
  explicit SqliteTxn(SqliteDb* db) : db_(db) {}
  ~SqliteTxn();
  SqliteTxn(const SqliteTxn&) = delete;
  SqliteTxn& operator=(const SqliteTxn&) = delete;

  util::Status Begin();  // BEGIN IMMEDIATE: take the write lock now, not at the first write
  util::Status Commit();

 private:
  SqliteDb* db_;
  bool open_ = false;
};

struct Migration {
  int version;  // the NNN of schema/NNN_name.sql
  std::string name;
  std::string_view sql;
};

// The migrations embedded in this binary, in version order.
std::vector<Migration> EmbeddedMigrations();

// Brings `db` up to the newest of `migrations`. `*from`/`*to` report the versions.
util::Status Migrate(SqliteDb* db, const std::vector<Migration>& migrations, int* from, int* to);

// The schema version stored in the database (PRAGMA user_version).
util::Status SchemaVersion(SqliteDb* db, int* version);

}  // namespace chatd::store
