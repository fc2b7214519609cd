// SPDX-License-Identifier: MIT
//
// proto socket.io codec: the JSON of the socket.io bridge (net::SocketIoEndpoint), which speaks
// chatd's protocol to the core on one side and Socket.IO events to old web-msg-sender pages on
// the other. It reads the few fields of chatd's own frames that the bridge turns into events,
// reads the clients' events, and writes the events and the Engine.IO handshake. Pure, any
// thread; cJSON stays in the codec files (STYLE L1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chatd::proto {

// What the bridge needs of one frame the core sends a session (docs/protocol.md).
struct BridgeFrame {
  enum class Kind { kOther, kWelcome, kError, kMessage, kNotification };
  Kind kind = Kind::kOther;
  std::string re;    // the answer's "re", when it is a string
  int64_t mid = 0;   // message, notification
  std::string from;  // message: the sender
  std::string text;  // message, notification
  std::string user;  // welcome: who logged in
  std::string code, message;  // error
};
// False when `json` is not an object with a string "type" (then nothing is filled).
bool DecodeBridgeFrame(std::string_view json, BridgeFrame* out);

// A Socket.IO EVENT's data, `["name", arg, ...]`: the name and what the first argument says.
struct SocketIoEvent {
  std::string name;
  // The first argument as a login reads it: a string as it is, a number as its decimal text
  // (web-msg-sender pages send numeric uids), an object's "token" member. Empty otherwise.
  std::string arg;
  bool arg_is_token = false;  // it came from an object's "token"
};
// False when `json` is not an array starting with a string.
bool DecodeSocketIoEvent(std::string_view json, SocketIoEvent* out);
// The "token" of a socket.io 3+ CONNECT's auth object (`{"token":"..."}`), "" if none.
std::string DecodeSocketIoAuthToken(std::string_view json);

// `["name","text"]`: an event with one string argument.
std::string EncodeSocketIoEvent(std::string_view name, std::string_view text);
// `["login_error",{"code":..,"message":..}]`.
std::string EncodeSocketIoError(std::string_view event, std::string_view code, std::string_view message);
// The argument list of a login's acknowledgement: `[{"ok":true,"user":".."}]` or
// `[{"ok":false,"code":..,"message":..}]`.
std::string EncodeSocketIoLoginAck(bool ok, std::string_view user, std::string_view code, std::string_view message);
// The Engine.IO open packet's JSON. `max_payload` < 0 leaves it out (Engine.IO 3 has none).
std::string EncodeEngineIoOpen(std::string_view sid, bool upgrade_to_websocket, int64_t ping_interval_ms,
                               int64_t ping_timeout_ms, int64_t max_payload);
// `{"sid":".."}`: a socket.io 3+ CONNECT answer.
std::string EncodeSocketIoConnected(std::string_view sid);
// `{"message":".."}` (socket.io 3+) or `".."` (2.x): a CONNECT_ERROR's data.
std::string EncodeSocketIoConnectError(std::string_view message, bool as_object);
// `{"code":N,"message":".."}`: Engine.IO's answer to a bad HTTP request.
std::string EncodeEngineIoError(int code, std::string_view message);

}  // namespace chatd::proto
