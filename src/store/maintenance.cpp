// SPDX-License-Identifier: MIT
#include "store/maintenance.h"

#include <dirent.h>
#include <sys/stat.h>

#include <memory>

#include "store/inbox.h"

namespace chatd::store {

using util::Status;

namespace {

constexpr const char* kDeleteDelivered =
    "DELETE FROM deliveries WHERE delivered_at IS NOT NULL "
    "AND mid <= coalesce((SELECT acked_upto FROM users WHERE id = deliveries.user_id), 0) "
    "AND mid IN (SELECT mid FROM messages WHERE ts < ?1)";
constexpr const char* kDeleteOrphanDeliveries =
    "DELETE FROM deliveries WHERE user_id NOT IN (SELECT id FROM users)";
// For each conversation, the lowest "everyone has it up to" mark: for rooms the members'
// acknowledgements (or join points), for the broadcast feed every user's.
constexpr const char* kMakeFloors =
    "CREATE TEMP TABLE purge_floor AS "
    "SELECT mb.conv_id AS conv_id, min(max(u.acked_upto, mb.joined_mid)) AS floor "
    "FROM members mb JOIN users u ON u.id = mb.user_id "
    "JOIN conversations c ON c.id = mb.conv_id AND c.kind = 2 GROUP BY mb.conv_id "
    "UNION ALL SELECT 1, coalesce((SELECT min(max(acked_upto, joined_mid)) FROM users), 0)";
constexpr const char* kDeleteMessages =
    "DELETE FROM messages WHERE ts < ?1 "
    "AND mid <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fold_log') "  // deliveries rows made
    "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.mid = messages.mid) "
    "AND ((SELECT kind FROM conversations WHERE id = messages.conv_id) = 1 "
    "     OR mid <= coalesce((SELECT floor FROM purge_floor WHERE conv_id = messages.conv_id), "
    "                        (SELECT max(mid) FROM messages)))";

// Folded rows above each user's cursor, and the 1:1 messages above the fold mark (their rows
// are not made yet) above it; the cursor counts the acks waiting for the fold too.
constexpr const char* kUndelivered =
    "SELECT (SELECT count(*) FROM deliveries d JOIN users u ON u.id = d.user_id WHERE d.mid > " CHATD_ACK_CURSOR ") + "
    "(SELECT count(*) FROM messages m JOIN users u ON u.id = m.recipient_id "
    " WHERE m.mid > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fold_log') AND m.mid > " CHATD_ACK_CURSOR
    ")";

Status RunCount(SqliteDb* db, const char* sql, int64_t arg, bool bind, int64_t* changed) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db->Prepare(sql, &st);
  if (!s.ok()) return s;
  if (bind) st->Bind(1, arg);
  if (!(s = st->Run()).ok()) return s;
  *changed += db->Changes();
  return Status::Ok();
}

Status Scalar(SqliteDb* db, const char* sql, int64_t* out) {
  std::unique_ptr<SqliteStmt> st;
  Status s = db->Prepare(sql, &st);
  if (!s.ok()) return s;
  if (!st->Step(&s)) return s.ok() ? Status::Internal("no row") : s;
  *out = st->Int(0);
  return Status::Ok();
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

int64_t TreeSize(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return static_cast<int64_t>(st.st_size);
  int64_t total = 0;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") total += TreeSize(path + "/" + n);
    }
    closedir(d);
  }
  return total;
}

}  // namespace

Status PurgeDelivered(SqliteDb* db, int64_t cutoff_ms, bool dry_run, PurgeReport* out) {
  *out = PurgeReport{};
  SqliteTxn txn(db);
  Status s = txn.Begin();
  if (!s.ok()) return s;
  if (!(s = RunCount(db, kDeleteDelivered, cutoff_ms, true, &out->delivery_rows)).ok()) return s;
  if (!(s = RunCount(db, kDeleteOrphanDeliveries, 0, false, &out->delivery_rows)).ok()) return s;
  if (!(s = db->Exec("DROP TABLE IF EXISTS temp.purge_floor")).ok()) return s;
  if (!(s = db->Exec(kMakeFloors)).ok()) return s;
  if (!(s = RunCount(db, kDeleteMessages, cutoff_ms, true, &out->messages)).ok()) return s;
  if (!(s = db->Exec("DROP TABLE temp.purge_floor")).ok()) return s;
  if (dry_run) return Status::Ok();  // the destructor rolls back
  return txn.Commit();
}

Status Backup(SqliteDb* db, const std::string& dest) {
  struct stat st {};
  if (stat(dest.c_str(), &st) == 0) return Status::Conflict(dest + " exists already; choose a new file");
  std::unique_ptr<SqliteStmt> vacuum;
  Status s = db->Prepare("VACUUM INTO ?1", &vacuum);
  if (!s.ok()) return s;
  vacuum->Bind(1, dest);
  return vacuum->Run();
}

Status CollectStats(SqliteDb* db, const std::string& db_path, const std::string& history_path, Stats* out) {
  struct {
    const char* sql;
    int64_t* field;
  } queries[] = {
      {"SELECT count(*) FROM users", &out->users},
      {"SELECT count(*) FROM conversations WHERE kind = 2", &out->rooms},
      {"SELECT count(*) FROM messages", &out->messages},
      {"SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)", &out->last_mid},
      {kUndelivered, &out->undelivered},
      {"SELECT count(*) FROM deliveries WHERE delivered_at IS NOT NULL", &out->delivered},
      {"SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", &out->db_bytes},
      {"SELECT count(*) FROM webhook_events", &out->webhook_waiting},
      {"SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'webhook_dropped'), 0)",
       &out->webhook_dropped},
      {"SELECT count(*) FROM api_keys WHERE revoked_at IS NULL", &out->api_keys},
  };
  for (const auto& q : queries) {
    Status s = Scalar(db, q.sql, q.field);
    if (!s.ok()) return s;
  }
  std::unique_ptr<SqliteStmt> state;
  Status s = db->Prepare("SELECT value FROM meta WHERE key = 'history_cache'", &state);
  if (!s.ok()) return s;
  if (state->Step(&s)) out->history_state = std::string(state->Text(0));
  if (!s.ok()) return s;
  out->wal_bytes = FileSize(db_path + "-wal");
  out->history_bytes = TreeSize(history_path);
  return Status::Ok();
}

}  // namespace chatd::store
