// SPDX-License-Identifier: MIT
#include "admin/admin_db.h"

namespace chatd::admin {

util::Status OpenAdminDb(const config::Config& cfg, AdminDb* out) {
  util::Status s = store::DataDir::Open(cfg.data_dir, false, &out->dir);
  if (!s.ok()) return s;
  s = store::SqliteDb::Open(out->dir->DbPath(), &out->db);
  if (!s.ok()) return s;
  int from = 0, to = 0;
  return store::Migrate(out->db.get(), store::EmbeddedMigrations(), &from, &to);
}

}  // namespace chatd::admin
