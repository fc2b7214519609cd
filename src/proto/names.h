// SPDX-License-Identifier: MIT
//
// proto names: what user and room names may be, and how they compare. Names are unique
// ignoring ASCII case (as the SQLite columns are, COLLATE NOCASE); FoldName() gives the form
// to key maps by.
//   - Local accounts (registered with a password): 1-32 of [A-Za-z0-9._-] (ValidUserName).
//   - Site users (named by a web site: a token's sub, a publish or push recipient) as the site
//     has them: numbers, e-mail addresses, session-style ids: 1-64 bytes of printable UTF-8,
//     no spaces or control characters (ValidSiteUserName). Not "*" (everyone), and not
//     starting with '#' or '!' (the keys of rooms and the notification feed in unread maps).
//     Every local name is also a valid site name.
//   - Rooms: 1-64 of [A-Za-z0-9._-] (ValidRoomName).
// Pure; any thread.
#pragma once

#include <string>
#include <string_view>

namespace chatd::proto {

// The "room" that names a user's feed of notifications and broadcasts (read, history, unread).
inline constexpr std::string_view kNotificationFeed = "!notifications";

bool ValidUserName(std::string_view name);
bool ValidSiteUserName(std::string_view name);
bool ValidRoomName(std::string_view name);

// `name` with ASCII letters lower-cased (other bytes as they are, like SQLite's NOCASE).
std::string FoldName(std::string_view name);

}  // namespace chatd::proto
