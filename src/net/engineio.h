// SPDX-License-Identifier: MIT
//
// net engineio: the framing of Engine.IO and Socket.IO, as their public protocol documents
// describe it, with no I/O (SocketIoEndpoint does that).
//   Engine.IO packet: one type digit, then its data: 0 open, 1 close, 2 ping, 3 pong,
//   4 message, 5 upgrade, 6 noop. Over WebSocket one packet is one text message.
//   Polling payload (several packets in one HTTP body):
//     revision 3 (socket.io 1.x/2.x): each packet as <length>:<packet>, the length counted in
//       UTF-16 code units (JavaScript's String.length), e.g. `2:40`;
//     revision 4 (socket.io 3.x/4.x): packets joined with the record separator 0x1e;
//     revision 3's binary form (application/octet-stream), which 1.x clients in browsers that
//     can take binary (every current one) require of a GET's answer when they did not ask for
//     b64=1: per packet a 0 byte (a string packet), its length in UTF-8 bytes as one byte per
//     decimal digit, a 255 byte, then the packet's bytes. 2.x clients read it too.
//   Socket.IO packet (inside an Engine.IO message):
//     <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>], types 0 CONNECT,
//     1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK; the namespace
//     is "/" when left out.
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::net::eio {

enum class Revision { k3 = 3, k4 = 4 };

enum PacketType : char {
  kOpen = '0',
  kClose = '1',
  kPing = '2',
  kPong = '3',
  kMessage = '4',
  kUpgrade = '5',
  kNoop = '6',
};

enum SocketType : char {
  kConnect = '0',
  kDisconnect = '1',
  kEvent = '2',
  kAck = '3',
  kConnectError = '4',
  kBinaryEvent = '5',
  kBinaryAck = '6',
};

// JavaScript's length of a UTF-8 string: code points, those above U+FFFF counted twice.
size_t Utf16Length(std::string_view utf8);

// Packets (each its type digit and data) as one polling body.
std::string EncodePayload(Revision rev, const std::vector<std::string>& packets);
void AppendPayload(Revision rev, std::string_view packet, std::string* body);
void AppendBinaryPayload(std::string_view packet, std::string* body);
// A polling body's packets. False when it is malformed (a bad length, a length past the end,
// an empty packet); `max_packets` bounds how many one body may hold.
bool DecodePayload(Revision rev, std::string_view body, std::vector<std::string>* packets, size_t max_packets = 1000);

struct SocketPacket {
  char type = 0;
  std::string_view nsp = "/";
  bool has_id = false;
  int64_t id = 0;
  std::string_view data;  // the JSON, "" when none
};
// Parses a Socket.IO packet (the data of an Engine.IO message). False when malformed.
bool ParseSocketPacket(std::string_view text, SocketPacket* out);
// "4" + Socket.IO packet: the Engine.IO message that carries it. `nsp` "/" is left out.
std::string SocketMessage(char type, std::string_view data, std::string_view nsp = "/");
// An ACK for id `id` with `args` (a JSON array).
std::string SocketAck(int64_t id, std::string_view args);

// PHP's htmlspecialchars($s) with ENT_QUOTES: & < > " ' as &amp; &lt; &gt; &quot; &#039;.
std::string HtmlSpecialChars(std::string_view text);

}  // namespace chatd::net::eio
