// SPDX-License-Identifier: MIT
//
// store::ApiKeys: the keys a site's backend calls the HTTP API with (table api_keys, schema
// 005). Only a key's SHA-256 is kept; `chatd apikey add` prints the key once. Check() compares
// the presented key's hash with every valid one in constant time (no early exit, so the answer
// time says nothing about how close a guess was). The valid hashes are kept in memory and read
// again whenever the database changed under another connection (PRAGMA data_version): a key
// the admin command adds or revokes while the server runs counts from the next request.
// One thread at a time (the storage thread, or the admin command's); borrows the SqliteDb.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class ApiKeys {
 public:
  static util::Status Open(SqliteDb* db, std::unique_ptr<ApiKeys>* out);

  // The name of the valid key whose SHA-256 (hex) is `key_hash`; unauthorized otherwise.
  util::Status Check(std::string_view key_hash, std::string* name);

  // conflict when a key of that name exists (revoked ones too: names are never reused).
  util::Status Add(const std::string& name, const std::string& key_hash, int64_t now_ms);
  util::Status List(std::vector<ApiKeyInfo>* out);
  // not_found when there is no such key; revoking twice keeps the first time.
  util::Status Revoke(const std::string& name, int64_t now_ms);

  // Forgets the loaded hashes (after a rolled-back batch, or a write on this connection).
  void Invalidate() { loaded_ = false; }

 private:
  explicit ApiKeys(SqliteDb* db) : db_(db) {}
  util::Status Load();

  SqliteDb* db_;
  bool loaded_ = false;
  int64_t data_version_ = -1;
  std::vector<std::pair<std::string, std::string>> valid_;  // (key hash, name)
  std::unique_ptr<SqliteStmt> data_version_st_, valid_st_, insert_, list_, revoke_;
};

}  // namespace chatd::store
