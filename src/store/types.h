// SPDX-License-Identifier: MIT
//
// Plain value types shared by the store and its users (core, net, admin). No behaviour.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace chatd::store {

using UserId = int64_t;
using Mid = int64_t;
using ConvId = int64_t;

struct UserInfo {
  UserId id = 0;
  std::string name;  // canonical spelling, as registered
  bool admin = false;
};

// conversations.kind. kNotifications: the one conversation of notifications to users (schema 005).
enum class ConvKind { kDirect = 1, kRoom = 2, kBroadcast = 3, kNotifications = 4 };

// The broadcast feed is conversation 1 (schema 002 creates it).
inline constexpr ConvId kBroadcastConv = 1;

// Who may send to everyone ("to":"*"): admins. The store refuses anyone else; the core asks the
// same rule first, so a refused broadcast costs no storage job and none of the sender's rate.
inline bool MayBroadcast(const UserInfo& sender) { return sender.admin; }
inline util::Status BroadcastRefused() { return util::Status::Forbidden("only admins may broadcast"); }

// One message as stored and as sent: `json` is its wire form ({"type":"message",...}),
// encoded once and shared by every connection it goes to.
struct StoredMessage {
  Mid mid = 0;
  int64_t ts = 0;
  ConvId conv = 0;
  UserId sender = 0;
  std::shared_ptr<const std::string> json;
};

using MemberList = std::shared_ptr<const std::vector<UserId>>;

struct RoomInfo {
  ConvId conv = 0;
  std::string name;
  bool is_private = false;
  MemberList members;  // a snapshot, sorted; membership changes make a new list
};

// The store's limits (config: pool-max-messages, ..., max-rooms-per-user).
struct MessageLimits {
  int pool_max_messages = 10000;
  int64_t pool_max_bytes = 64LL * 1024 * 1024;
  int history_max_messages = 10000;
  int history_max_days = 365;
  int max_rooms_per_user = 100;  // rooms one (non-admin) user may create; 0 = no limit
  // A resend is recognised for the messages of the last `dedupe_days` (0: any age), at most
  // the newest `dedupe_max_entries` (store/dedupe.h).
  int dedupe_days = 7;
  size_t dedupe_max_entries = 2'000'000;
};

// --- what store operations take and give (store/chat_store.h) ----------------------------------

struct SendRequest {
  UserInfo sender;
  std::string cid;
  std::string to;    // user name, or "*" for a broadcast
  std::string room;  // or a room name
  std::string text;
  int64_t ts = 0;
};

struct SendResult {
  Mid mid = 0;
  int64_t ts = 0;
  bool dup = false;             // same (sender, cid) seen before: nothing stored or delivered
  ConvKind kind = ConvKind::kDirect;
  ConvId conv = 0;
  UserInfo recipient;           // direct messages: the recipient, canonical name
  RoomInfo room;                // rooms: the room and its members (sender included)
  std::shared_ptr<const std::string> json;  // the message frame; empty when dup
};

// What a page of catch-up holds. `high_water`: every message up to it was considered.
struct FetchResult {
  std::vector<StoredMessage> messages;
  Mid high_water = 0;
  bool complete = false;  // no more after this page (as of high_water)
  Mid next = 0;           // not complete: the next page starts after this mid
};

// Everything a fresh login needs to know (welcome, presence and unread counts).
struct UserState {
  std::vector<RoomInfo> rooms;
  std::vector<UserInfo> partners;                         // users with a 1:1 conversation
  std::vector<std::pair<std::string, int64_t>> unread;  // "bob", "#general", "!notifications" -> count
};

// One of a user's conversations (a 1:1 peer or a room), newest activity first.
struct ConversationSummary {
  std::string with;  // the peer of a 1:1 conversation
  std::string room;  // or the room's name
  bool is_private = false;
  Mid last_mid = 0;
  std::shared_ptr<const std::string> last;  // the newest message's frame; null when none yet
};

struct JoinResult {
  RoomInfo room;
  bool created = false;
  bool already_member = false;
};

struct ReadResult {
  ConvKind kind = ConvKind::kDirect;
  UserInfo peer;  // 1:1: who gets the receipt
  Mid upto = 0;   // the marker after this read (never moves backwards)
};

struct HistoryResult {
  std::vector<std::shared_ptr<const std::string>> messages;  // oldest first
  bool more = false;
};

struct UserRecord {
  UserInfo info;
  std::string password_hash;  // '' for accounts that log in only with site tokens
  int64_t created_at = 0;
  bool site_user = false;     // made by a web site's signed token (not a local account)
};

// --- what a web site's backend asks (store/site_store.h) ----------------------------------------

// A site's notification (POST /api/publish, /push): to users, a room's members, or everyone.
struct PublishRequest {
  std::string key_hash;          // SHA-256 (hex) of the API key the request came with
  bool open_push = false;        // from the push listener with push-open: no key (key name "(push-open)")
  std::vector<std::string> to;   // user names as the site has them
  bool everyone = false;
  std::string room;
  std::string title, text, data;  // data: a JSON object, compact ("" = none)
  std::string cid;                // the site's id for it: a retry with the same cid is a dup
  bool create = false;            // unknown names become site users instead of a refusal
  int64_t ts = 0;
};

struct PublishResult {
  std::string key_name;  // the API key's name
  Mid mid = 0;
  int64_t ts = 0;
  bool dup = false;       // this cid was published before: nothing stored or delivered again
  bool everyone = false;
  std::vector<UserInfo> recipients;  // stored for them (sorted by id, each once)
  std::vector<std::string> refused;  // their pool is full: not stored for them
  std::vector<std::string> unknown;  // with not_found: the names that are no users
  std::shared_ptr<const std::string> json;  // the notification frame; empty when dup
};

// Who got a message and who read it (GET /api/messages/<mid>).
struct RecipientStatus {
  std::string user;
  int64_t delivered_at = 0, read_at = 0;  // ms; 0 = not yet, or not known (rooms, broadcasts)
  bool delivered = false, read = false;
};
struct DeliveryReport {
  Mid mid = 0;
  std::vector<RecipientStatus> recipients;  // sorted by name
};

// An API key as `chatd apikey list` shows it (the key itself is never kept).
struct ApiKeyInfo {
  std::string name;
  int64_t created_at = 0, revoked_at = 0;  // 0: not revoked
};

}  // namespace chatd::store
