// SPDX-License-Identifier: MIT
//
// proto frames: the one encoder of every frame the server sends on /ws, and of the JSON bodies
// of the HTTP API (docs/protocol.md is their contract; tests/proto/frames_test.cpp holds the
// exact JSON of each). Each returns one compact JSON object with no raw newline, so frames can
// be packed newline-separated. `re` is the request's id as raw JSON (proto::Request::id); ""
// leaves `re` out. A message frame is encoded once and shared by every connection it goes to.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace chatd::proto {

// {"type":"ok","re":…}
std::string EncodeOk(std::string_view re);
// {"type":"error","re":…,"code":"…","message":"…"} (+ "retry_ms" when > 0)
std::string EncodeError(std::string_view re, const util::Status& status, int64_t retry_ms = 0);

// {"type":"message","mid":…,"from":"…","to":"…","text":"…","ts":…}, "room" instead of "to"
// for a room ("to":"*" for a broadcast).
struct MessageFrame {
  int64_t mid = 0;
  std::string_view from, to, room, text;
  int64_t ts = 0;
};
std::string EncodeMessage(const MessageFrame& m);

// {"type":"notification","mid":…,"title":"…","text":"…","data":{…},"ts":…}: a site's push.
// `data` is a JSON object as raw JSON ("" gives {}).
struct NotificationFrame {
  int64_t mid = 0;
  std::string_view title, text, data;
  int64_t ts = 0;
};
std::string EncodeNotification(const NotificationFrame& n);

// The answer to a send: {"type":"ok","re":…,"mid":…,"ts":…} (+ "dup":true for a resend).
std::string EncodeSent(std::string_view re, int64_t mid, int64_t ts, bool dup);
// {"type":"live","mid":…}: catch-up is over.
std::string EncodeLive(int64_t mid);
// {"type":"presence","user":"…","online":…}
std::string EncodePresence(std::string_view user, bool online);
// Several changes coalesced for one recipient: {"type":"presence","users":[{"user":…,"online":…}]}
std::string EncodePresenceList(const std::vector<std::pair<std::string, bool>>& changes);
// A large room's counts: {"type":"room","room":"…","members":…,"online":…}
std::string EncodeRoomCounts(std::string_view room, int64_t members, int64_t online);
// {"type":"member","room":"…","user":"…","joined":…}
std::string EncodeMember(std::string_view room, std::string_view user, bool joined);
// {"type":"receipt","from":"…","with":"…","upto":…}: `from` read the 1:1 conversation with `with`.
std::string EncodeReceipt(std::string_view from, std::string_view with, int64_t upto);
// To the sender of 1:1 messages a device of `from` acked: {"type":"delivered","from":…,"upto":…}
std::string EncodeDelivered(std::string_view from, int64_t upto);
// {"type":"read","with":"…","upto":…} or "room" instead of "with": the user's own marker moved.
std::string EncodeRead(std::string_view with, std::string_view room, int64_t upto);
// {"type":"typing","from":"…","to":"…"} or "room" instead of "to".
std::string EncodeTyping(std::string_view from, std::string_view to, std::string_view room);
// {"type":"invited","room":"…","by":"…","private":…}
std::string EncodeInvited(std::string_view room, std::string_view by, bool is_private);

// A room as the welcome and the rooms list show it; `unread` < 0 leaves the count out; a
// large room (online >= 0) says so and counts its online members: "large":true,"online":N.
struct RoomSummary {
  std::string_view name;
  bool is_private = false;
  int64_t members = 0;
  int64_t unread = -1;
  int64_t online = -1;
};
using UnreadCounts = std::vector<std::pair<std::string, int64_t>>;  // "bob", "#general", "!notifications"

// {"type":"welcome","re":…,"user":…,"device":…,"admin":…,"rooms":[…],"online":[…],"unread":{…}}
struct WelcomeFrame {
  std::string_view re, user, device;
  bool admin = false;
  std::vector<RoomSummary> rooms;
  std::vector<std::string> online;
  UnreadCounts unread;
};
std::string EncodeWelcome(const WelcomeFrame& w);

// The answer to a history request: {"type":"ok","re":…,"messages":[…],"more":…}; `messages`
// are message frames (EncodeMessage), oldest first.
std::string EncodeHistoryPage(std::string_view re, const std::vector<std::shared_ptr<const std::string>>& messages,
                              bool more);

// The answer to a join: {"type":"ok","re":…,"room":…,"private":…,"created":…,"members":…,"online":[…]};
// for a large room (online_count >= 0) `online` is empty and "large":true,"online_count":N follow.
struct JoinedFrame {
  std::string_view re, room;
  bool is_private = false, created = false;
  int64_t members = 0;
  std::vector<std::string> online;
  int64_t online_count = -1;
};
std::string EncodeJoined(const JoinedFrame& j);

