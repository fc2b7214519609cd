// SPDX-License-Identifier: MIT
#include "config/config.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "admin/cli.h"
#include "test_util.h"

using chatd::config::Config;

namespace {

// Runs the CLI with `args` and returns the Config `serve` would have received (exit code in *rc).
Config Parse(std::vector<std::string> args, int* rc, std::string* err_text = nullptr) {
  args.insert(args.begin(), "chatd");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  Config got;
  std::ostringstream out, err;
  *rc = chatd::admin::RunCli(static_cast<int>(argv.size()), argv.data(),
                             [&](Config& c) {
                               got = c;
                               return 0;
                             },
                             out, err);
  if (err_text) *err_text = err.str();
  return got;
}

struct EnvVar {
  std::string name;
  EnvVar(std::string n, const char* value) : name(std::move(n)) { setenv(name.c_str(), value, 1); }
  ~EnvVar() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("config: defaults validate, and registration auto follows the listen address") {
  Config c;
  REQUIRE(c.Validate().ok());
  CHECK(c.listen_host == "127.0.0.1");
  CHECK(c.listen_port == 8080);
  CHECK(c.registration_open);
  c.listen = "0.0.0.0:8080";
  REQUIRE(c.Validate().ok());
  CHECK_FALSE(c.registration_open);
  c.registration = "open";
  REQUIRE(c.Validate().ok());
  CHECK(c.registration_open);
}

TEST_CASE("config: listen addresses") {
  std::string host;
  int port = -1;
  CHECK(chatd::config::ParseListen("[::1]:0", &host, &port).ok());
  CHECK(host == "::1");
  CHECK(port == 0);
  CHECK(chatd::config::ParseListen("localhost:9000", &host, &port).ok());
  CHECK(host == "127.0.0.1");
  for (const char* bad : {"8080", ":8080", "127.0.0.1:", "127.0.0.1:99999", "::1:80", "example.com:80", "1.2.3.4:8a"}) {
    CAPTURE(bad);
    CHECK_FALSE(chatd::config::ParseListen(bad, &host, &port).ok());
  }
}

TEST_CASE("config: out-of-range values name the key") {
  Config c;
  c.max_frame = 10;
  auto s = c.Validate();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("max-frame") == 0);
  Config d;
  d.registration = "maybe";
  CHECK(d.Validate().message().find("registration") == 0);
  Config e;
  e.site_secret = "short";
  CHECK(e.Validate().message().find("site-secret") == 0);
  Config f;
  f.idle_timeout = f.ping_interval;
  CHECK_FALSE(f.Validate().ok());
}

TEST_CASE("config: precedence is flag > environment > file > default") {
  chatd::testing::TempDir dir;
  std::string file = dir / "chatd.conf";
  std::ofstream(file) << "listen = \"127.0.0.1:7001\"\nrate = 7\nburst = 70\nlog-level = \"warn\"\n";
  int rc = -1;
  Config c = Parse({"--config", file}, &rc);
  REQUIRE(rc == 0);
  CHECK(c.listen == "127.0.0.1:7001");  // file beats default
  CHECK(c.rate == 7);
  CHECK(c.max_text == Config{}.max_text);  // untouched key keeps its default
  {
    EnvVar env("CHATD_LISTEN", "127.0.0.1:7002");
    EnvVar env2("CHATD_RATE", "8");
    c = Parse({"--config", file}, &rc);
    REQUIRE(rc == 0);
    CHECK(c.listen == "127.0.0.1:7002");  // environment beats file
    CHECK(c.rate == 8);
    CHECK(c.burst == 70);  // file still applies where no variable is set
    c = Parse({"--config", file, "--listen", "127.0.0.1:7003", "serve"}, &rc);
    REQUIRE(rc == 0);
    CHECK(c.listen == "127.0.0.1:7003");  // flag beats environment
    CHECK(c.rate == 8);
  }
  // Flags also work after the subcommand.
  c = Parse({"serve", "--rate", "9"}, &rc);
  REQUIRE(rc == 0);
  CHECK(c.rate == 9);
}

TEST_CASE("config: bad input ends with one line and exit code 2") {
  chatd::testing::TempDir dir;
  std::string file = dir / "bad.conf";
  std::ofstream(file) << "listen = \"127.0.0.1:7001\"\nno-such-key = 1\n";
  int rc = -1;
  std::string err;
  Parse({"--config", file}, &rc, &err);
  CHECK(rc == 2);
  CHECK(err.find("no-such-key") != std::string::npos);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  Parse({"--max-frame", "12"}, &rc, &err);
  CHECK(rc == 2);
  CHECK(err.find("max-frame") != std::string::npos);
  Parse({"--rate", "lots"}, &rc, &err);
  CHECK(rc == 2);
  Parse({"--config", dir / "missing.conf"}, &rc, &err);
  CHECK(rc == 2);
}

TEST_CASE("config: chatd.conf.example lists every option, and as written it is the defaults") {
  std::ifstream in(std::string(CHATD_SOURCE_DIR) + "/chatd.conf.example");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  std::string example = text.str();
  // Uncomment every "# key = value" line: the result must parse and equal the defaults.
  std::string uncommented;
  std::istringstream lines(example);
  std::string line;
  std::set<std::string> keys_seen;
  while (std::getline(lines, line)) {
    static const std::regex kSetting("^# ([a-z][a-z-]*) = .*$");
    std::smatch m;
    if (std::regex_match(line, m, kSetting)) {
      std::string key = m[1];
      keys_seen.insert(key);
      uncommented += line.substr(2) + "\n";
    }
  }
  for (const auto& key : chatd::admin::ConfigKeys()) {
    CAPTURE(key);
    CHECK(keys_seen.count(key) == 1);
  }
  CHECK(keys_seen.size() == chatd::admin::ConfigKeys().size());
  chatd::testing::TempDir dir;
  std::string file = dir / "all.conf";
  std::ofstream(file) << uncommented;
  int rc = -1;
  std::string err;
  Config c = Parse({"--config", file}, &rc, &err);
  REQUIRE_MESSAGE(rc == 0, err);
  Config d;
  REQUIRE(d.Validate().ok());
  CHECK(c.listen == d.listen);
  CHECK(c.data_dir == d.data_dir);
  CHECK(c.max_frame == d.max_frame);
  CHECK(c.outbound_limit == d.outbound_limit);
  CHECK(c.pool_max_bytes == d.pool_max_bytes);
  CHECK(c.min_free_space == d.min_free_space);
  CHECK(c.registration == d.registration);
  CHECK(c.log_level == d.log_level);
  CHECK(c.allowed_origins == d.allowed_origins);
  CHECK(c.presence_grace_ms == d.presence_grace_ms);
}
