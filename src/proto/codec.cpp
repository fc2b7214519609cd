// SPDX-License-Identifier: MIT
//
// Over 400 lines: every JSON chatd reads from outside (WebSocket requests, the HTTP API's bodies,
// site tokens' claims) is decoded here, since cJSON may be included in the codec files only (STYLE L1;
// proto/socketio_codec.cpp has the socket.io bridge's).
#include "proto/codec.h"

#include <cjson/cJSON.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "proto/json_writer.h"

namespace chatd::proto {
namespace {

using util::Status;

struct JsonDeleter {
  void operator()(cJSON* p) const { cJSON_Delete(p); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxCidBytes = 64;
constexpr size_t kMaxDeviceBytes = 64;
constexpr size_t kMaxTokenBytes = 4096;
constexpr size_t kMaxPasswordBytes = 1024;
constexpr int kMaxHistoryLimit = 200;
constexpr int kMaxUsersLimit = 50;
constexpr int kMaxMembersLimit = 1000;  // a page of a room's member list
constexpr int kMaxConversationsLimit = 100;  // x 16 KiB texts at most: well under the outbound limit

struct TypeName {
  std::string_view name;
  RequestType type;
};
constexpr TypeName kTypes[] = {
    {"hello", RequestType::kHello},     {"send", RequestType::kSend},   {"ack", RequestType::kAck},
    {"read", RequestType::kRead},       {"typing", RequestType::kTyping}, {"history", RequestType::kHistory},
    {"join", RequestType::kJoin},       {"leave", RequestType::kLeave}, {"invite", RequestType::kInvite},
    {"rooms", RequestType::kRooms},     {"who", RequestType::kWho},     {"ping", RequestType::kPing},
    {"users", RequestType::kUsers},     {"conversations", RequestType::kConversations},
    {"members", RequestType::kMembers},
};

// One parsed JSON object and how its strings must be read (see ParseDoc).
struct In {
  const cJSON* obj;
  bool nul_sentinel;  // NUL escapes were parsed as kNulSentinel
};

// U+10FFFF in UTF-8: stands in for a "\u0000" escape while cJSON parses (ParseDoc).
constexpr std::string_view kNulSentinel = "\xf4\x8f\xbf\xbf";

// A string's value with its full length. cJSON keeps none (strlen would stop at a NUL), so
// NUL escapes were parsed as kNulSentinel and become NUL bytes here.
void StringOf(const cJSON* item, bool nul_sentinel, std::string* out) {
  std::string_view v(item->valuestring);
  out->clear();
  if (!nul_sentinel) {
    out->assign(v);
    return;
  }
  for (size_t pos = 0;;) {
    size_t hit = v.find(kNulSentinel, pos);
    out->append(v.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
    if (hit == std::string_view::npos) return;
    out->push_back('\0');
    pos = hit + kNulSentinel.size();
  }
}

// Reads an optional string member. Absent -> OK with *present = false. A NUL character is
// refused unless `allow_nul` (message text and passwords may hold one; names, ids, cids and
// tokens may not: they would compare or print cut short elsewhere).
Status GetString(const In& in, const char* key, size_t max_bytes, std::string* out, bool* present = nullptr,
                 bool allow_nul = false) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(in.obj, key);
  if (present) *present = item != nullptr;
  if (!item) return Status::Ok();
  if (!cJSON_IsString(item) || !item->valuestring) return Status::BadRequest(std::string(key) + " must be a string");
  StringOf(item, in.nul_sentinel, out);
  if (out->size() > max_bytes) return Status::BadRequest(std::string(key) + " is too long");
  if (!allow_nul && out->find('\0') != std::string::npos) {
    return Status::BadRequest(std::string(key) + " must not contain NUL characters");
  }
  return Status::Ok();
}

Status RequireString(const In& in, const char* key, size_t max_bytes, std::string* out) {
  bool present = false;
  Status s = GetString(in, key, max_bytes, out, &present);
  if (!s.ok()) return s;
  if (!present || out->empty()) return Status::BadRequest(std::string(key) + " is required");
  return Status::Ok();
}

// Reads an optional non-negative integer below 2^53.
Status GetMid(const cJSON* obj, const char* key, int64_t* out, bool* present) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  *present = item != nullptr;
  if (!item) return Status::Ok();
  double d = item->valuedouble;
  if (!cJSON_IsNumber(item) || !std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxSafeInt) ||
      d != std::floor(d)) {
    return Status::BadRequest(std::string(key) + " must be an integer between 0 and 2^53-1");
  }
  *out = static_cast<int64_t>(d);
  return Status::Ok();
}

Status DecodeId(const In& in, std::string* out) {
  const cJSON* id = cJSON_GetObjectItemCaseSensitive(in.obj, "id");
  if (!id) return Status::Ok();
  if (cJSON_IsString(id) && id->valuestring) {
    std::string value;
    Status s = GetString(in, "id", kMaxIdBytes, &value);
    if (!s.ok()) return s;
    AppendJsonString(out, value);
    return Status::Ok();
  }
  if (cJSON_IsNumber(id) && std::isfinite(id->valuedouble)) {
    char buf[32];
    double d = id->valuedouble;
    if (d == std::floor(d) && std::fabs(d) <= static_cast<double>(kMaxSafeInt)) {
      snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
    } else {
      snprintf(buf, sizeof buf, "%.17g", d);
    }
    out->assign(buf);
    return Status::Ok();
  }
  return Status::BadRequest("id must be a number or a string");
}

// Exactly one of `with`/`to` (a user) or `room` must be set.
Status RequirePeerOrRoom(const std::string& peer, const char* peer_key, const std::string& room) {
  if (peer.empty() == room.empty()) {
    return Status::BadRequest(std::string("exactly one of ") + peer_key + " and room is required");
  }
  if (!peer.empty() && peer != "*" && !ValidSiteUserName(peer)) {
    return Status::BadRequest(std::string(peer_key) + " is not a valid user name");
  }
  if (!room.empty() && !ValidRoomName(room)) return Status::BadRequest("room is not a valid room name");
  return Status::Ok();
}

Status DecodeFields(const In& obj, Request* r) {
  Status s;
  bool present = false;
  switch (r->type) {
    case RequestType::kHello:
      if (!(s = GetString(obj, "token", kMaxTokenBytes, &r->token)).ok()) return s;
      if (!(s = GetString(obj, "device", kMaxDeviceBytes, &r->device)).ok()) return s;
      if (!(s = GetString(obj, "user", 64, &r->user)).ok()) return s;
      if (!(s = GetString(obj, "password", kMaxPasswordBytes, &r->password, nullptr, true)).ok()) return s;
      if (!(s = GetMid(obj.obj, "cursor", &r->cursor, &r->has_cursor)).ok()) return s;
      if (!r->user.empty() && r->password.empty()) return Status::BadRequest("password is required with user");
      return Status::Ok();
    case RequestType::kSend:
      if (!(s = RequireString(obj, "cid", kMaxCidBytes, &r->cid)).ok()) return s;
      if (!(s = GetString(obj, "to", 64, &r->to)).ok()) return s;
      if (!(s = GetString(obj, "room", 128, &r->room)).ok()) return s;
      if (!(s = RequirePeerOrRoom(r->to, "to", r->room)).ok()) return s;
      // The byte limit on text is a server setting; the frame limit already bounds it here.
      if (!(s = GetString(obj, "text", SIZE_MAX, &r->text, &present, true)).ok()) return s;
      if (!present || r->text.empty()) return Status::BadRequest("text is required");
      return Status::Ok();
    case RequestType::kAck:
      if (!(s = GetMid(obj.obj, "upto", &r->upto, &r->has_upto)).ok()) return s;
      if (!r->has_upto) return Status::BadRequest("upto is required");
      return Status::Ok();
    case RequestType::kRead:
      if (!(s = GetString(obj, "with", 64, &r->with)).ok()) return s;
      if (!(s = GetString(obj, "room", 128, &r->room)).ok()) return s;
      if (r->room == kNotificationFeed && r->with.empty()) {
        // The notification feed is read like a room (PROTOCOL.md, Notifications).
      } else if (!(s = RequirePeerOrRoom(r->with, "with", r->room)).ok()) {
        return s;
      }
      if (r->with == "*") return Status::BadRequest("with is not a valid user name");
      if (!(s = GetMid(obj.obj, "upto", &r->upto, &r->has_upto)).ok()) return s;
      if (!r->has_upto) return Status::BadRequest("upto is required");
      return Status::Ok();
    case RequestType::kTyping:
      if (!(s = GetString(obj, "to", 64, &r->to)).ok()) return s;
      if (!(s = GetString(obj, "room", 128, &r->room)).ok()) return s;
      if (r->to == "*") return Status::BadRequest("typing cannot be broadcast");
      return RequirePeerOrRoom(r->to, "to", r->room);
    case RequestType::kHistory: {
      if (!(s = GetString(obj, "with", 64, &r->with)).ok()) return s;
      if (!(s = GetString(obj, "room", 128, &r->room)).ok()) return s;
      if (r->room != kNotificationFeed || !r->with.empty()) {  // the feed pages like a room
        if (!(s = RequirePeerOrRoom(r->with, "with", r->room)).ok()) return s;
      }
      if (!(s = GetMid(obj.obj, "before", &r->before, &r->has_before)).ok()) return s;
      int64_t limit = 0;
      bool has_limit = false;
      if (!(s = GetMid(obj.obj, "limit", &limit, &has_limit)).ok()) return s;
      if (has_limit && (limit < 1 || limit > kMaxHistoryLimit)) {
        return Status::BadRequest("limit must be between 1 and " + std::to_string(kMaxHistoryLimit));
      }
      r->limit = has_limit ? static_cast<int>(limit) : 50;
      return Status::Ok();
    }
    case RequestType::kMembers: {
      if (!(s = RequireString(obj, "room", 128, &r->room)).ok()) return s;
      if (!ValidRoomName(r->room)) return Status::BadRequest("room must be 1-64 of letters, digits, '.', '_', '-'");
      int64_t limit = 0, offset = 0;
      bool has_limit = false, has_offset = false;
      if (!(s = GetMid(obj.obj, "limit", &limit, &has_limit)).ok()) return s;
      if (has_limit && (limit < 1 || limit > kMaxMembersLimit)) {
        return Status::BadRequest("limit must be between 1 and " + std::to_string(kMaxMembersLimit));
      }
      if (!(s = GetMid(obj.obj, "offset", &offset, &has_offset)).ok()) return s;
      r->limit = has_limit ? static_cast<int>(limit) : kMaxMembersLimit;
      r->offset = offset;
      return Status::Ok();
    }
    case RequestType::kJoin:
    case RequestType::kLeave:
    case RequestType::kInvite: {
      if (!(s = RequireString(obj, "room", 128, &r->room)).ok()) return s;
      if (!ValidRoomName(r->room)) return Status::BadRequest("room must be 1-64 of letters, digits, '.', '_', '-'");
      if (r->type == RequestType::kJoin) {
        const cJSON* priv = cJSON_GetObjectItemCaseSensitive(obj.obj, "private");
        if (priv && !cJSON_IsBool(priv)) return Status::BadRequest("private must be true or false");
        r->is_private = priv && cJSON_IsTrue(priv);
      }
      if (r->type == RequestType::kInvite) {
        if (!(s = RequireString(obj, "user", 64, &r->user)).ok()) return s;
        if (!ValidSiteUserName(r->user)) return Status::BadRequest("user is not a valid user name");
      }
      return Status::Ok();
    }
    case RequestType::kUsers:
    case RequestType::kConversations: {
      if (r->type == RequestType::kUsers && !(s = GetString(obj, "q", 64, &r->query)).ok()) return s;
      int64_t limit = 0;
      bool has_limit = false;
      if (!(s = GetMid(obj.obj, "limit", &limit, &has_limit)).ok()) return s;
      int most = r->type == RequestType::kUsers ? kMaxUsersLimit : kMaxConversationsLimit;
      if (has_limit && (limit < 1 || limit > most)) {
        return Status::BadRequest("limit must be between 1 and " + std::to_string(most));
      }
      r->limit = has_limit ? static_cast<int>(limit) : (r->type == RequestType::kUsers ? 20 : 50);
      return Status::Ok();
    }
    case RequestType::kRooms:
    case RequestType::kWho:
    case RequestType::kPing:
      return Status::Ok();
  }
  return Status::BadRequest("unknown type");
}

}  // namespace

std::string_view RequestTypeName(RequestType t) {
  for (const auto& tn : kTypes) {
    if (tn.type == t) return tn.name;
  }
  return "?";
}

std::vector<std::string_view> SplitFrame(std::string_view frame) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= frame.size()) {
    size_t nl = frame.find('\n', start);
    if (nl == std::string_view::npos) nl = frame.size();
    std::string_view line = frame.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back(line);
    start = nl + 1;
  }
  return lines;
}

