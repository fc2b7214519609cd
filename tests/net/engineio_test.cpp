// SPDX-License-Identifier: MIT
// Engine.IO / Socket.IO framing: the byte forms the public protocol documents give, checked
// both ways, with the edge cases the clients produce (UTF-16 lengths of revision 3, several
// packets in one body, malformed bodies).
#include "net/engineio.h"

#include <doctest/doctest.h>

using namespace chatd::net::eio;

TEST_CASE("engineio: revision 3 payloads count UTF-16 code units, revision 4 joins with 0x1e") {
  CHECK(Utf16Length("abc") == 3);
  CHECK(Utf16Length("\xc3\xa9") == 1);          // é: 2 bytes, 1 unit
  CHECK(Utf16Length("\xe4\xbd\xa0") == 1);      // 你: 3 bytes, 1 unit
  CHECK(Utf16Length("\xf0\x9f\x98\x80") == 2);  // 😀: 4 bytes, a surrogate pair
  CHECK(EncodePayload(Revision::k3, {"0{}", "40"}) == "3:0{}2:40");
  CHECK(EncodePayload(Revision::k3, {"4\xf0\x9f\x98\x80"}) == "3:4\xf0\x9f\x98\x80");
  CHECK(EncodePayload(Revision::k4, {"0{}", "40", "2"}) == "0{}\x1e" "40\x1e" "2");
  CHECK(EncodePayload(Revision::k4, {"6"}) == "6");
  std::string bin;
  AppendBinaryPayload("40", &bin);
  AppendBinaryPayload("42[\"new_msg\",\"\xe4\xbd\xa0\"]", &bin);  // 19 bytes, 17 UTF-16 units
  CHECK(bin == std::string("\0\x02\xff" "40" "\0\x01\x09\xff", 9) + "42[\"new_msg\",\"\xe4\xbd\xa0\"]");
}

TEST_CASE("engineio: payloads decode into their packets and malformed ones are refused") {
  std::vector<std::string> p;
  REQUIRE(DecodePayload(Revision::k3, "2:4011:42[\"a\",\"b\"]", &p));
  CHECK(p == std::vector<std::string>{"40", "42[\"a\",\"b\"]"});
  REQUIRE(DecodePayload(Revision::k3, "8:42[\"\xf0\x9f\x98\x80\"]1:2", &p));
  CHECK(p == std::vector<std::string>{"42[\"\xf0\x9f\x98\x80\"]", "2"});
  REQUIRE(DecodePayload(Revision::k4, "40\x1e" "42[\"login\",1]\x1e" "3", &p));
  CHECK(p == std::vector<std::string>{"40", "42[\"login\",1]", "3"});
  REQUIRE(DecodePayload(Revision::k4, "1", &p));
  CHECK(p == std::vector<std::string>{"1"});

  CHECK_FALSE(DecodePayload(Revision::k3, "", &p));
  CHECK_FALSE(DecodePayload(Revision::k3, "5:40", &p));        // the length runs past the end
  CHECK_FALSE(DecodePayload(Revision::k3, "x:40", &p));        // not a length
  CHECK_FALSE(DecodePayload(Revision::k3, "0:", &p));          // an empty packet
  CHECK_FALSE(DecodePayload(Revision::k3, "2:40junk", &p));    // junk after the last packet
  CHECK_FALSE(DecodePayload(Revision::k3, "99999999999:4", &p));
  CHECK_FALSE(DecodePayload(Revision::k3, "2:4\xf0", &p));     // a cut UTF-8 sequence
  CHECK_FALSE(DecodePayload(Revision::k4, "", &p));
  CHECK_FALSE(DecodePayload(Revision::k4, "40\x1e", &p));      // an empty last packet
  CHECK_FALSE(DecodePayload(Revision::k4, "2\x1e\x1e" "2", &p));
  CHECK_FALSE(DecodePayload(Revision::k4, "2\x1e" "2\x1e" "2", &p, 2));  // over the packet bound
}

TEST_CASE("engineio: Socket.IO packets give type, namespace, ack id and data") {
  SocketPacket p;
  REQUIRE(ParseSocketPacket("2[\"login\",\"42\"]", &p));
  CHECK(p.type == kEvent);
  CHECK(p.nsp == "/");
  CHECK_FALSE(p.has_id);
  CHECK(p.data == "[\"login\",\"42\"]");
  REQUIRE(ParseSocketPacket("217[\"login\",1]", &p));
  CHECK(p.has_id);
  CHECK(p.id == 17);
  CHECK(p.data == "[\"login\",1]");
  REQUIRE(ParseSocketPacket("0/admin,", &p));
  CHECK(p.type == kConnect);
  CHECK(p.nsp == "/admin");
  CHECK(p.data.empty());
  REQUIRE(ParseSocketPacket("0/chat,{\"token\":\"t\"}", &p));
  CHECK(p.nsp == "/chat");
  CHECK(p.data == "{\"token\":\"t\"}");
  REQUIRE(ParseSocketPacket("0{\"token\":\"t\"}", &p));
  CHECK(p.nsp == "/");
  CHECK(p.data == "{\"token\":\"t\"}");
  REQUIRE(ParseSocketPacket("51-[\"x\",{\"_placeholder\":true,\"num\":0}]", &p));
  CHECK(p.type == kBinaryEvent);
  REQUIRE(ParseSocketPacket("1", &p));
  CHECK(p.type == kDisconnect);

  CHECK_FALSE(ParseSocketPacket("", &p));
  CHECK_FALSE(ParseSocketPacket("9[]", &p));
  CHECK_FALSE(ParseSocketPacket("5[\"no dash\"]", &p));
  CHECK_FALSE(ParseSocketPacket("21234567890123456[]", &p));  // an ack id past 15 digits
}

TEST_CASE("engineio: messages and acks are framed for the client") {
  CHECK(SocketMessage(kEvent, "[\"new_msg\",\"hi\"]") == "42[\"new_msg\",\"hi\"]");
  CHECK(SocketMessage(kConnect, "") == "40");
  CHECK(SocketMessage(kConnectError, "{\"message\":\"Invalid namespace\"}", "/admin") ==
        "44/admin,{\"message\":\"Invalid namespace\"}");
  CHECK(SocketAck(3, "[{\"ok\":true}]") == "433[{\"ok\":true}]");
}

TEST_CASE("engineio: htmlspecialchars escapes as PHP does with ENT_QUOTES") {
  CHECK(HtmlSpecialChars("<b>\"x\"&'y'</b>") == "&lt;b&gt;&quot;x&quot;&amp;&#039;y&#039;&lt;/b&gt;");
  CHECK(HtmlSpecialChars("&amp;") == "&amp;amp;");  // double-encodes, as PHP's default does
  CHECK(HtmlSpecialChars("\xe4\xbd\xa0\xe5\xa5\xbd plain") == "\xe4\xbd\xa0\xe5\xa5\xbd plain");
  CHECK(HtmlSpecialChars("") == "");
}
