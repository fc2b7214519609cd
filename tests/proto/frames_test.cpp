// SPDX-License-Identifier: MIT
// Golden tests: the exact JSON of every frame the server sends. Where docs/protocol.md shows a
// complete example, the test also finds that exact text in the document, so the two agree.
#include "proto/frames.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace chatd;
using namespace chatd::proto;

namespace {

const std::string& ProtocolDoc() {
  static const std::string doc = [] {
    std::ifstream in(std::string(CHATD_SOURCE_DIR) + "/docs/protocol.md");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  return doc;
}

// The frame is what the encoder gives, and docs/protocol.md shows it as such.
void Documented(const std::string& frame, const std::string& golden) {
  CHECK(frame == golden);
  CHECK_MESSAGE(ProtocolDoc().find(golden) != std::string::npos, "docs/protocol.md does not show " << golden);
}

}  // namespace

TEST_CASE("frames: ok, error, sent, live") {
  Documented(EncodeOk("1"), R"({"type":"ok","re":1})");
  CHECK(EncodeOk("") == R"({"type":"ok"})");
  CHECK(EncodeOk(R"("a-string-id")") == R"({"type":"ok","re":"a-string-id"})");
  CHECK(EncodeError("5", util::Status::Unauthorized("send a hello first")) ==
        R"({"type":"error","re":5,"code":"unauthorized","message":"send a hello first"})");
  CHECK(EncodeError("", util::Status::RateLimited("slow down"), 250) ==
        R"({"type":"error","code":"rate_limited","message":"slow down","retry_ms":250})");
  CHECK(EncodeError("", util::Status::QuotaExceeded("full")) ==
        R"({"type":"error","code":"quota_exceeded","message":"full"})");
  Documented(EncodeSent("7", 1302, 1763800000123, false), R"({"type":"ok","re":7,"mid":1302,"ts":1763800000123})");
  CHECK(EncodeSent("7", 1302, 1763800000123, true) == R"({"type":"ok","re":7,"mid":1302,"ts":1763800000123,"dup":true})");
  CHECK(EncodeLive(1302) == R"({"type":"live","mid":1302})");
}

TEST_CASE("frames: message, to a user, a room and everyone, text escaped, never a raw newline") {
  Documented(EncodeMessage({1302, "alice", "bob", "", "hi", 1763800000123}),
             R"({"type":"message","mid":1302,"from":"alice","to":"bob","text":"hi","ts":1763800000123})");
  CHECK(EncodeMessage({5, "alice", "", "general", "hi all", 9}) ==
        R"({"type":"message","mid":5,"from":"alice","room":"general","text":"hi all","ts":9})");
  CHECK(EncodeMessage({6, "root", "*", "", "maintenance", 9}) ==
        R"({"type":"message","mid":6,"from":"root","to":"*","text":"maintenance","ts":9})");
  std::string hostile = EncodeMessage({7, "a", "b", "", std::string("line\nbreak \"q\" </script>\x01\0", 26), 1});
  CHECK(hostile == R"({"type":"message","mid":7,"from":"a","to":"b","text":"line\nbreak \"q\" </script>\u0001\u0000","ts":1})");
  CHECK(hostile.find('\n') == std::string::npos);
}

