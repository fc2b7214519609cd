// SPDX-License-Identifier: MIT
//
// Command-line options of the load generator: `--name value`, `--name=value`, or a bare `--flag`
// (value "1"); everything after `--` is kept as the trailing command. Every option a scenario
// reads is marked used; Unused() lists the rest so that a typo is an error, not a silent default.
//
// Report builds the one line of `key=value` figures a scenario prints on standard output.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace chatd::bench {

class Args {
 public:
  Args(int argc, char** argv, int first);

  bool Has(const std::string& name) const;
  std::string Str(const std::string& name, const std::string& fallback) const;
  int64_t Int(const std::string& name, int64_t fallback) const;
  double Num(const std::string& name, double fallback) const;
  bool Flag(const std::string& name) const;
  const std::vector<std::string>& command() const { return command_; }
  std::vector<std::string> Unused() const;
  // A value that did not parse as a number (reported once, by main).
  const std::string& bad() const { return bad_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> command_;
  mutable std::set<std::string> used_;
  mutable std::string bad_;
};

class Report {
 public:
  Report& Add(const std::string& key, const std::string& value);
  Report& Add(const std::string& key, int64_t value);
  Report& Add(const std::string& key, double value, int decimals);
  Report& Ms(const std::string& key, int64_t ns);  // nanoseconds shown as milliseconds, 3 decimals
  void Print() const;                              // one line on stdout

 private:
  std::string line_;
};

}  // namespace chatd::bench
