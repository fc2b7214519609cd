// SPDX-License-Identifier: MIT
#include "frame.h"

#include <cassert>

namespace chatd::bench {

namespace {

size_t HeaderFor(uint64_t len, uint8_t op, char* out) {
  out[0] = static_cast<char>(0x80 | op);  // FIN + opcode
  if (len < 126) {
    out[1] = static_cast<char>(0x80 | len);
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = static_cast<char>(0x80 | 126);
    out[2] = static_cast<char>(len >> 8);
    out[3] = static_cast<char>(len);
    return 4;
  }
  out[1] = static_cast<char>(0x80 | 127);
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<char>(len >> (8 * (7 - i)));
  return 10;
}

}  // namespace

void AppendMaskedFrame(std::vector<char>* out, Opcode op, std::string_view payload, const uint8_t key[4]) {
  char head[14];
  size_t n = HeaderFor(payload.size(), op, head);
  for (int i = 0; i < 4; ++i) head[n + i] = static_cast<char>(key[i]);
  out->insert(out->end(), head, head + n + 4);
  size_t base = out->size();
  out->resize(base + payload.size());
  char* dst = out->data() + base;
  for (size_t i = 0; i < payload.size(); ++i) dst[i] = static_cast<char>(payload[i] ^ static_cast<char>(key[i & 3]));
}

void FrameTemplate::Lit(std::string_view text) { plain_.insert(plain_.end(), text.begin(), text.end()); }

int FrameTemplate::Field(size_t width, char fill) {
  fields_.push_back({plain_.size(), width});
  plain_.insert(plain_.end(), width, fill);
  return static_cast<int>(fields_.size() - 1);
}

void FrameTemplate::Seal(const uint8_t key[4]) {
  for (int i = 0; i < 4; ++i) key_[i] = key[i];
  frame_.clear();
  AppendMaskedFrame(&frame_, kText, std::string_view(plain_.data(), plain_.size()), key_);
  header_ = frame_.size() - plain_.size();
}

void FrameTemplate::SetNumber(int field, uint64_t v) {
  const Pos& f = fields_[static_cast<size_t>(field)];
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  assert(n <= f.width);
  for (size_t i = 0; i < f.width; ++i) Put(f.off + i, i < n ? digits[n - 1 - i] : ' ');
}

void FrameTemplate::SetDigits(int field, uint64_t v) {
  const Pos& f = fields_[static_cast<size_t>(field)];
  for (size_t i = f.width; i-- > 0;) {
    Put(f.off + i, static_cast<char>('0' + v % 10));
    v /= 10;
  }
  assert(v == 0);
}

bool ParseHeader(const uint8_t* p, size_t n, FrameHeader* h) {
  if (n < 2) return false;
  h->fin = (p[0] & 0x80) != 0;
  h->opcode = static_cast<Opcode>(p[0] & 0x0f);
  h->masked = (p[1] & 0x80) != 0;
  uint64_t len = p[1] & 0x7f;
  size_t at = 2;
  if (len == 126) {
    if (n < 4) return false;
    len = (static_cast<uint64_t>(p[2]) << 8) | p[3];
    at = 4;
  } else if (len == 127) {
    if (n < 10) return false;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    at = 10;
  }
  if (h->masked) at += 4;
  if (n < at) return false;
  h->length = len;
  h->header_bytes = at;
  return true;
}

}  // namespace chatd::bench
