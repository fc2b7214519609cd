// SPDX-License-Identifier: MIT
#include "store/sqlite_db.h"

#include <doctest/doctest.h>

#include "test_util.h"

using namespace chatd::store;
using chatd::testing::TempDir;

TEST_CASE("migrations: a new database gets every embedded migration, in order, once") {
  TempDir dir;
  std::unique_ptr<SqliteDb> db;
  REQUIRE(SqliteDb::Open(dir / "a.db", &db).ok());
  auto migrations = EmbeddedMigrations();
  REQUIRE(migrations.size() >= 2);
  for (size_t i = 1; i < migrations.size(); ++i) CHECK(migrations[i - 1].version < migrations[i].version);
  int from = -1, to = -1;
  REQUIRE(Migrate(db.get(), migrations, &from, &to).ok());
  CHECK(from == 0);
  CHECK(to == migrations.back().version);
  int version = 0;
  REQUIRE(SchemaVersion(db.get(), &version).ok());
  CHECK(version == migrations.back().version);
  // Running again changes nothing.
  REQUIRE(Migrate(db.get(), migrations, &from, &to).ok());
  CHECK(from == to);
  REQUIRE(db->Exec("SELECT count(*) FROM users; SELECT count(*) FROM messages; SELECT * FROM offline_pool;").ok());
}

TEST_CASE("migrations: an old database is upgraded step by step, keeping its rows") {
  TempDir dir;
  std::unique_ptr<SqliteDb> db;
  REQUIRE(SqliteDb::Open(dir / "a.db", &db).ok());
  auto all = EmbeddedMigrations();
  std::vector<Migration> first(all.begin(), all.begin() + 1);
  int from = 0, to = 0;
  REQUIRE(Migrate(db.get(), first, &from, &to).ok());
  CHECK(to == 1);
  REQUIRE(db->Exec("INSERT INTO users (name, created_at) VALUES ('old', 1)").ok());
  REQUIRE(Migrate(db.get(), all, &from, &to).ok());
  CHECK(from == 1);
  CHECK(to == all.back().version);
  std::unique_ptr<SqliteStmt> st;
  REQUIRE(db->Prepare("SELECT name, acked_upto FROM users", &st).ok());
  chatd::util::Status s;
  REQUIRE(st->Step(&s));
  CHECK(st->Text(0) == "old");
  CHECK(st->Int(1) == 0);
}

TEST_CASE("migrations: a database newer than the binary is refused with a clear message") {
  TempDir dir;
  std::unique_ptr<SqliteDb> db;
  REQUIRE(SqliteDb::Open(dir / "a.db", &db).ok());
  int from = 0, to = 0;
  REQUIRE(Migrate(db.get(), EmbeddedMigrations(), &from, &to).ok());
  REQUIRE(db->Exec("PRAGMA user_version = 999").ok());
  auto s = Migrate(db.get(), EmbeddedMigrations(), &from, &to);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("newer chatd") != std::string::npos);
  CHECK(s.message().find("999") != std::string::npos);
}

TEST_CASE("migrations: a failing migration leaves the database at the last good version") {
  TempDir dir;
  std::unique_ptr<SqliteDb> db;
  REQUIRE(SqliteDb::Open(dir / "a.db", &db).ok());
  auto migrations = EmbeddedMigrations();
  migrations.push_back(Migration{migrations.back().version + 1, "broken.sql", "CREATE TABLE x (a); SELEC nonsense;"});
  int from = 0, to = 0;
  auto s = Migrate(db.get(), migrations, &from, &to);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("broken.sql") != std::string::npos);
  int version = 0;
  REQUIRE(SchemaVersion(db.get(), &version).ok());
  CHECK(version == migrations[migrations.size() - 2].version);
  CHECK_FALSE(db->Exec("SELECT * FROM x").ok());  // rolled back
}

TEST_CASE("sqlite: the connection runs with chatd's pragmas") {
  TempDir dir;
  std::unique_ptr<SqliteDb> db;
  REQUIRE(SqliteDb::Open(dir / "a.db", &db).ok());
  std::unique_ptr<SqliteStmt> st;
  chatd::util::Status s;
  REQUIRE(db->Prepare("PRAGMA journal_mode", &st).ok());
  REQUIRE(st->Step(&s));
  CHECK(st->Text(0) == "wal");
  REQUIRE(db->Prepare("PRAGMA synchronous", &st).ok());
  REQUIRE(st->Step(&s));
  CHECK(st->Int(0) == 2);  // FULL
  REQUIRE(db->Prepare("PRAGMA foreign_keys", &st).ok());
  REQUIRE(st->Step(&s));
  CHECK(st->Int(0) == 1);
  // Extension loading is off.
  CHECK_FALSE(db->Exec("SELECT load_extension('nope')").ok());
}
