// SPDX-License-Identifier: MIT
//
// Encoders for the frames the server sends (PROTOCOL.md). Each returns one JSON object as a
// string with no newline. `re` is the raw JSON of the request's id ("" = none). Pure; any thread.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace chatd::core {

// {"type":"error","re":…,"code":"…","message":"…"} (+ "retry_ms" when > 0)
std::string EncodeError(std::string_view re, const util::Status& status, int64_t retry_ms = 0);
// {"type":"ok","re":…}
std::string EncodeOk(std::string_view re);

}  // namespace chatd::core
