// SPDX-License-Identifier: MIT
#include "admin/key_cmd.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <iomanip>
#include <ostream>

#include "admin/admin_db.h"
#include "auth/crypto.h"
#include "store/api_keys.h"
#include "util/clock.h"

namespace chatd::admin {

namespace {

std::string Utc(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  tm utc{};
  gmtime_r(&t, &utc);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M", &utc);
  return when;
}

}  // namespace

void KeyCommands::Register(CLI::App& app) {
  key_ = app.add_subcommand("apikey", "Manage API keys for your site's backend (works while the server runs)");
  key_->require_subcommand(1);
  add_ = key_->add_subcommand("add", "Make a key and print it once (only its hash is kept)");
  add_->add_option("name", name_, "Key name: 1-32 letters, digits, '.', '_' or '-'")->required();
  list_ = key_->add_subcommand("list", "List keys (names and dates; keys are never shown again)");
  revoke_ = key_->add_subcommand("revoke", "Stop a key from working, at once");
  revoke_->add_option("name", name_, "Key name")->required();
  for (auto* sub : {key_, add_, list_, revoke_}) sub->fallthrough();
}

bool KeyCommands::parsed() const { return key_ && key_->parsed(); }

int KeyCommands::Run(const config::Config& cfg, std::ostream& out, std::ostream& err) {
  if (!auth::InitCrypto()) {
    err << "chatd: cannot initialise libsodium\n";
    return 1;
  }
  AdminDb adb;
  util::Status s = OpenAdminDb(cfg, &adb);
  std::unique_ptr<store::ApiKeys> keys;
  if (s.ok()) s = store::ApiKeys::Open(adb.db.get(), &keys);
  if (!s.ok()) {
    err << "chatd: " << s.ToString() << "\n";
    return 1;
  }
  util::SystemClock clock;
  if (add_->parsed()) {
    std::string key = auth::NewApiKey();
    s = keys->Add(name_, auth::TokenHash(key), clock.NowMs());
    if (!s.ok()) {
      err << "chatd: " << s.message() << "\n";
      return s.code() == util::Code::kBadRequest ? 2 : 1;
    }
    out << key << "\n";
    err << "chatd: added API key '" << name_ << "'. It is shown only this once: keep it in your site's settings "
        << "and send it as 'Authorization: Bearer <key>'.\n";
    return 0;
  }
  if (list_->parsed()) {
    std::vector<store::ApiKeyInfo> list;
    if (!(s = keys->List(&list)).ok()) {
      err << "chatd: " << s.ToString() << "\n";
      return 1;
    }
    out << std::left << std::setw(34) << "NAME" << std::setw(20) << "CREATED (UTC)" << "REVOKED (UTC)\n";
    for (const auto& k : list) {
      out << std::left << std::setw(34) << k.name << std::setw(20) << Utc(k.created_at)
          << (k.revoked_at ? Utc(k.revoked_at) : "-") << "\n";
    }
    out << list.size() << (list.size() == 1 ? " key\n" : " keys\n");
    return 0;
  }
  if (revoke_->parsed()) {
    if (!(s = keys->Revoke(name_, clock.NowMs())).ok()) {
      err << "chatd: " << s.message() << "\n";
      return 1;
    }
    out << "revoked API key " << name_ << "\n";
    return 0;
  }
  return 2;
}

}  // namespace chatd::admin