// The answer to `rooms`: {"type":"ok","re":…,"rooms":[…],"unread":{…}}
std::string EncodeRoomList(std::string_view re, const std::vector<RoomSummary>& rooms, const UnreadCounts& unread);

// The answer to `who`: {"type":"ok","re":…,"users":[{"user":…,"devices":…}],"count":…}
std::string EncodeWho(std::string_view re, const std::vector<std::pair<std::string, int64_t>>& users, int64_t count);
// The answer to `conversations`: {"type":"ok","re":…,"conversations":[{"with":"bob","last":{…}},
// {"room":"general","private":false,"last":null}]}; `last` is the newest message's frame.
struct ConversationEntry {
  std::string with, room;
  bool is_private = false;
  std::string last;  // a message frame, or "" for none yet
};
std::string EncodeConversationList(std::string_view re, const std::vector<ConversationEntry>& convs);
// The answer to `members`, one page of the list (online first, then by name):
// {"type":"ok","re":…,"room":…,"members":[{"user":…,"online":…}],"offset":…,"total":…,"online":…,"more":…}
struct MemberPage {
  std::string_view re, room;
  std::vector<std::pair<std::string, bool>> members;
  int64_t offset = 0, total = 0, online = 0;
  bool more = false;
};
std::string EncodeMemberList(const MemberPage& page);
// The answer to `users`: {"type":"ok","re":…,"users":[{"user":…,"online":…}],"more":…}
std::string EncodeUserList(std::string_view re, const std::vector<std::pair<std::string, bool>>& users, bool more);

// --- HTTP API bodies -------------------------------------------------------------------------
// {"error":{"code":"…","message":"…"}}
std::string EncodeHttpError(const util::Status& status);
// POST /api/register: {"user":"…"}
std::string EncodeRegistered(std::string_view user);
// POST /api/login: {"token":"…","user":"…","admin":…}
std::string EncodeLoggedIn(std::string_view token, std::string_view user, bool admin);
// POST /api/publish: {"mid":…,"delivered":{"bob":true},"queued":["eve"]} (+ "dup":true, and
// "refused":[…] when some recipients' pools are full), or for everyone
// {"mid":…,"everyone":true,"online":N}.
std::string EncodePublished(int64_t mid, bool dup, const std::vector<std::string>& delivered,
                            const std::vector<std::string>& queued, const std::vector<std::string>& refused);
std::string EncodePublishedToEveryone(int64_t mid, bool dup, int64_t online);
// 404 of a publish to users that do not exist: the error, and "unknown":[…].
std::string EncodeUnknownUsers(const util::Status& status, const std::vector<std::string>& unknown);
// GET /api/messages/<mid>: {"mid":…,"recipients":[{"user":…,"delivered_at":…|null,"read_at":…|null}]}
// (rooms and broadcasts, which have no row per recipient: "delivered" and "read" booleans too).
struct Recipient {
  std::string user;
  int64_t delivered_at = 0, read_at = 0;  // 0: not yet (null)
  bool delivered = false, read = false;
};
std::string EncodeDeliveryStatus(int64_t mid, const std::vector<Recipient>& recipients);
// GET /api/presence: {"bob":true,"eve":false}, or with `counts` the number of live connections
// {"bob":2,"eve":0} (a separate key would collide with a user of that name).
std::string EncodePresenceMap(const std::vector<std::pair<std::string, int64_t>>& devices, bool counts);
// GET /api/users/<name>/unread: {"user":"…","unread":{…}}
std::string EncodeUserUnread(std::string_view user, const UnreadCounts& unread);

// --- webhooks (docs/http-api.md, Webhooks) ------------------------------------------------------
// What is POSTed: {"id":…,"event":"…","created_at":…,"data":{…}}; `data` is raw JSON.
std::string EncodeWebhookBody(int64_t id, std::string_view event, int64_t created_at_ms, std::string_view data);
// message.undelivered: {"mid":…,"user":"…","kind":"message","from":"…","text":"…","ts":…}, for a
// notification "kind":"notification" with "title" and no "from".
struct UndeliveredEvent {
  int64_t mid = 0;
  std::string_view user;
  bool notification = false;
  std::string_view from, title, text;
  int64_t ts = 0;
};
std::string EncodeUndeliveredEvent(const UndeliveredEvent& e);
// message.read: {"user":"…","with":"…","upto":…}, or "room":"…" (a room or "!notifications").
std::string EncodeReadEvent(std::string_view user, std::string_view with, std::string_view room, int64_t upto);
// user.online / user.offline: {"user":"…"}
std::string EncodeUserEvent(std::string_view user);

}  // namespace chatd::proto
