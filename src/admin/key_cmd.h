// SPDX-License-Identifier: MIT
//
// `chatd apikey add NAME | list | revoke NAME`: the keys a web site's backend calls the HTTP
// API with (docs/http-api.md), straight on SQLite, safe while the server runs (it sees a new
// or revoked key at its next request). `add` prints the key once, alone on standard output
// (KEY=$(chatd apikey add shop)); only its SHA-256 is kept.
#pragma once

#include <iosfwd>
#include <string>

#include "config/config.h"

namespace CLI {
class App;
}

namespace chatd::admin {

class KeyCommands {
 public:
  void Register(CLI::App& app);
  bool parsed() const;
  int Run(const config::Config& cfg, std::ostream& out, std::ostream& err);

 private:
  CLI::App* key_ = nullptr;
  CLI::App* add_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* revoke_ = nullptr;
  std::string name_;
};

}  // namespace chatd::admin
