// SPDX-License-Identifier: MIT
#include "proto/frames.h"

#include "proto/json_writer.h"

namespace chatd::proto {

namespace {

// {"type":"<type>"[,"re":…] — the caller adds the rest and End()s.
JsonWriter& Start(JsonWriter& w, std::string_view type, std::string_view re) {
  w.Begin().Str("type", type);
  if (!re.empty()) w.Raw("re", re);
  return w;
}

// [{"user":…,"online":…},…] under `key`.
JsonWriter& UsersOnline(JsonWriter& w, std::string_view key,
                        const std::vector<std::pair<std::string, bool>>& users) {
  w.BeginArray(key);
  for (const auto& [user, online] : users) w.Begin().Str("user", user).Bool("online", online).End();
  return w.EndArray();
}

void Unread(JsonWriter& w, const UnreadCounts& unread) {
  w.BeginObject("unread");
  for (const auto& [key, count] : unread) w.Int(key, count);
  w.End();
}

void Rooms(JsonWriter& w, const std::vector<RoomSummary>& rooms) {
  w.BeginArray("rooms");
  for (const auto& room : rooms) {
    w.Begin().Str("room", room.name).Bool("private", room.is_private).Int("members", room.members);
    if (room.online >= 0) w.Bool("large", true).Int("online", room.online);
    if (room.unread >= 0) w.Int("unread", room.unread);
    w.End();
  }
  w.EndArray();
}

}  // namespace

std::string EncodeOk(std::string_view re) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "ok", re).End();
  return out;
}

std::string EncodeError(std::string_view re, const util::Status& status, int64_t retry_ms) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "error", re).Str("code", util::Status::CodeName(status.code())).Str("message", status.message());
  if (retry_ms > 0) w.Int("retry_ms", retry_ms);
  w.End();
  return out;
}

std::string EncodeMessage(const MessageFrame& m) {
  std::string out;
  out.reserve(96 + m.text.size());
  JsonWriter w(&out);
  w.Begin().Str("type", "message").Int("mid", m.mid).Str("from", m.from);
  if (m.room.empty()) {
    w.Str("to", m.to);
  } else {
    w.Str("room", m.room);
  }
  w.Str("text", m.text).Int("ts", m.ts).End();
  return out;
}

std::string EncodeNotification(const NotificationFrame& n) {
  std::string out;
  out.reserve(96 + n.title.size() + n.text.size() + n.data.size());
  JsonWriter w(&out);
  w.Begin().Str("type", "notification").Int("mid", n.mid).Str("title", n.title).Str("text", n.text);
  w.Raw("data", n.data.empty() ? std::string_view("{}") : n.data).Int("ts", n.ts).End();
  return out;
}

std::string EncodeSent(std::string_view re, int64_t mid, int64_t ts, bool dup) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "ok", re).Int("mid", mid).Int("ts", ts);
  if (dup) w.Bool("dup", true);
  w.End();
  return out;
}

std::string EncodeLive(int64_t mid) {
  std::string out;
  JsonWriter(&out).Begin().Str("type", "live").Int("mid", mid).End();
  return out;
}

std::string EncodePresence(std::string_view user, bool online) {
  std::string out;
  JsonWriter(&out).Begin().Str("type", "presence").Str("user", user).Bool("online", online).End();
  return out;
}

std::string EncodePresenceList(const std::vector<std::pair<std::string, bool>>& changes) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Str("type", "presence").BeginArray("users");
  for (const auto& [user, online] : changes) w.Begin().Str("user", user).Bool("online", online).End();
  w.EndArray().End();
  return out;
}

std::string EncodeRoomCounts(std::string_view room, int64_t members, int64_t online) {
  std::string out;
  JsonWriter(&out).Begin().Str("type", "room").Str("room", room).Int("members", members).Int("online", online).End();
  return out;
}

std::string EncodeMember(std::string_view room, std::string_view user, bool joined) {
  std::string out;
  JsonWriter(&out).Begin().Str("type", "member").Str("room", room).Str("user", user).Bool("joined", joined).End();
  return out;
}

