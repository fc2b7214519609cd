// SPDX-License-Identifier: MIT
#include "admin/data_cmd.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iomanip>
#include <ostream>

#include "admin/admin_db.h"
#include "store/maintenance.h"
#include "util/clock.h"

namespace chatd::admin {

namespace {

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::ostringstream os;
  os << std::fixed << std::setprecision(u == 0 ? 0 : 1) << v << " " << units[u];
  return os.str();
}

}  // namespace

bool ParseDuration(const std::string& text, int64_t* ms) {
  if (text.empty()) return false;
  size_t digits = text.find_first_not_of("0123456789");
  if (digits == 0) return false;
  int64_t n = std::strtoll(text.substr(0, digits).c_str(), nullptr, 10);
  std::string unit = digits == std::string::npos ? "" : text.substr(digits);
  int64_t scale = 0;
  if (unit.empty() && n == 0) scale = 1;
  else if (unit == "d") scale = 86'400'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "s") scale = 1000;
  if (scale == 0 || n > 100'000'000) return false;
  *ms = n * scale;
  return true;
}

void DataCommands::Register(CLI::App& app) {
  purge_ = app.add_subcommand("purge", "Remove delivered messages from the offline pool (works while the server runs)");
  purge_->add_flag("--delivered", delivered_, "Remove delivered pool rows and bodies nothing needs (required)")
      ->required();
  purge_->add_option("--older-than", older_than_, "Only messages older than this: 30d, 12h, 15m, 90s")
      ->capture_default_str();
  purge_->add_flag("--dry-run", dry_run_, "Count what would go, remove nothing");
  stats_ = app.add_subcommand("stats", "Print users, messages, undelivered rows and sizes");
  backup_ = app.add_subcommand("backup", "Write a consistent copy of the database (works while the server runs)");
  backup_->add_option("file", backup_file_, "Where to write it (must not exist); history needs no backup")->required();
  for (auto* sub : {purge_, stats_, backup_}) sub->fallthrough();
}

bool DataCommands::parsed() const {
  return (purge_ && purge_->parsed()) || (stats_ && stats_->parsed()) || (backup_ && backup_->parsed());
}

int DataCommands::Run(const config::Config& cfg, std::ostream& out, std::ostream& err) {
  AdminDb adb;
  util::Status s = OpenAdminDb(cfg, &adb);
  if (!s.ok()) {
    err << "chatd: " << s.ToString() << "\n";
    return 1;
  }
  if (purge_->parsed()) {
    int64_t age = 0;
    if (!ParseDuration(older_than_, &age)) {
      err << "chatd: --older-than: expected a number with d, h, m or s (like 30d), got '" << older_than_ << "'\n";
      return 2;
    }
    util::SystemClock clock;
    store::PurgeReport report;
    s = store::PurgeDelivered(adb.db.get(), clock.NowMs() - age, dry_run_, &report);
    if (!s.ok()) {
      err << "chatd: purge failed: " << s.ToString() << "\n";
      return 1;
    }
    out << (dry_run_ ? "would remove " : "removed ") << report.delivery_rows << " delivered pool row(s) and "
        << report.messages << " message(s)" << (age > 0 ? " older than " + older_than_ : "") << "\n";
    return 0;
  }
  if (backup_->parsed()) {
    s = store::Backup(adb.db.get(), backup_file_);
    if (!s.ok()) {
      err << "chatd: backup failed: " << s.message() << "\n";
      return 1;
    }
    out << "wrote " << backup_file_ << "; restore by stopping chatd and putting it in place of "
        << adb.dir->DbPath() << "\n";
    return 0;
  }
  store::Stats st;
  s = store::CollectStats(adb.db.get(), adb.dir->DbPath(), adb.dir->HistoryPath(), &st);
  if (!s.ok()) {
    err << "chatd: " << s.ToString() << "\n";
    return 1;
  }
  out << "users:              " << st.users << "\n"
      << "rooms:              " << st.rooms << "\n"
      << "messages:           " << st.messages << " (last mid " << st.last_mid << ")\n"
      << "undelivered rows:   " << st.undelivered << "\n"
      << "delivered rows:     " << st.delivered << "\n"
      << "database:           " << HumanBytes(st.db_bytes) << " (+ " << HumanBytes(st.wal_bytes) << " WAL)\n"
      << "history cache:      " << HumanBytes(st.history_bytes) << ", " << st.history_state << "\n"
      << "api keys:           " << st.api_keys << "\n"
      << "webhook events:     " << st.webhook_waiting << " waiting, " << st.webhook_dropped
      << " dropped (queue full)\n";
  return 0;
}

}  // namespace chatd::admin
