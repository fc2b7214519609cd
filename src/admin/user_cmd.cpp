// SPDX-License-Identifier: MIT
#include "admin/user_cmd.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <iomanip>
#include <ostream>

#include "admin/admin_db.h"
#include "auth/crypto.h"
#include "proto/codec.h"
#include "store/accounts.h"
#include "util/clock.h"

namespace chatd::admin {

void UserCommands::Register(CLI::App& app) {
  user_ = app.add_subcommand("user", "Manage accounts (works while the server runs)");
  user_->require_subcommand(1);
  add_ = user_->add_subcommand("add", "Create an account; the password comes from standard input or a prompt");
  add_->add_option("name", name_, "User name: 1-32 letters, digits, '.', '_' or '-'")->required();
  add_->add_flag("--admin", admin_, "Make the user an admin (may broadcast)");
  list_ = user_->add_subcommand("list", "List accounts");
  del_ = user_->add_subcommand("del", "Delete an account and its logins");
  del_->add_option("name", name_, "User name")->required();
  passwd_ = user_->add_subcommand("passwd", "Set a new password (logs the user out everywhere)");
  passwd_->add_option("name", name_, "User name")->required();
  for (auto* sub : {user_, add_, list_, del_, passwd_}) sub->fallthrough();
}

bool UserCommands::parsed() const { return user_ && user_->parsed(); }

int UserCommands::Run(const config::Config& cfg, std::ostream& out, std::ostream& err,
                      const PasswordReader& read_password) {
  if (!auth::InitCrypto()) {
    err << "chatd: cannot initialise libsodium\n";
    return 1;
  }
  AdminDb adb;
  util::Status s = OpenAdminDb(cfg, &adb);
  std::unique_ptr<store::Accounts> accounts;
  if (s.ok()) s = store::Accounts::Open(adb.db.get(), &accounts);
  if (!s.ok()) {
    err << "chatd: " << s.ToString() << "\n";
    return 1;
  }
  auto new_password = [&](std::string* hash) -> bool {
    std::string password, why;
    if (!read_password(&password, &why)) {
      err << "chatd: " << why << "\n";
      return false;
    }
    util::Status policy = auth::CheckPasswordPolicy(password);
    if (!policy.ok()) {
      err << "chatd: " << policy.message() << "\n";
      return false;
    }
    util::Status h = auth::HashPassword(password, hash);
    if (!h.ok()) {
      err << "chatd: " << h.ToString() << "\n";
      return false;
    }
    return true;
  };

  if (add_->parsed()) {
    if (!proto::ValidUserName(name_)) {
      err << "chatd: '" << name_ << "' is not a valid user name (1-32 letters, digits, '.', '_' or '-')\n";
      return 2;
    }
    std::string hash;
    if (!new_password(&hash)) return 1;
    store::UserInfo info;
    util::SystemClock clock;
    s = accounts->CreateUser(name_, hash, admin_, clock.NowMs(), &info);
    if (!s.ok()) {
      err << "chatd: " << s.message() << "\n";
      return 1;
    }
    out << "added user " << info.name << (admin_ ? " (admin)" : "") << "\n";
    return 0;
  }
  if (list_->parsed()) {
    std::vector<store::UserRecord> users;
    s = accounts->ListUsers(&users);
    if (!s.ok()) {
      err << "chatd: " << s.ToString() << "\n";
      return 1;
    }
    out << std::left << std::setw(34) << "NAME" << std::setw(7) << "ADMIN" << std::setw(7) << "KIND"
        << "CREATED (UTC)\n";
    for (const auto& u : users) {
      time_t t = static_cast<time_t>(u.created_at / 1000);
      tm utc{};
      gmtime_r(&t, &utc);
      char when[32];
      strftime(when, sizeof when, "%Y-%m-%d %H:%M", &utc);
      out << std::left << std::setw(34) << u.info.name << std::setw(7) << (u.info.admin ? "yes" : "no")
          << std::setw(7) << (u.site_user ? "site" : "local") << when << "\n";
    }
    out << users.size() << (users.size() == 1 ? " user\n" : " users\n");
    return 0;
  }
  if (del_->parsed()) {
    s = accounts->DeleteUser(name_);
    if (!s.ok()) {
      err << "chatd: " << s.message() << "\n";
      return 1;
    }
    out << "deleted user " << name_ << "\n";
    return 0;
  }
  if (passwd_->parsed()) {
    store::UserRecord rec;
    s = accounts->FindUser(name_, &rec);
    if (!s.ok()) {
      err << "chatd: " << s.message() << "\n";
      return 1;
    }
    std::string hash;
    if (!new_password(&hash)) return 1;
    s = accounts->SetPassword(name_, hash);
    int revoked = 0;
    if (s.ok()) s = accounts->RevokeSessions(rec.info.id, &revoked);
    if (!s.ok()) {
      err << "chatd: " << s.ToString() << "\n";
      return 1;
    }
    out << "password changed for " << rec.info.name << "; " << revoked << " login(s) revoked\n";
    return 0;
  }
  err << "chatd: say add, list, del or passwd\n";
  return 2;
}

}  // namespace chatd::admin
