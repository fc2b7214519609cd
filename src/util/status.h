// SPDX-License-Identifier: MIT
//
// util::Status: the result of anything that can fail, in the LevelDB style: a code plus a
// human-readable message. OK carries no allocation. Codes map one-to-one onto the wire error
// codes of PROTOCOL.md so that a store or core failure can be answered to a client unchanged.
// Thread-safe as a value type; no shared state.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace chatd::util {

enum class Code {
  kOk = 0,
  kBadRequest,    // malformed input from a client, a file or the command line
  kUnauthorized,  // missing or wrong credentials
  kForbidden,     // authenticated but not allowed
  kNotFound,
  kTooLarge,
  kRateLimited,
  kConflict,      // already exists / duplicate
  kStorageFull,   // free-space floor reached or SQLITE_FULL
  kQuotaExceeded, // recipient's offline pool is full
  kUnavailable,   // shutting down, busy, try again
  kInternal,      // a bug or an I/O failure
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status BadRequest(std::string m) { return {Code::kBadRequest, std::move(m)}; }
  static Status Unauthorized(std::string m) { return {Code::kUnauthorized, std::move(m)}; }
  static Status Forbidden(std::string m) { return {Code::kForbidden, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status RateLimited(std::string m) { return {Code::kRateLimited, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status StorageFull(std::string m) { return {Code::kStorageFull, std::move(m)}; }
  static Status QuotaExceeded(std::string m) { return {Code::kQuotaExceeded, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "not_found: no such user" style, for logs and command-line output.
  std::string ToString() const;

  // The snake_case wire name of the code ("bad_request", ...).
  static std::string_view CodeName(Code code);

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace chatd::util