// Parses exactly one JSON value filling `json` (whitespace around it allowed, nothing else).
static cJSON* ParseWhole(std::string_view json) {
  const char* end = nullptr;
  cJSON* root = cJSON_ParseWithLengthOpts(json.data(), json.size(), &end, false);
  if (!root) return nullptr;
  for (const char* p = end; p < json.data() + json.size(); ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
      cJSON_Delete(root);
      return nullptr;
    }
  }
  return root;
}

namespace {

// Whether `json` holds U+10FFFF, raw or escaped (\udbff\udfff in any case).
bool HasSentinel(std::string_view json) {
  if (json.find(kNulSentinel) != std::string_view::npos) return true;
  for (size_t i = 0; i + 12 <= json.size(); ++i) {
    if (json[i] != '\\' || json[i + 1] != 'u') continue;
    auto lower = [&](size_t at, size_t n) {
      std::string t(json.substr(at, n));
      for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return t;
    };
    if (lower(i + 2, 4) == "dbff" && json.substr(i + 6, 2) == "\\u" && lower(i + 8, 4) == "dfff") return true;
  }
  return false;
}

// A parsed object. cJSON keeps no string lengths, so a "\u0000" escape would cut every string
// it is in; a line that has one is parsed with each replaced by the escape of U+10FFFF, which
// StringOf() turns back into a NUL byte (a line that already holds U+10FFFF is then refused).
// Raw NUL bytes are not JSON at all (control characters must be escaped): refused.
Status ParseDoc(std::string_view json, JsonPtr* root, bool* nul_sentinel) {
  *nul_sentinel = false;
  if (json.find('\0') != std::string_view::npos) return Status::BadRequest("malformed JSON (a raw NUL byte)");
  std::string copy;
  size_t copied = 0;  // json[0, copied) is in `copy` (once a NUL escape was found)
  for (size_t i = 0; i + 1 < json.size(); ++i) {
    if (json[i] != '\\') continue;
    if (json[i + 1] == 'u' && i + 6 <= json.size() && json.substr(i + 2, 4) == "0000") {
      if (!*nul_sentinel && HasSentinel(json)) {
        return Status::BadRequest("U+10FFFF and NUL characters together are not supported");
      }
      *nul_sentinel = true;
      copy.append(json.substr(copied, i - copied)).append("\\udbff\\udfff");
      copied = i + 6;
      i += 5;
    } else {
      ++i;  // the escaped character (a \uXXXX's hex digits hold no backslash)
    }
  }
  if (*nul_sentinel) copy.append(json.substr(copied));
  root->reset(ParseWhole(*nul_sentinel ? std::string_view(copy) : json));
  if (!*root) return Status::BadRequest("malformed JSON");
  return Status::Ok();
}

}  // namespace

