// SPDX-License-Identifier: MIT
#include "proto/names.h"

#include <cstdint>

namespace chatd::proto {

namespace {

bool ValidAsciiName(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

// The next code point of well-formed UTF-8 at s[*i] (shortest form, no surrogates, at most
// U+10FFFF); -1 if the bytes there are not that.
int32_t NextCodePoint(std::string_view s, size_t* i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(*i);
  int n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || *i + static_cast<size_t>(n) > s.size()) return -1;
  int32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < n; ++k) {
    uint8_t b = byte(*i + static_cast<size_t>(k));
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  static const int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *i += static_cast<size_t>(n);
  return cp;
}

// Spaces and controls by any name, and code points that are not characters.
bool Unprintable(int32_t cp) {
  return cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202F) || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF ||
         (cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF);
}

}  // namespace

bool ValidUserName(std::string_view name) { return ValidAsciiName(name, 32); }
bool ValidRoomName(std::string_view name) { return ValidAsciiName(name, 64); }

bool ValidSiteUserName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "*" || name.front() == '#' || name.front() == '!') return false;
  for (size_t i = 0; i < name.size();) {
    int32_t cp = NextCodePoint(name, &i);
    if (cp < 0 || Unprintable(cp)) return false;
  }
  return true;
}

std::string FoldName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace chatd::proto
