// SPDX-License-Identifier: MIT
#include "admin/cli.h"

#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

#include "admin/data_cmd.h"
#include "admin/key_cmd.h"
#include "admin/user_cmd.h"
#include "util/log.h"

#ifndef CHATD_VERSION
#define CHATD_VERSION "0.0.0"
#endif

namespace chatd::admin {

namespace {

std::string EnvName(const std::string& key) {
  std::string env = "CHATD_";
  for (char c : key) env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return env;
}

// CLI11 reads the config file before the environment and lets the file win. chatd wants
// flag > environment > file, so items of the file whose CHATD_* variable is set are dropped
// here, and CLI11's environment step then fills those options. An empty value ("" or [])
// means "the default", which is what every such setting's default is.
class EnvFirstToml : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> parsed = CLI::ConfigTOML::from_config(input);
    std::vector<CLI::ConfigItem> kept;
    for (auto& item : parsed) {
      const char* env = item.parents.empty() ? std::getenv(EnvName(item.name).c_str()) : nullptr;
      bool empty = std::all_of(item.inputs.begin(), item.inputs.end(),
                               [](const std::string& v) { return v.empty() || v == "[]"; });
      if ((env == nullptr || *env == '\0') && !empty) kept.push_back(std::move(item));
    }
    return kept;
  }
};

struct Binder {
  CLI::App* app;
  std::vector<std::string>* keys;

  template <typename T>
  CLI::Option* Bind(const std::string& key, T& field, const std::string& help) {
    keys->push_back(key);
    return app->add_option("--" + key, field, help)->envname(EnvName(key))->capture_default_str();
  }
};