TEST_CASE("frames: presence, member, receipt, read, typing, invited") {
  Documented(EncodePresence("bob", true), R"({"type":"presence","user":"bob","online":true})");
  CHECK(EncodePresence("bob", false) == R"({"type":"presence","user":"bob","online":false})");
  Documented(EncodePresenceList({{"bob", true}, {"eve", false}}),
             R"({"type":"presence","users":[{"user":"bob","online":true},{"user":"eve","online":false}]})");
  Documented(EncodeRoomCounts("all-hands", 10000, 7421), R"({"type":"room","room":"all-hands","members":10000,"online":7421})");
  Documented(EncodeMember("general", "alice", true), R"({"type":"member","room":"general","user":"alice","joined":true})");
  Documented(EncodeReceipt("alice", "bob", 1302), R"({"type":"receipt","from":"alice","with":"bob","upto":1302})");
  CHECK(EncodeRead("bob", "", 1302) == R"({"type":"read","with":"bob","upto":1302})");
  CHECK(EncodeRead("", "general", 9) == R"({"type":"read","room":"general","upto":9})");
  Documented(EncodeTyping("alice", "bob", ""), R"({"type":"typing","from":"alice","to":"bob"})");
  CHECK(EncodeTyping("alice", "", "general") == R"({"type":"typing","from":"alice","room":"general"})");
  Documented(EncodeInvited("secret", "alice", true), R"({"type":"invited","room":"secret","by":"alice","private":true})");
}

