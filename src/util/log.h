// SPDX-License-Identifier: MIT
//
// The one logger. Lines go to standard error as "<UTC time> <level>: <text>\n", each written
// with a single write(2) so lines from the network, storage and hashing threads never interleave.
// Safe to call from any thread. Never log message bodies or passwords (log ids and codes).
#pragma once

#include <string_view>

namespace chatd::util {

enum class LogLevel { kErr = 0, kWarn, kNotice, kInfo, kDebug };

// Parses "err", "warn", "notice", "info", "debug". Returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);
std::string_view LogLevelName(LogLevel level);

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
inline bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= static_cast<int>(GetLogLevel()); }

void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace chatd::util

#define CHATD_LOG(level, ...)                                              \
  do {                                                                     \
    if (::chatd::util::LogEnabled(level)) ::chatd::util::Log(level, __VA_ARGS__); \
  } while (0)
#define LOG_ERR(...) CHATD_LOG(::chatd::util::LogLevel::kErr, __VA_ARGS__)
#define LOG_WARN(...) CHATD_LOG(::chatd::util::LogLevel::kWarn, __VA_ARGS__)
#define LOG_NOTICE(...) CHATD_LOG(::chatd::util::LogLevel::kNotice, __VA_ARGS__)
#define LOG_INFO(...) CHATD_LOG(::chatd::util::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) CHATD_LOG(::chatd::util::LogLevel::kDebug, __VA_ARGS__)
