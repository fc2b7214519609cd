// SPDX-License-Identifier: MIT
#include "args.h"

#include <cstdio>
#include <cstdlib>

namespace chatd::bench {

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (int j = i + 1; j < argc; ++j) command_.emplace_back(argv[j]);
      break;
    }
    if (a.rfind("--", 0) != 0) {
      values_["?" + a] = "";  // a stray word: reported by Unused()
      continue;
    }
    a = a.substr(2);
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      values_[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      values_[a] = argv[++i];
    } else {
      values_[a] = "1";
    }
  }
}

bool Args::Has(const std::string& name) const {
  used_.insert(name);
  return values_.count(name) != 0;
}

std::string Args::Str(const std::string& name, const std::string& fallback) const {
  used_.insert(name);
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int64_t Args::Int(const std::string& name, int64_t fallback) const {
  used_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  // Accepts 19500, 1e6 and 100k.
  double v = std::strtod(it->second.c_str(), &end);
  if (end && (*end == 'k' || *end == 'M')) {
    v *= *end == 'k' ? 1e3 : 1e6;
    ++end;
  }
  if (!end || *end != '\0' || it->second.empty()) bad_ = "--" + name + " " + it->second;
  return static_cast<int64_t>(v);
}

double Args::Num(const std::string& name, double fallback) const {
  used_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (!end || *end != '\0' || it->second.empty()) bad_ = "--" + name + " " + it->second;
  return v;
}

bool Args::Flag(const std::string& name) const {
  std::string v = Str(name, "0");
  return v != "0" && v != "false" && v != "no";
}

std::vector<std::string> Args::Unused() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_) {
    if (!used_.count(k)) out.push_back(k[0] == '?' ? k.substr(1) : "--" + k);
  }
  return out;
}

Report& Report::Add(const std::string& key, const std::string& value) {
  if (!line_.empty()) line_ += ' ';
  line_ += key + "=" + (value.empty() ? "-" : value);
  return *this;
}

Report& Report::Add(const std::string& key, int64_t value) { return Add(key, std::to_string(value)); }

Report& Report::Add(const std::string& key, double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return Add(key, std::string(buf));
}

Report& Report::Ms(const std::string& key, int64_t ns) { return Add(key, static_cast<double>(ns) / 1e6, 3); }

void Report::Print() const {
  std::printf("%s\n", line_.c_str());
  std::fflush(stdout);
}

}  // namespace chatd::bench
