// SPDX-License-Identifier: MIT
//
// Plain value types shared by the store and its users (core, net, admin). No behaviour.
#pragma once

#include <cstdint>
#include <memory>
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

enum class ConvKind { kDirect = 1, kRoom = 2, kBroadcast = 3 };

// The broadcast feed is conversation 1 (schema 002 creates it).
inline constexpr ConvId kBroadcastConv = 1;

// One message as stored and as sent: `json` is its wire form ({"type":"message",...}),
// encoded once and shared by every connection it goes to.
struct StoredMessage {
  Mid mid = 0;
  int64_t ts = 0;
  ConvId conv = 0;
  UserId sender = 0;
  std::shared_ptr<const std::string> json;
};

struct UserRecord {
  UserInfo info;
  std::string password_hash;  // '' for accounts that log in only with site tokens
  int64_t created_at = 0;
  bool site_user = false;     // made by a web site's signed token (not a local account)
};

}  // namespace chatd::store
