// SPDX-License-Identifier: MIT
//
// Reading the few fields the load generator needs out of one JSON line from the server without
// parsing it: the line is searched for `"key":` and the value after it is read. This is enough
// because both servers write compact JSON (no spaces) and the only free text in the lines we look
// at is our own message text, which never holds a quote. Nothing here allocates.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace chatd::bench {

// Position just after `key` (which includes the quotes and the colon) in `line`, or npos.
inline size_t After(std::string_view line, std::string_view key) {
  const void* hit = memmem(line.data(), line.size(), key.data(), key.size());
  if (!hit) return std::string_view::npos;
  return static_cast<size_t>(static_cast<const char*>(hit) - line.data()) + key.size();
}

// The string value of `key` (given as `"name":"`), without its quotes; empty when missing.
inline std::string_view StrField(std::string_view line, std::string_view key) {
  size_t p = After(line, key);
  if (p == std::string_view::npos) return {};
  size_t end = line.find('"', p);
  if (end == std::string_view::npos) return {};
  return line.substr(p, end - p);
}

// Reads decimal digits at `p` (an optional '-' first). False when there are none.
inline bool DigitsAt(std::string_view s, size_t p, int64_t* out) {
  bool neg = p < s.size() && s[p] == '-';
  if (neg) ++p;
  size_t start = p;
  int64_t v = 0;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') v = v * 10 + (s[p++] - '0');
  if (p == start) return false;
  *out = neg ? -v : v;
  return true;
}

// The integer value of `key` (given as `"name":`).
inline bool IntField(std::string_view line, std::string_view key, int64_t* out) {
  size_t p = After(line, key);
  return p != std::string_view::npos && DigitsAt(line, p, out);
}

inline std::string_view TypeOf(std::string_view line) { return StrField(line, "\"type\":\""); }

// Our message texts start "t=<send time ns>;s=<step>;". Reads both; false if the text is not ours.
inline bool TextStamp(std::string_view line, int64_t* sent_ns, int64_t* step) {
  size_t p = After(line, "\"text\":\"t=");
  if (p == std::string_view::npos || !DigitsAt(line, p, sent_ns)) return false;
  size_t q = line.find(";s=", p);
  if (q == std::string_view::npos) return false;
  return DigitsAt(line, q + 3, step);
}

}  // namespace chatd::bench