TEST_CASE("frames: welcome, history page, joined, rooms, who") {
  WelcomeFrame w{"1", "alice", "laptop", false, {{"general", false, 12}}, {"bob"}, {{"bob", 2}, {"#general", 5}}};
  CHECK(EncodeWelcome(w) ==
        R"({"type":"welcome","re":1,"user":"alice","device":"laptop","admin":false,)"
        R"("rooms":[{"room":"general","private":false,"members":12}],"online":["bob"],"unread":{"bob":2,"#general":5}})");
  CHECK(EncodeWelcome(WelcomeFrame{"", "x", "web", true, {}, {}, {}}) ==
        R"({"type":"welcome","user":"x","device":"web","admin":true,"rooms":[],"online":[],"unread":{}})");
  CHECK(ProtocolDoc().find(R"({"room":"general","private":false,"members":12})") != std::string::npos);
  auto m1 = std::make_shared<const std::string>(EncodeMessage({1, "a", "b", "", "one", 1}));
  auto m2 = std::make_shared<const std::string>(EncodeMessage({2, "b", "a", "", "two", 2}));
  CHECK(EncodeHistoryPage("9", {m1, m2}, true) ==
        R"({"type":"ok","re":9,"messages":[)" + *m1 + "," + *m2 + R"(],"more":true})");
  CHECK(EncodeHistoryPage("9", {}, false) == R"({"type":"ok","re":9,"messages":[],"more":false})");
  Documented(EncodeJoined({"3", "general", false, true, 1, {"bob"}}),
             R"({"type":"ok","re":3,"room":"general","private":false,"created":true,"members":1,"online":["bob"]})");
  Documented(EncodeJoined({"3", "all-hands", false, false, 10000, {}, 7421}),
             R"({"type":"ok","re":3,"room":"all-hands","private":false,"created":false,"members":10000,"online":[],)"
             R"("large":true,"online_count":7421})");
  CHECK(EncodeRoomList("", {{"all-hands", false, 10000, -1, 7421}}, {}) ==
        R"({"type":"ok","rooms":[{"room":"all-hands","private":false,"members":10000,"large":true,"online":7421}],"unread":{}})");
  CHECK(ProtocolDoc().find(R"({"room":"all-hands","private":false,"members":10000,"large":true,"online":7421})") !=
        std::string::npos);
  CHECK(EncodeRoomList("4", {{"general", false, 12, 5}}, {{"#general", 5}}) ==
        R"({"type":"ok","re":4,"rooms":[{"room":"general","private":false,"members":12,"unread":5}],"unread":{"#general":5}})");
  CHECK(ProtocolDoc().find(R"({"room":"general","private":false,"members":12,"unread":5})") != std::string::npos);
  CHECK(EncodeWho("5", {{"bob", 2}, {"carol", 1}}, 2) ==
        R"({"type":"ok","re":5,"users":[{"user":"bob","devices":2},{"user":"carol","devices":1}],"count":2})");
  Documented(EncodeConversationList("7", {{"bob", "", false, R"({"type":"message","mid":1302,"from":"alice","to":"bob","text":"hi","ts":1763800000123})"},
                                          {"", "general", false, ""}}),
             R"({"type":"ok","re":7,"conversations":[{"with":"bob","last":{"type":"message","mid":1302,"from":"alice","to":"bob","text":"hi","ts":1763800000123}},{"room":"general","private":false,"last":null}]})");
  Documented(EncodeMemberList({"6", "general", {{"alice", true}, {"bob", false}}, 0, 2, 1, false}),
             R"({"type":"ok","re":6,"room":"general","members":[{"user":"alice","online":true},{"user":"bob","online":false}],)"
             R"("offset":0,"total":2,"online":1,"more":false})");
  CHECK(EncodeMemberList({"", "big", {}, 2000, 1500, 10, false}) ==
        R"({"type":"ok","room":"big","members":[],"offset":2000,"total":1500,"online":10,"more":false})");
  Documented(EncodeDelivered("bob", 1302), R"({"type":"delivered","from":"bob","upto":1302})");
  Documented(EncodeUserList("8", {{"bob", true}, {"Bobby", false}}, true),
             R"({"type":"ok","re":8,"users":[{"user":"bob","online":true},{"user":"Bobby","online":false}],"more":true})");
}

TEST_CASE("frames: HTTP API bodies") {
  CHECK(EncodeHttpError(util::Status::TooLarge("request body over 64 KiB")) ==
        R"({"error":{"code":"too_large","message":"request body over 64 KiB"}})");
  CHECK(EncodeRegistered("alice") == R"({"user":"alice"})");
  CHECK(EncodeLoggedIn("tok", "alice", false) == R"({"token":"tok","user":"alice","admin":false})");
}

TEST_CASE("frames: notification and the site API's bodies") {
  Documented(EncodeNotification({1400, "New message", "Bob wrote to you", R"({"url":"/inbox"})", 1763800000123}),
             R"({"type":"notification","mid":1400,"title":"New message","text":"Bob wrote to you","data":{"url":"/inbox"},"ts":1763800000123})");
  CHECK(EncodeNotification({1, "", "x", "", 2}) == R"({"type":"notification","mid":1,"title":"","text":"x","data":{},"ts":2})");
  Documented(EncodePublished(1400, false, {"bob"}, {"eve"}, {}), R"({"mid":1400,"delivered":{"bob":true},"queued":["eve"]})");
  CHECK(EncodePublished(1400, true, {}, {"eve"}, {}) == R"({"mid":1400,"dup":true,"delivered":{},"queued":["eve"]})");
  CHECK(EncodePublished(7, false, {}, {}, {"zed"}) == R"({"mid":7,"delivered":{},"queued":[],"refused":["zed"]})");
  CHECK(EncodePublishedToEveryone(1401, false, 12) == R"({"mid":1401,"everyone":true,"online":12})");
  CHECK(EncodeUnknownUsers(util::Status::NotFound("no such users: x, y"), {"x", "y"}) ==
        R"({"error":{"code":"not_found","message":"no such users: x, y"},"unknown":["x","y"]})");
  CHECK(EncodeDeliveryStatus(1400, {{"bob", 5, 0, true, false}, {"eve", 0, 0, false, false}}) ==
        R"({"mid":1400,"recipients":[{"user":"bob","delivered_at":5,"read_at":null,"delivered":true,"read":false},)"
        R"({"user":"eve","delivered_at":null,"read_at":null,"delivered":false,"read":false}]})");
  Documented(EncodePresenceMap({{"bob", 2}, {"eve", 0}}, false), R"({"bob":true,"eve":false})");
  CHECK(EncodePresenceMap({{"bob", 2}, {"eve", 0}}, true) == R"({"bob":2,"eve":0})");
  CHECK(EncodeUserUnread("bob", {{"alice", 2}, {"!notifications", 1}}) ==
        R"({"user":"bob","unread":{"alice":2,"!notifications":1}})");
}
