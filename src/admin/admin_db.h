// SPDX-License-Identifier: MIT
//
// admin::OpenAdminDb: what every admin subcommand starts with: the data dir (created if
// missing, not locked: admin commands run beside a live server) and its SQLite database,
// migrated to this binary's schema. RocksDB is never opened here (the server holds its lock).
#pragma once

#include <memory>

#include "config/config.h"
#include "store/data_dir.h"
#include "store/sqlite_db.h"
#include "util/status.h"

namespace chatd::admin {

struct AdminDb {
  std::unique_ptr<store::DataDir> dir;
  std::unique_ptr<store::SqliteDb> db;
};

util::Status OpenAdminDb(const config::Config& cfg, AdminDb* out);

}  // namespace chatd::admin
