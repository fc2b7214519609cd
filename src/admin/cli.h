// SPDX-License-Identifier: MIT
//
// admin CLI: the command line of the one binary (CLI11). `chatd` alone means `chatd serve`.
// Settings are bound one flag per config::Config field; the same name is the config-file key
// and CHATD_<NAME> the environment variable. Precedence, highest first:
//   command-line flag  >  environment (CHATD_*)  >  config file (--config / CHATD_CONFIG)  >  default
// Subcommands: serve, check-config, version, user add|list|del|passwd (and the admin commands
// of later modules). Admin subcommands write to `out`/`err` and return an exit code, so tests run
// them in-process. Main thread only.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "config/config.h"

namespace chatd::admin {

// Called for `serve` with the validated configuration; returns the process exit code.
using ServeFn = std::function<int(config::Config&)>;

// Reads a password for `user add` / `user passwd`: from standard input when it is not a
// terminal (one line), else by prompting twice without echo. Replaceable for tests.
using PasswordReader = std::function<bool(std::string* password, std::string* error)>;
bool ReadPassword(std::string* password, std::string* error);

int RunCli(int argc, const char* const* argv, const ServeFn& serve, std::ostream& out, std::ostream& err,
           const PasswordReader& read_password = ReadPassword);

// Every option the config file accepts (for the completeness test of chatd.conf.example).
std::vector<std::string> ConfigKeys();

}  // namespace chatd::admin
