// SPDX-License-Identifier: MIT
//
// proto::Request: one client -> server WebSocket request, decoded and type-checked (PROTOCOL.md).
// Plain data; no I/O. Field presence is explicit where zero is a valid value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::proto {

enum class RequestType {
  kHello,
  kSend,
  kAck,
  kRead,
  kTyping,
  kHistory,
  kJoin,
  kLeave,
  kInvite,
  kRooms,
  kWho,
  kUsers,
  kConversations,
  kMembers,
  kPing,
};

std::string_view RequestTypeName(RequestType t);

// POST /api/publish: a notification from a site's backend (docs/http-api.md).
struct Publish {
  std::vector<std::string> to;  // user names as the site has them
  bool everyone = false;        // "to":"*"
  std::string room;             // or every member of a room
  std::string title, text;
  std::string data;             // a JSON object, compact; "" = none
  std::string cid;              // makes a retry idempotent (optional)
  bool create = false;          // unknown users are made as site users instead of refused
};

// Largest mid / cursor value a client may send (2^53 - 1: exact in JavaScript).
inline constexpr int64_t kMaxSafeInt = (int64_t{1} << 53) - 1;

struct Request {
  RequestType type = RequestType::kPing;
  std::string id;  // the request's "id" as raw JSON (number or string), empty when absent

  // hello
  std::string token, device, user, password;
  bool has_cursor = false;
  int64_t cursor = 0;

  // send / typing / read / history / join / leave / invite
  std::string cid;
  std::string to;    // a user name, or "*" (broadcast) for send
  std::string room;  // a room name (without '#')
  std::string with;  // the peer of a 1:1 conversation (read, history)
  std::string text;
  bool is_private = false;  // join: create the room as private

  bool has_upto = false;
  int64_t upto = 0;
  bool has_before = false;
  int64_t before = 0;
  int limit = 0;  // 0 = default
  int64_t offset = 0;  // members: where the page starts

  // users: a name prefix ("" = from the start of the directory)
  std::string query;
};

}  // namespace chatd::proto