std::string EncodeReceipt(std::string_view from, std::string_view with, int64_t upto) {
  std::string out;
  JsonWriter(&out).Begin().Str("type", "receipt").Str("from", from).Str("with", with).Int("upto", upto).End();
  return out;
}

std::string EncodeDelivered(std::string_view from, int64_t upto) {
  std::string out;
  JsonWriter(&out).Begin().Str("type", "delivered").Str("from", from).Int("upto", upto).End();
  return out;
}

std::string EncodeRead(std::string_view with, std::string_view room, int64_t upto) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Str("type", "read");
  if (room.empty()) {
    w.Str("with", with);
  } else {
    w.Str("room", room);
  }
  w.Int("upto", upto).End();
  return out;
}

std::string EncodeTyping(std::string_view from, std::string_view to, std::string_view room) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Str("type", "typing").Str("from", from);
  if (room.empty()) {
    w.Str("to", to);
  } else {
    w.Str("room", room);
  }
  w.End();
  return out;
}

std::string EncodeInvited(std::string_view room, std::string_view by, bool is_private) {
  std::string out;
  JsonWriter(&out).Begin().Str("type", "invited").Str("room", room).Str("by", by).Bool("private", is_private).End();
  return out;
}

std::string EncodeWelcome(const WelcomeFrame& f) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "welcome", f.re).Str("user", f.user).Str("device", f.device).Bool("admin", f.admin);
  Rooms(w, f.rooms);
  w.BeginArray("online");
  for (const auto& name : f.online) w.Str(name);
  w.EndArray();
  Unread(w, f.unread);
  w.End();
  return out;
}

std::string EncodeHistoryPage(std::string_view re, const std::vector<std::shared_ptr<const std::string>>& messages,
                              bool more) {
  std::string out;
  size_t size = 64;
  for (const auto& m : messages) size += m->size() + 1;
  out.reserve(size);
  JsonWriter w(&out);
  Start(w, "ok", re).BeginArray("messages");
  for (const auto& m : messages) w.Raw(*m);
  w.EndArray().Bool("more", more).End();
  return out;
}

std::string EncodeJoined(const JoinedFrame& j) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "ok", j.re).Str("room", j.room).Bool("private", j.is_private).Bool("created", j.created);
  w.Int("members", j.members).BeginArray("online");
  for (const auto& name : j.online) w.Str(name);
  w.EndArray();
  if (j.online_count >= 0) w.Bool("large", true).Int("online_count", j.online_count);
  w.End();
  return out;
}

std::string EncodeRoomList(std::string_view re, const std::vector<RoomSummary>& rooms, const UnreadCounts& unread) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "ok", re);
  Rooms(w, rooms);
  Unread(w, unread);
  w.End();
  return out;
}

std::string EncodeWho(std::string_view re, const std::vector<std::pair<std::string, int64_t>>& users, int64_t count) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "ok", re).BeginArray("users");
  for (const auto& [user, devices] : users) w.Begin().Str("user", user).Int("devices", devices).End();
  w.EndArray().Int("count", count).End();
  return out;
}

std::string EncodeConversationList(std::string_view re, const std::vector<ConversationEntry>& convs) {
  std::string out;
  JsonWriter w(&out);
  Start(w, "ok", re).BeginArray("conversations");
  for (const auto& c : convs) {
    w.Begin();
    if (c.room.empty()) {
      w.Str("with", c.with);
    } else {
      w.Str("room", c.room).Bool("private", c.is_private);
    }
    w.Raw("last", c.last.empty() ? std::string_view("null") : std::string_view(c.last)).End();
  }
  w.EndArray().End();
  return out;
}

std::string EncodeMemberList(const MemberPage& page) {
  std::string out;
  JsonWriter w(&out);
  UsersOnline(Start(w, "ok", page.re).Str("room", page.room), "members", page.members)
      .Int("offset", page.offset)
      .Int("total", page.total)
      .Int("online", page.online)
      .Bool("more", page.more)
      .End();
  return out;
}

std::string EncodeUserList(std::string_view re, const std::vector<std::pair<std::string, bool>>& users, bool more) {
  std::string out;
  JsonWriter w(&out);
  UsersOnline(Start(w, "ok", re), "users", users).Bool("more", more).End();
  return out;
}

