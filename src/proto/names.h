// SPDX-License-Identifier: MIT
//
// proto names: how user and room names compare. Names are unique ignoring ASCII case (as the
// SQLite columns are, COLLATE NOCASE); FoldName() gives the form to key maps by. Pure.
#pragma once

#include <string>
#include <string_view>

namespace chatd::proto {

// `name` with ASCII letters lower-cased (other bytes as they are, like SQLite's NOCASE).
std::string FoldName(std::string_view name);

}  // namespace chatd::proto