Status Decode(std::string_view json, Request* out) {
  *out = Request{};
  JsonPtr root;
  bool nul_sentinel = false;
  Status s = ParseDoc(json, &root, &nul_sentinel);
  if (!s.ok()) return s;
  if (!cJSON_IsObject(root.get())) return Status::BadRequest("a request must be a JSON object");
  In in{root.get(), nul_sentinel};
  if (!(s = DecodeId(in, &out->id)).ok()) return s;
  const cJSON* type = cJSON_GetObjectItemCaseSensitive(root.get(), "type");
  if (!type) return Status::BadRequest("type is required");
  if (!cJSON_IsString(type) || !type->valuestring) return Status::BadRequest("type must be a string");
  std::string_view name = type->valuestring;
  bool known = false;
  for (const auto& tn : kTypes) {
    if (tn.name == name) {
      out->type = tn.type;
      known = true;
      break;
    }
  }
  if (!known) {
    std::string shown(name.substr(0, 32));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return Status::BadRequest("unknown type '" + shown + "'");
  }
  return DecodeFields(in, out);
}

Status DecodeCredentials(std::string_view json, std::string* user, std::string* password) {
  JsonPtr root;
  bool nul_sentinel = false;
  if (!ParseDoc(json, &root, &nul_sentinel).ok() || !cJSON_IsObject(root.get())) {
    return Status::BadRequest("expected a JSON object {\"user\":…,\"password\":…}");
  }
  In in{root.get(), nul_sentinel};
  Status s = RequireString(in, "user", 64, user);
  if (!s.ok()) return s;
  bool present = false;
  s = GetString(in, "password", kMaxPasswordBytes, password, &present, true);
  if (!s.ok()) return s;
  if (!present || password->empty()) return Status::BadRequest("password is required");
  return Status::Ok();
}

