// SPDX-License-Identifier: MIT
//
// proto codec: client frames (JSON text) -> proto::Request, and the small HTTP API bodies.
// Pure functions, no I/O, safe on any thread. Decode never trusts its input: sizes, types and
// ranges are checked here, and every failure is a BadRequest status with a message fit to send
// back to the client. cJSON is used only in codec.cpp.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/messages.h"
#include "proto/names.h"
#include "util/status.h"

namespace chatd::proto {

// Decodes one JSON object. On failure `out->id` is still filled when the object had a usable
// "id", so the error answer can carry `re`.
util::Status Decode(std::string_view json, Request* out);

// Splits a frame on '\n' into non-empty lines (a client may pack several objects per frame).
std::vector<std::string_view> SplitFrame(std::string_view frame);

// The body of POST /api/publish. At most kMaxPublishRecipients names, a title of kMaxTitleBytes
// and data of kMaxDataBytes (serialized); the text's limit is the caller's (max-text).
inline constexpr size_t kMaxPublishRecipients = 1000;
inline constexpr size_t kMaxTitleBytes = 256;
inline constexpr size_t kMaxDataBytes = 8192;
util::Status DecodePublish(std::string_view json, Publish* out);

// An application/x-www-form-urlencoded body or query string: name=value pairs, '+' and %XX
// decoded, in order. BadRequest for a broken %-escape or a NUL.
util::Status DecodeForm(std::string_view text, std::vector<std::pair<std::string, std::string>>* out);
// The first value of `name` among `fields` ("" if absent); *present says whether it was there.
std::string FormValue(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name,
                      bool* present = nullptr);

// {"user":"…","password":"…"} for /api/register and /api/login.
util::Status DecodeCredentials(std::string_view json, std::string* user, std::string* password);

// The parts of an HS256 site token that chatd reads (auth/crypto.cpp checks them).
struct SiteTokenClaims {
  std::string alg, sub;
  bool has_exp = false, has_nbf = false;
  int64_t exp = 0, nbf = 0;
};
// Parses a JWT's decoded header and payload JSON. False when either is not a JSON object.
bool DecodeSiteTokenClaims(std::string_view header_json, std::string_view payload_json, SiteTokenClaims* out);


}  // namespace chatd::proto
