// SPDX-License-Identifier: MIT
//
// `chatd user add NAME [--admin] | list | del NAME | passwd NAME`: account administration
// straight on SQLite, safe while the server runs. Passwords are read by the PasswordReader
// (standard input when it is not a terminal, else a double prompt) and hashed with argon2id.
#pragma once

#include <iosfwd>
#include <string>

#include "admin/cli.h"
#include "config/config.h"

namespace CLI {
class App;
}

namespace chatd::admin {

class UserCommands {
 public:
  void Register(CLI::App& app);
  bool parsed() const;
  int Run(const config::Config& cfg, std::ostream& out, std::ostream& err, const PasswordReader& read_password);

 private:
  CLI::App* user_ = nullptr;
  CLI::App* add_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* del_ = nullptr;
  CLI::App* passwd_ = nullptr;
  std::string name_;
  bool admin_ = false;
};

}  // namespace chatd::admin