std::string EncodeHttpError(const util::Status& status) {
  std::string out;
  JsonWriter(&out)
      .Begin()
      .BeginObject("error")
      .Str("code", util::Status::CodeName(status.code()))
      .Str("message", status.message())
      .End()
      .End();
  return out;
}

std::string EncodeRegistered(std::string_view user) {
  std::string out;
  JsonWriter(&out).Begin().Str("user", user).End();
  return out;
}

std::string EncodeLoggedIn(std::string_view token, std::string_view user, bool admin) {
  std::string out;
  JsonWriter(&out).Begin().Str("token", token).Str("user", user).Bool("admin", admin).End();
  return out;
}

std::string EncodePublished(int64_t mid, bool dup, const std::vector<std::string>& delivered,
                            const std::vector<std::string>& queued, const std::vector<std::string>& refused) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Int("mid", mid);
  if (dup) w.Bool("dup", true);
  w.BeginObject("delivered");
  for (const auto& name : delivered) w.Bool(name, true);
  w.End().BeginArray("queued");
  for (const auto& name : queued) w.Str(name);
  w.EndArray();
  if (!refused.empty()) {
    w.BeginArray("refused");
    for (const auto& name : refused) w.Str(name);
    w.EndArray();
  }
  w.End();
  return out;
}

std::string EncodePublishedToEveryone(int64_t mid, bool dup, int64_t online) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Int("mid", mid);
  if (dup) w.Bool("dup", true);
  w.Bool("everyone", true).Int("online", online).End();
  return out;
}

std::string EncodeUnknownUsers(const util::Status& status, const std::vector<std::string>& unknown) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().BeginObject("error").Str("code", util::Status::CodeName(status.code())).Str("message", status.message());
  w.End().BeginArray("unknown");
  for (const auto& name : unknown) w.Str(name);
  w.EndArray().End();
  return out;
}

std::string EncodeDeliveryStatus(int64_t mid, const std::vector<Recipient>& recipients) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Int("mid", mid).BeginArray("recipients");
  for (const auto& r : recipients) {
    w.Begin().Str("user", r.user);
    if (r.delivered_at > 0) {
      w.Int("delivered_at", r.delivered_at);
    } else {
      w.Raw("delivered_at", "null");
    }
    if (r.read_at > 0) {
      w.Int("read_at", r.read_at);
    } else {
      w.Raw("read_at", "null");
    }
    w.Bool("delivered", r.delivered).Bool("read", r.read).End();
  }
  w.EndArray().End();
  return out;
}

std::string EncodePresenceMap(const std::vector<std::pair<std::string, int64_t>>& devices, bool counts) {
  std::string out;
  JsonWriter w(&out);
  w.Begin();
  for (const auto& [user, n] : devices) {
    if (counts) {
      w.Int(user, n);
    } else {
      w.Bool(user, n > 0);
    }
  }
  w.End();
  return out;
}

std::string EncodeUserUnread(std::string_view user, const UnreadCounts& unread) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Str("user", user);
  Unread(w, unread);
  w.End();
  return out;
}

std::string EncodeWebhookBody(int64_t id, std::string_view event, int64_t created_at_ms, std::string_view data) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Int("id", id).Str("event", event).Int("created_at", created_at_ms).Raw("data", data).End();
  return out;
}

std::string EncodeUndeliveredEvent(const UndeliveredEvent& e) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Int("mid", e.mid).Str("user", e.user).Str("kind", e.notification ? "notification" : "message");
  if (e.notification) {
    w.Str("title", e.title);
  } else {
    w.Str("from", e.from);
  }
  w.Str("text", e.text).Int("ts", e.ts).End();
  return out;
}

std::string EncodeReadEvent(std::string_view user, std::string_view with, std::string_view room, int64_t upto) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Str("user", user);
  if (!room.empty()) {
    w.Str("room", room);
  } else {
    w.Str("with", with);
  }
  w.Int("upto", upto).End();
  return out;
}

std::string EncodeUserEvent(std::string_view user) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Str("user", user).End();
  return out;
}

}  // namespace chatd::proto