Status DecodePublish(std::string_view json, Publish* out) {
  *out = Publish{};
  JsonPtr root;
  bool nul_sentinel = false;
  Status s = ParseDoc(json, &root, &nul_sentinel);
  if (!s.ok()) return s;
  if (!cJSON_IsObject(root.get())) return Status::BadRequest("expected a JSON object");
  In in{root.get(), nul_sentinel};
  const cJSON* to = cJSON_GetObjectItemCaseSensitive(in.obj, "to");
  if (cJSON_IsArray(to)) {
    for (const cJSON* item = to->child; item; item = item->next) {
      if (!cJSON_IsString(item) || !item->valuestring) return Status::BadRequest("to must hold user names");
      std::string name;
      StringOf(item, nul_sentinel, &name);
      if (!ValidSiteUserName(name)) return Status::BadRequest("to: '" + name.substr(0, 64) + "' is not a valid user name");
      out->to.push_back(std::move(name));
      if (out->to.size() > kMaxPublishRecipients) {
        return Status::BadRequest("to lists more than " + std::to_string(kMaxPublishRecipients) + " users");
      }
    }
    if (out->to.empty()) return Status::BadRequest("to is an empty list");
  } else if (to) {
    std::string name;
    if (!(s = GetString(in, "to", 64, &name)).ok()) return s;
    if (name == "*") {
      out->everyone = true;
    } else if (!ValidSiteUserName(name)) {
      return Status::BadRequest("to is not a valid user name");
    } else {
      out->to.push_back(std::move(name));
    }
  }
  if (!(s = GetString(in, "room", 128, &out->room)).ok()) return s;
  if (!out->room.empty() && !ValidRoomName(out->room)) return Status::BadRequest("room is not a valid room name");
  if ((to != nullptr) == !out->room.empty()) return Status::BadRequest("exactly one of to and room is required");
  if (!(s = GetString(in, "title", kMaxTitleBytes, &out->title, nullptr, true)).ok()) return s;
  if (!(s = GetString(in, "text", SIZE_MAX, &out->text, nullptr, true)).ok()) return s;
  if (out->title.empty() && out->text.empty()) return Status::BadRequest("title or text is required");
  if (!(s = GetString(in, "cid", kMaxCidBytes, &out->cid)).ok()) return s;
  const cJSON* data = cJSON_GetObjectItemCaseSensitive(in.obj, "data");
  if (data && !cJSON_IsNull(data)) {
    if (!cJSON_IsObject(data)) return Status::BadRequest("data must be a JSON object");
    char* printed = cJSON_PrintUnformatted(data);
    if (!printed) return Status::Internal("out of memory");
    out->data = printed;
    cJSON_free(printed);
    if (nul_sentinel && out->data.find("\\udbff\\udfff") != std::string::npos) {
      return Status::BadRequest("data must not contain NUL characters");
    }
    if (out->data.size() > kMaxDataBytes) {
      return Status::BadRequest("data is over " + std::to_string(kMaxDataBytes) + " bytes");
    }
  }
  const cJSON* create = cJSON_GetObjectItemCaseSensitive(in.obj, "create");
  if (create && !cJSON_IsBool(create)) return Status::BadRequest("create must be true or false");
  out->create = create && cJSON_IsTrue(create);
  return Status::Ok();
}

