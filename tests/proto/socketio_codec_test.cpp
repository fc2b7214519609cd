// SPDX-License-Identifier: MIT
// The socket.io bridge's JSON: what it reads of chatd's frames and of the clients' events, and
// the exact JSON of what it writes.
#include "proto/socketio_codec.h"

#include <doctest/doctest.h>

#include "proto/frames.h"

using namespace chatd;
using namespace chatd::proto;

TEST_CASE("socketio codec: the bridge reads welcome, errors, messages and notifications of chatd's frames") {
  BridgeFrame f;
  WelcomeFrame w;
  w.re = "\"sio-login\"";
  w.user = "1445590039000";
  REQUIRE(DecodeBridgeFrame(EncodeWelcome(w), &f));
  CHECK(f.kind == BridgeFrame::Kind::kWelcome);
  CHECK(f.re == "sio-login");
  CHECK(f.user == "1445590039000");

  REQUIRE(DecodeBridgeFrame(EncodeError("\"sio-login\"", util::Status::Unauthorized("bad token")), &f));
  CHECK(f.kind == BridgeFrame::Kind::kError);
  CHECK(f.re == "sio-login");
  CHECK(f.code == "unauthorized");
  CHECK(f.message == "bad token");

  MessageFrame m;
  m.mid = 1302;
  m.from = "alice";
  m.to = "bob";
  m.text = "<hi> \xe4\xbd\xa0";
  m.ts = 1;
  REQUIRE(DecodeBridgeFrame(EncodeMessage(m), &f));
  CHECK(f.kind == BridgeFrame::Kind::kMessage);
  CHECK(f.mid == 1302);
  CHECK(f.from == "alice");
  CHECK(f.text == "<hi> \xe4\xbd\xa0");

  NotificationFrame n;
  n.mid = 1400;
  n.title = "New";
  n.text = "Bob wrote";
  REQUIRE(DecodeBridgeFrame(EncodeNotification(n), &f));
  CHECK(f.kind == BridgeFrame::Kind::kNotification);
  CHECK(f.mid == 1400);
  CHECK(f.text == "Bob wrote");

  REQUIRE(DecodeBridgeFrame(EncodeLive(9), &f));
  CHECK(f.kind == BridgeFrame::Kind::kOther);
  CHECK_FALSE(DecodeBridgeFrame("[1]", &f));
  CHECK_FALSE(DecodeBridgeFrame("{\"mid\":1}", &f));
  CHECK_FALSE(DecodeBridgeFrame("{", &f));
}

TEST_CASE("socketio codec: a login's argument is a string, a number's digits or an object's token") {
  SocketIoEvent ev;
  REQUIRE(DecodeSocketIoEvent(R"(["login","u-17"])", &ev));
  CHECK(ev.name == "login");
  CHECK(ev.arg == "u-17");
  CHECK_FALSE(ev.arg_is_token);
  REQUIRE(DecodeSocketIoEvent(R"(["login",1445590039000])", &ev));
  CHECK(ev.arg == "1445590039000");
  REQUIRE(DecodeSocketIoEvent(R"(["login",{"token":"a.b.c"}])", &ev));
  CHECK(ev.arg == "a.b.c");
  CHECK(ev.arg_is_token);
  REQUIRE(DecodeSocketIoEvent(R"(["login",{"uid":5}])", &ev));
  CHECK(ev.arg.empty());
  REQUIRE(DecodeSocketIoEvent(R"(["login"])", &ev));
  CHECK(ev.arg.empty());
  REQUIRE(DecodeSocketIoEvent(R"(["chat message",true])", &ev));
  CHECK(ev.name == "chat message");
  CHECK(ev.arg.empty());
  CHECK_FALSE(DecodeSocketIoEvent(R"([1,"x"])", &ev));
  CHECK_FALSE(DecodeSocketIoEvent(R"({"login":1})", &ev));
  CHECK_FALSE(DecodeSocketIoEvent(R"(["login")", &ev));

  CHECK(DecodeSocketIoAuthToken(R"({"token":"a.b.c"})") == "a.b.c");
  CHECK(DecodeSocketIoAuthToken(R"({"t":1})").empty());
  CHECK(DecodeSocketIoAuthToken("nope").empty());
}

TEST_CASE("socketio codec: the events, acks and the handshake are encoded exactly") {
  CHECK(EncodeSocketIoEvent("new_msg", "&lt;b&gt; \"q\"") == R"(["new_msg","&lt;b&gt; \"q\""])");
  CHECK(EncodeSocketIoError("login_error", "unauthorized", "no") ==
        R"(["login_error",{"code":"unauthorized","message":"no"}])");
  CHECK(EncodeSocketIoLoginAck(true, "42", "", "") == R"([{"ok":true,"user":"42"}])");
  CHECK(EncodeSocketIoLoginAck(false, "", "unauthorized", "no") ==
        R"([{"ok":false,"code":"unauthorized","message":"no"}])");
  CHECK(EncodeEngineIoOpen("abc", true, 25000, 20000, 65536) ==
        R"({"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":65536})");
  CHECK(EncodeEngineIoOpen("abc", false, 25000, 20000, -1) ==
        R"({"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000})");
  CHECK(EncodeSocketIoConnected("x") == R"({"sid":"x"})");
  CHECK(EncodeSocketIoConnectError("Invalid namespace", true) == R"({"message":"Invalid namespace"})");
  CHECK(EncodeSocketIoConnectError("Invalid namespace", false) == R"("Invalid namespace")");
  CHECK(EncodeEngineIoError(1, "Session ID unknown") == R"({"code":1,"message":"Session ID unknown"})");
}
