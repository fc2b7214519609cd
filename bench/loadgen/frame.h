// SPDX-License-Identifier: MIT
//
// WebSocket framing for the load generator (RFC 6455 client side).
//
// Client frames must be masked. A FrameTemplate is a text frame built and masked once; the
// numbers that change from one message to the next (request id, send timestamp, step) sit in
// fixed-width fields that are rewritten in place, already masked, so sending a message costs a
// few dozen byte writes and a copy, with no allocation. A JSON number field is written
// left-aligned and padded with spaces (JSON allows whitespace after a value); a field inside a
// string is written as zero-padded digits.
//
// Server frames are never masked; ParseHeader() reads their headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace chatd::bench {

enum Opcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// Appends one complete masked frame holding `payload` to *out.
void AppendMaskedFrame(std::vector<char>* out, Opcode op, std::string_view payload, const uint8_t key[4]);

class FrameTemplate {
 public:
  // Building: literal text and fields, in order, then Seal().
  void Lit(std::string_view text);
  int Field(size_t width, char fill);  // returns the field's handle
  void Seal(const uint8_t key[4]);

  // REQUIRES: Seal() ran and `v` fits in the field's width.
  void SetNumber(int field, uint64_t v);  // JSON number: digits, then spaces
  void SetDigits(int field, uint64_t v);  // zero-padded digits (inside a string)

  const char* data() const { return frame_.data(); }
  size_t size() const { return frame_.size(); }

 private:
  struct Pos {
    size_t off;
    size_t width;
  };
  void Put(size_t payload_off, char c) {
    frame_[header_ + payload_off] = static_cast<char>(c ^ static_cast<char>(key_[payload_off & 3]));
  }

  std::vector<char> plain_;
  std::vector<char> frame_;
  std::vector<Pos> fields_;
  size_t header_ = 0;
  uint8_t key_[4] = {};
};

struct FrameHeader {
  bool fin;
  Opcode opcode;
  bool masked;
  uint64_t length;
  size_t header_bytes;
};

// Reads a frame header from p[0..n). Returns false if more bytes are needed.
bool ParseHeader(const uint8_t* p, size_t n, FrameHeader* h);

}  // namespace chatd::bench
