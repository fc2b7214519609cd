// SPDX-License-Identifier: MIT
//
// Plain value types shared by the store and its users (core, net, admin). No behaviour.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chatd::store {

using UserId = int64_t;
using Mid = int64_t;
using ConvId = int64_t;

struct UserInfo {
  UserId id = 0;
  std::string name;  // canonical spelling, as registered
  bool admin = false;
};

struct UserRecord {
  UserInfo info;
  std::string password_hash;  // '' for accounts that log in only with site tokens
  int64_t created_at = 0;
};

}  // namespace chatd::store