void BindConfig(CLI::App& app, config::Config& c, std::vector<std::string>* keys) {
  Binder b{&app, keys};
  const char* net = "Network";
  b.Bind("listen", c.listen, "Address and port to serve on (port 0 picks a free one)")->group(net);
  b.Bind("allowed-origins", c.allowed_origins, "Extra web origins allowed to open /ws and /socket.io/ (same origin always is)")
      ->group(net);
  b.Bind("max-connections-per-ip", c.max_connections_per_ip, "Open connections per client address (0 = no limit)")
      ->group(net);
  b.Bind("max-frame", c.max_frame, "Largest WebSocket message a client may send, bytes")->group(net);
  b.Bind("ws-rx-buffer", c.ws_rx_buffer,
         "Receive buffer per WebSocket connection, bytes: memory per connection against what one connection can send "
         "per loop turn")
      ->group(net);
  b.Bind("auth-timeout", c.auth_timeout, "Seconds a new connection has to log in")->group(net);
  b.Bind("ping-interval", c.ping_interval, "Seconds of silence before the server pings a connection")->group(net);
  b.Bind("idle-timeout", c.idle_timeout, "Seconds without an answer before a connection is dropped")->group(net);
  b.Bind("outbound-limit", c.outbound_limit, "Bytes queued for one slow connection before it is closed (4008)")
      ->group(net);
  b.Bind("www", c.www, "Serve the page from this folder instead of the built-in copy (development)")->group(net);
  const char* st = "Storage";
  b.Bind("data-dir", c.data_dir, "Folder for the database and history")->group(st);
  b.Bind("min-free-space", c.min_free_space, "Bytes of free disk below which new messages are refused")->group(st);
  const char* acc = "Accounts";
  b.Bind("registration", c.registration, "Self-registration: open, closed, or auto (open only on loopback)")
      ->group(acc)
      ->check(CLI::IsMember({"open", "closed", "auto"}));
  b.Bind("session-days", c.session_days, "Days a login stays valid")->group(acc);
  b.Bind("site-secret", c.site_secret, "HS256 secret for tokens signed by your web site (empty = off)")->group(acc);
  b.Bind("user-directory", c.user_directory, "Logged-in users may list and search every user's name")->group(acc);
  b.Bind("site-users-may-be-local", c.site_users_may_be_local,
         "Let a site token log in as a local (password) account of the same name, admins included")
      ->group(acc);
  const char* msg = "Messages";
  b.Bind("max-text", c.max_text, "Largest message text, bytes of UTF-8")->group(msg);
  b.Bind("rate", c.rate, "Messages per second one user may send, sustained")->group(msg);
  b.Bind("burst", c.burst, "Messages one user may send at once")->group(msg);
  b.Bind("room-rate", c.room_rate, "Room joins, leaves and invites per second one user may make, sustained")
      ->group(msg);
  b.Bind("room-burst", c.room_burst, "Room joins, leaves and invites one user may make at once")->group(msg);
  b.Bind("max-rooms-per-user", c.max_rooms_per_user, "Rooms one user may create (admins: no limit; 0 = no limit)")
      ->group(msg);
  b.Bind("pool-max-messages", c.pool_max_messages, "Undelivered messages one user may have waiting")->group(msg);
  b.Bind("pool-max-bytes", c.pool_max_bytes, "Bytes of undelivered messages one user may have waiting")->group(msg);
  b.Bind("history-max-messages", c.history_max_messages, "Messages kept in the history cache per conversation")
      ->group(msg);
  b.Bind("history-max-days", c.history_max_days, "Days kept in the history cache (0 = forever)")->group(msg);
  b.Bind("dedupe-days", c.dedupe_days, "Days a resend is recognised as one (0 = any age)")->group(msg);
  b.Bind("dedupe-max", c.dedupe_max, "Newest messages a resend is recognised among (memory: ~70 bytes each)")
      ->group(msg);
  b.Bind("presence-grace-ms", c.presence_grace_ms, "A reconnect within this many ms is not announced")->group(msg);
  b.Bind("large-room", c.large_room, "Rooms with more members get counts instead of join, leave and presence events")
      ->group(msg);
  const char* site = "Site integration";
  b.Bind("push-listen", c.push_listen, "ADDR:PORT of a second listener for /push only, like web-msg-sender's 2121 "
                                       "(empty = off)")
      ->group(site);
  b.Bind("push-open", c.push_open, "/push on push-listen needs no API key (loopback addresses only)")->group(site);
  b.Bind("publish-rate", c.publish_rate, "Publishes per second one API key may make, sustained")->group(site);
  b.Bind("publish-burst", c.publish_burst, "Publishes one API key may make at once")->group(site);
  b.Bind("webhook-url", c.webhook_url, "Where chatd POSTs events for your site's backend (empty = off)")->group(site);
  b.Bind("webhook-secret", c.webhook_secret, "Key of the events' HMAC-SHA256 signature (X-Chatd-Signature)")
      ->group(site);
  b.Bind("webhook-undelivered-after", c.webhook_undelivered_after,
         "Seconds a message may wait unacked by every device before message.undelivered is sent")
      ->group(site);
  b.Bind("webhook-queue-max", c.webhook_queue_max, "Events waiting to be sent; past it the oldest are dropped")
      ->group(site);
  const char* sio = "web-msg-sender's socket.io pages";
  b.Bind("socketio", c.socketio, "Serve socket.io clients (Engine.IO 3 and 4) at /socket.io/")->group(sio);
  b.Bind("socketio-listen", c.socketio_listen,
         "ADDR:PORT of a second listener for /socket.io/ only, like web-msg-sender's 2120 (empty = off)")
      ->group(sio);
  b.Bind("socketio-trust-uid", c.socketio_trust_uid,
         "Believe a socket.io `login` with a bare uid: anyone can then pose as any uid (unsafe)")
      ->group(sio);
  b.Bind("socketio-ping-interval", c.socketio_ping_interval, "Seconds between socket.io heartbeats")->group(sio);
  b.Bind("socketio-ping-timeout", c.socketio_ping_timeout, "Seconds a socket.io heartbeat may be late")->group(sio);
  b.Bind("socketio-online-text", c.socketio_online_text,
         "Text of update_online_count: {users} and {pages} are filled in")
      ->group(sio);
  b.Bind("log-level", c.log_level, "err, warn, notice, info or debug")
      ->group("Logging")
      ->check(CLI::IsMember({"err", "warn", "notice", "info", "debug"}));
}

// The effective settings as a config file that reads back to the same values. Secrets are
// not printed.
std::string EffectiveSettings(CLI::App& app, const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& key : keys) {
    CLI::Option* opt = app.get_option("--" + key);
    std::vector<std::string> values = opt->results();
    bool is_vector = opt->get_expected_max() > 1;
    if (values.empty()) {
      std::string def = opt->get_default_str();
      if (!def.empty() && !(is_vector && def == "[]")) values.push_back(def);
    }
    auto quote = [](const std::string& v) {
      bool number = !v.empty() && v.find_first_not_of("0123456789-") == std::string::npos;
      if (number || v == "true" || v == "false") return v;
      std::string q = "\"";
      for (char c : v) {
        if (c == '"' || c == '\\') q.push_back('\\');
        q.push_back(c);
      }
      return q + "\"";
    };
    if (key == "site-secret" || key == "webhook-secret") {
      out += values.empty() || values[0].empty() ? key + " = \"\"\n" : "# " + key + " = (set; not shown)\n";
      continue;
    }
    out += key + " = ";
    if (is_vector) {
      out += "[";
      for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + quote(values[i]);
      out += "]";
    } else {
      out += quote(values.empty() ? std::string() : values.back());
    }
    out += "\n";
  }
  return out;
}