Status DecodeForm(std::string_view text, std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  auto decode = [](std::string_view in, std::string* to) {
    to->clear();
    for (size_t i = 0; i < in.size(); ++i) {
      char c = in[i];
      if (c == '+') {
        to->push_back(' ');
      } else if (c == '%') {
        auto hex = [](char h) {
          return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        };
        if (i + 2 >= in.size()) return false;  // "%" needs two hex digits after it
        int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        to->push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
      } else {
        to->push_back(c);
      }
    }
    return to->find('\0') == std::string::npos;
  };
  while (!text.empty()) {
    size_t amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string name, value;
    if (!decode(pair.substr(0, eq), &name) ||
        !decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), &value)) {
      return Status::BadRequest("malformed form data (a bad %-escape or a NUL)");
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return Status::Ok();
}

std::string FormValue(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name,
                      bool* present) {
  for (const auto& [k, v] : fields) {
    if (k == name) {
      if (present) *present = true;
      return v;
    }
  }
  if (present) *present = false;
  return {};
}

bool DecodeSiteTokenClaims(std::string_view header_json, std::string_view payload_json, SiteTokenClaims* out) {
  JsonPtr h, p;
  bool h_nul = false, p_nul = false;
  if (!ParseDoc(header_json, &h, &h_nul).ok() || !ParseDoc(payload_json, &p, &p_nul).ok()) return false;
  if (!cJSON_IsObject(h.get()) || !cJSON_IsObject(p.get())) return false;
  // Full lengths: a subject with a NUL must not log in as the name before it.
  const cJSON* alg = cJSON_GetObjectItemCaseSensitive(h.get(), "alg");
  if (cJSON_IsString(alg) && alg->valuestring) StringOf(alg, h_nul, &out->alg);
  const cJSON* sub = cJSON_GetObjectItemCaseSensitive(p.get(), "sub");
  if (cJSON_IsString(sub) && sub->valuestring) StringOf(sub, p_nul, &out->sub);
  auto number = [&](const char* key, int64_t* v, bool* has) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(p.get(), key);
    *has = item && cJSON_IsNumber(item) && std::isfinite(item->valuedouble) && std::fabs(item->valuedouble) < 1e15;
    if (*has) *v = static_cast<int64_t>(item->valuedouble);
  };
  number("exp", &out->exp, &out->has_exp);
  number("nbf", &out->nbf, &out->has_nbf);
  return true;
}

}  // namespace chatd::proto
