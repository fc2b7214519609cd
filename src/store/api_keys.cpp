// SPDX-License-Identifier: MIT
#include "store/api_keys.h"

#include "auth/crypto.h"
#include "proto/names.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
constexpr const char* kDataVersion = "PRAGMA data_version";
constexpr const char* kValid = "SELECT key_hash, name FROM api_keys WHERE revoked_at IS NULL";
constexpr const char* kInsert = "INSERT INTO api_keys (name, key_hash, created_at) VALUES (?1, ?2, ?3)";
constexpr const char* kList = "SELECT name, created_at, coalesce(revoked_at, 0) FROM api_keys ORDER BY name";
constexpr const char* kRevoke = "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL";
constexpr const char* kExists = "SELECT 1 FROM api_keys WHERE name = ?1";

}  // namespace

Status ApiKeys::Open(SqliteDb* db, std::unique_ptr<ApiKeys>* out) {
  std::unique_ptr<ApiKeys> k(new ApiKeys(db));
  Status s = db->PrepareAll({{&k->data_version_st_, kDataVersion},
                             {&k->valid_st_, kValid},
                             {&k->insert_, kInsert},
                             {&k->list_, kList},
                             {&k->revoke_, kRevoke}});
  if (!s.ok()) return s;
  *out = std::move(k);
  return Status::Ok();
}

Status ApiKeys::Load() {
  Status s;
  int64_t version = -1;
  {
    StmtScope st(data_version_st_.get());
    if (!st->Step(&s)) return s.ok() ? Status::Internal("data_version") : s;
    version = st->Int(0);
  }
  if (loaded_ && version == data_version_) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> valid;
  {
    StmtScope st(valid_st_.get());
    while (st->Step(&s)) valid.emplace_back(std::string(st->Text(0)), std::string(st->Text(1)));
  }
  if (!s.ok()) return s;
  valid_ = std::move(valid);
  data_version_ = version;
  loaded_ = true;
  return Status::Ok();
}

Status ApiKeys::Check(std::string_view key_hash, std::string* name) {
  Status s = Load();
  if (!s.ok()) return s;
  const std::string* found = nullptr;
  for (const auto& [hash, key_name] : valid_) {
    // Every hash is compared, match or not.
    if (auth::ConstantTimeEqual(hash, key_hash) && !found) found = &key_name;
  }
  if (!found) return Status::Unauthorized("unknown or revoked API key");
  *name = *found;
  return Status::Ok();
}

Status ApiKeys::Add(const std::string& name, const std::string& key_hash, int64_t now_ms) {
  if (!proto::ValidUserName(name)) {
    return Status::BadRequest("a key name is 1-32 characters of letters, digits, '.', '_' and '-'");
  }
  std::unique_ptr<SqliteStmt> exists;
  Status s = db_->Prepare(kExists, &exists);
  if (!s.ok()) return s;
  exists->Bind(1, name);
  if (exists->Step(&s)) return Status::Conflict("there is a key named '" + name + "' already (revoked keys keep their name)");
  if (!s.ok()) return s;
  StmtScope st(insert_.get());
  st->Bind(1, name).Bind(2, key_hash).Bind(3, now_ms);
  if (!(s = st->Run()).ok()) return s;
  Invalidate();
  return Status::Ok();
}

Status ApiKeys::List(std::vector<ApiKeyInfo>* out) {
  out->clear();
  Status s;
  StmtScope st(list_.get());
  while (st->Step(&s)) out->push_back(ApiKeyInfo{std::string(st->Text(0)), st->Int(1), st->Int(2)});
  return s;
}

Status ApiKeys::Revoke(const std::string& name, int64_t now_ms) {
  std::unique_ptr<SqliteStmt> exists;
  Status s = db_->Prepare(kExists, &exists);
  if (!s.ok()) return s;
  exists->Bind(1, name);
  if (!exists->Step(&s)) return s.ok() ? Status::NotFound("no API key named '" + name + "'") : s;
  StmtScope st(revoke_.get());
  st->Bind(1, name).Bind(2, now_ms);
  if (!(s = st->Run()).ok()) return s;
  Invalidate();
  return Status::Ok();
}

}  // namespace chatd::store
