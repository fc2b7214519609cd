// SPDX-License-Identifier: MIT
#include "proto/names.h"

namespace chatd::proto {

std::string FoldName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace chatd::proto