const char* kFooter = R"(Examples:
  chatd                                    serve on http://127.0.0.1:8080/ with data in ./chatd-data
  chatd --listen 0.0.0.0:8080 --data-dir /var/lib/chatd
  chatd --config /etc/chatd/chatd.conf     read settings from a file (see chatd.conf.example)
  CHATD_LISTEN=127.0.0.1:9000 chatd        settings from the environment
  chatd check-config --config chatd.conf   validate a config file and print the result
  echo 'secret-pass' | chatd user add alice --admin
  chatd user list
  KEY=$(chatd apikey add mysite)           a key for your site's backend (docs/http-api.md)
  chatd purge --delivered --older-than 30d --dry-run
  chatd stats
  chatd backup /var/backups/chatd-$(date +%F).db

Settings: a flag beats CHATD_* in the environment, which beats the config file.)";

}  // namespace

bool ReadPassword(std::string* password, std::string* error) {
  if (!isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, *password)) {
      *error = "no password on standard input";
      return false;
    }
    if (!password->empty() && password->back() == '\r') password->pop_back();
    return true;
  }
  auto prompt = [](const char* text, std::string* out) {
    std::cerr << text << std::flush;
    termios old {};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    bool ok = static_cast<bool>(std::getline(std::cin, *out));
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
    return ok;
  };
  std::string again;
  if (!prompt("Password: ", password) || !prompt("Again: ", &again)) {
    *error = "no password given";
    return false;
  }
  if (*password != again) {
    *error = "the passwords do not match";
    return false;
  }
  return true;
}

std::vector<std::string> ConfigKeys() {
  CLI::App app;
  config::Config c;
  std::vector<std::string> keys;
  BindConfig(app, c, &keys);
  return keys;
}

int RunCli(int argc, const char* const* argv, const ServeFn& serve, std::ostream& out, std::ostream& err,
           const PasswordReader& read_password) {
  config::Config cfg;
  std::vector<std::string> keys;
  CLI::App app{"chatd: a self-hosted chat server in one binary", "chatd"};
  app.footer(kFooter);
  app.config_formatter(std::make_shared<EnvFirstToml>());
  app.allow_config_extras(false);
  const char* env_config = std::getenv("CHATD_CONFIG");
  std::string config_default = env_config ? env_config : "";
  app.set_config("--config", config_default, "Read settings from this TOML file (key = value)");
  BindConfig(app, cfg, &keys);
  app.require_subcommand(0, 1);

  auto* serve_cmd = app.add_subcommand("serve", "Run the chat server (the default)");
  auto* check_cmd = app.add_subcommand("check-config", "Validate the settings and print them");
  auto* version_cmd = app.add_subcommand("version", "Print the version");
  UserCommands users;
  users.Register(app);
  DataCommands data;
  data.Register(app);
  KeyCommands api_keys;
  api_keys.Register(app);
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    err << "chatd: " << e.what() << " (see chatd --help)\n";
    return 2;
  }
  if (!config_default.empty() && app.get_option("--config")->count() == 0 &&
      access(config_default.c_str(), R_OK) != 0) {
    err << "chatd: CHATD_CONFIG names " << config_default << ", which cannot be read\n";
    return 2;
  }

  if (version_cmd->parsed()) {
    out << "chatd " << CHATD_VERSION << "\n";
    return 0;
  }
  util::Status s = cfg.Validate();
  if (!s.ok()) {
    err << "chatd: bad setting " << s.message() << "\n";
    return 2;
  }
  util::LogLevel level = util::LogLevel::kNotice;
  (void)util::ParseLogLevel(cfg.log_level, &level);
  util::SetLogLevel(level);

  if (check_cmd->parsed()) {
    out << "# chatd settings: OK (registration " << (cfg.registration_open ? "open" : "closed") << ")\n";
    for (const auto& w : cfg.Warnings()) out << "# warning: " << w << "\n";
    out << EffectiveSettings(app, keys);
    return 0;
  }
  if (users.parsed()) return users.Run(cfg, out, err, read_password);
  if (data.parsed()) return data.Run(cfg, out, err);
  if (api_keys.parsed()) return api_keys.Run(cfg, out, err);
  if (serve_cmd->parsed() || app.get_subcommands().empty()) return serve(cfg);
  err << "chatd: nothing to do\n";
  return 2;
}

}  // namespace chatd::admin
