// SPDX-License-Identifier: MIT
#include "proto/socketio_codec.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "proto/json_writer.h"

namespace chatd::proto {
namespace {

struct JsonDeleter {
  void operator()(cJSON* p) const { cJSON_Delete(p); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

JsonPtr Parse(std::string_view json) { return JsonPtr(cJSON_ParseWithLength(json.data(), json.size())); }

// A string member's value ("" when absent or not a string).
std::string Str(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(item) && item->valuestring ? item->valuestring : "";
}

int64_t Int(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(item) ? static_cast<int64_t>(item->valuedouble) : 0;
}

}  // namespace

bool DecodeBridgeFrame(std::string_view json, BridgeFrame* out) {
  JsonPtr doc = Parse(json);
  if (!doc || !cJSON_IsObject(doc.get())) return false;
  std::string type = Str(doc.get(), "type");
  if (type.empty()) return false;
  *out = BridgeFrame{};
  out->re = Str(doc.get(), "re");
  if (type == "welcome") {
    out->kind = BridgeFrame::Kind::kWelcome;
    out->user = Str(doc.get(), "user");
  } else if (type == "error") {
    out->kind = BridgeFrame::Kind::kError;
    out->code = Str(doc.get(), "code");
    out->message = Str(doc.get(), "message");
  } else if (type == "message" || type == "notification") {
    out->kind = type == "message" ? BridgeFrame::Kind::kMessage : BridgeFrame::Kind::kNotification;
    out->mid = Int(doc.get(), "mid");
    out->from = Str(doc.get(), "from");
    out->text = Str(doc.get(), "text");
  }
  return true;
}

bool DecodeSocketIoEvent(std::string_view json, SocketIoEvent* out) {
  JsonPtr doc = Parse(json);
  if (!doc || !cJSON_IsArray(doc.get())) return false;
  const cJSON* name = cJSON_GetArrayItem(doc.get(), 0);
  if (!cJSON_IsString(name) || !name->valuestring) return false;
  *out = SocketIoEvent{};
  out->name = name->valuestring;
  const cJSON* arg = cJSON_GetArrayItem(doc.get(), 1);
  if (cJSON_IsString(arg) && arg->valuestring) {
    out->arg = arg->valuestring;
  } else if (cJSON_IsNumber(arg)) {
    double v = arg->valuedouble;
    char buf[32];
    if (std::floor(v) == v && std::fabs(v) < 9007199254740992.0) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else {
      std::snprintf(buf, sizeof buf, "%.17g", v);
    }
    out->arg = buf;
  } else if (cJSON_IsObject(arg)) {
    out->arg = Str(arg, "token");
    out->arg_is_token = true;
  }
  return true;
}

std::string DecodeSocketIoAuthToken(std::string_view json) {
  JsonPtr doc = Parse(json);
  if (!doc || !cJSON_IsObject(doc.get())) return "";
  return Str(doc.get(), "token");
}

std::string EncodeSocketIoEvent(std::string_view name, std::string_view text) {
  std::string out;
  JsonWriter(&out).BeginArray().Str(name).Str(text).EndArray();
  return out;
}

std::string EncodeSocketIoError(std::string_view event, std::string_view code, std::string_view message) {
  std::string out;
  JsonWriter(&out).BeginArray().Str(event).Begin().Str("code", code).Str("message", message).End().EndArray();
  return out;
}

std::string EncodeSocketIoLoginAck(bool ok, std::string_view user, std::string_view code, std::string_view message) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray().Begin().Bool("ok", ok);
  if (ok) {
    w.Str("user", user);
  } else {
    w.Str("code", code).Str("message", message);
  }
  w.End().EndArray();
  return out;
}

std::string EncodeEngineIoOpen(std::string_view sid, bool upgrade_to_websocket, int64_t ping_interval_ms,
                               int64_t ping_timeout_ms, int64_t max_payload) {
  std::string out;
  JsonWriter w(&out);
  w.Begin().Str("sid", sid).BeginArray("upgrades");
  if (upgrade_to_websocket) w.Str("websocket");
  w.EndArray().Int("pingInterval", ping_interval_ms).Int("pingTimeout", ping_timeout_ms);
  if (max_payload >= 0) w.Int("maxPayload", max_payload);
  w.End();
  return out;
}

std::string EncodeSocketIoConnected(std::string_view sid) {
  std::string out;
  JsonWriter(&out).Begin().Str("sid", sid).End();
  return out;
}

std::string EncodeSocketIoConnectError(std::string_view message, bool as_object) {
  std::string out;
  if (as_object) {
    JsonWriter(&out).Begin().Str("message", message).End();
  } else {
    AppendJsonString(&out, message);
  }
  return out;
}

std::string EncodeEngineIoError(int code, std::string_view message) {
  std::string out;
  JsonWriter(&out).Begin().Int("code", code).Str("message", message).End();
  return out;
}

}  // namespace chatd::proto
