// SPDX-License-Identifier: MIT
#include "net/engineio.h"

namespace chatd::net::eio {

namespace {
constexpr char kRecordSeparator = '\x1e';
constexpr size_t kMaxLengthDigits = 10;
}  // namespace

size_t Utf16Length(std::string_view utf8) {
  size_t units = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte
    units += c >= 0xF0 ? 2 : 1;        // a 4-byte sequence is a surrogate pair
  }
  return units;
}

void AppendPayload(Revision rev, std::string_view packet, std::string* body) {
  if (rev == Revision::k3) {
    body->append(std::to_string(Utf16Length(packet)));
    body->push_back(':');
  } else if (!body->empty()) {
    body->push_back(kRecordSeparator);
  }
  body->append(packet);
}

void AppendBinaryPayload(std::string_view packet, std::string* body) {
  body->push_back('\0');
  for (char digit : std::to_string(packet.size())) body->push_back(static_cast<char>(digit - '0'));
  body->push_back('\xff');
  body->append(packet);
}

std::string EncodePayload(Revision rev, const std::vector<std::string>& packets) {
  std::string body;
  for (const auto& p : packets) AppendPayload(rev, p, &body);
  return body;
}

bool DecodePayload(Revision rev, std::string_view body, std::vector<std::string>* packets, size_t max_packets) {
  packets->clear();
  if (rev == Revision::k4) {
    size_t pos = 0;
    while (pos <= body.size()) {
      size_t end = body.find(kRecordSeparator, pos);
      if (end == std::string_view::npos) end = body.size();
      if (end == pos || packets->size() >= max_packets) return false;
      packets->emplace_back(body.substr(pos, end - pos));
      pos = end + 1;
    }
    return true;
  }
  size_t pos = 0;
  while (pos < body.size()) {
    size_t colon = body.find(':', pos);
    if (colon == std::string_view::npos || colon == pos || colon - pos > kMaxLengthDigits) return false;
    size_t units = 0;
    for (size_t i = pos; i < colon; ++i) {
      if (body[i] < '0' || body[i] > '9') return false;
      units = units * 10 + static_cast<size_t>(body[i] - '0');
    }
    if (units == 0 || packets->size() >= max_packets) return false;
    // Walk `units` UTF-16 code units of UTF-8.
    size_t end = colon + 1, counted = 0;
    while (counted < units && end < body.size()) {
      unsigned char c = static_cast<unsigned char>(body[end]);
      size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
      if (len == 0 || end + len > body.size()) return false;
      counted += len == 4 ? 2 : 1;
      end += len;
    }
    if (counted != units) return false;
    packets->emplace_back(body.substr(colon + 1, end - colon - 1));
    pos = end;
  }
  return !packets->empty();
}

bool ParseSocketPacket(std::string_view text, SocketPacket* out) {
  *out = SocketPacket{};
  if (text.empty() || text[0] < kConnect || text[0] > kBinaryAck) return false;
  out->type = text[0];
  size_t pos = 1;
  if (out->type == kBinaryEvent || out->type == kBinaryAck) {
    size_t dash = text.find('-', pos);
    if (dash == std::string_view::npos) return false;
    pos = dash + 1;
  }
  if (pos < text.size() && text[pos] == '/') {
    size_t comma = text.find(',', pos);
    size_t end = comma == std::string_view::npos ? text.size() : comma;
    out->nsp = text.substr(pos, end - pos);
    pos = comma == std::string_view::npos ? text.size() : comma + 1;
  }
  size_t digits = 0;
  while (pos + digits < text.size() && text[pos + digits] >= '0' && text[pos + digits] <= '9') ++digits;
  if (digits > 15) return false;
  if (digits > 0) {
    out->has_id = true;
    for (size_t i = 0; i < digits; ++i) out->id = out->id * 10 + (text[pos + i] - '0');
    pos += digits;
  }
  out->data = text.substr(pos);
  return true;
}

std::string SocketMessage(char type, std::string_view data, std::string_view nsp) {
  std::string out;
  out.reserve(data.size() + nsp.size() + 3);
  out.push_back(kMessage);
  out.push_back(type);
  if (nsp != "/") {
    out.append(nsp);
    out.push_back(',');
  }
  out.append(data);
  return out;
}

std::string SocketAck(int64_t id, std::string_view args) {
  std::string out{kMessage, kAck};
  return out + std::to_string(id) + std::string(args);
}

std::string HtmlSpecialChars(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#039;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace chatd::net::eio
