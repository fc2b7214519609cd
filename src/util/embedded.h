// SPDX-License-Identifier: MIT
//
// Files embedded in the binary at build time (cmake/embed.cmake generates the definitions):
// the web page (www/) and the SQLite migrations (schema/). Names are relative paths
// ("index.html", "001_init.sql"). The data lives in static storage; views stay valid forever.
#pragma once

#include <span>
#include <string_view>

namespace chatd::util {

struct EmbeddedFile {
  std::string_view name;
  std::string_view data;
};

std::span<const EmbeddedFile> EmbeddedWww();
std::span<const EmbeddedFile> EmbeddedSchema();

}  // namespace chatd::util
