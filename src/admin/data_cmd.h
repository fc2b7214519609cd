// SPDX-License-Identifier: MIT
//
// `chatd purge --delivered [--older-than 30d] [--dry-run]` and `chatd stats`: admin work on the
// SQLite database, safe while the server runs (see store/maintenance.h).
#pragma once

#include <iosfwd>
#include <string>

#include "config/config.h"

namespace CLI {
class App;
}

namespace chatd::admin {

// "30d", "12h", "15m", "90s", "0" -> milliseconds. False for anything else.
bool ParseDuration(const std::string& text, int64_t* ms);

class DataCommands {
 public:
  void Register(CLI::App& app);
  bool parsed() const;
  int Run(const config::Config& cfg, std::ostream& out, std::ostream& err);

 private:
  CLI::App* purge_ = nullptr;
  CLI::App* stats_ = nullptr;
  CLI::App* backup_ = nullptr;
  std::string backup_file_;
  bool delivered_ = false;
  bool dry_run_ = false;
  std::string older_than_ = "0";
};

}  // namespace chatd::admin
