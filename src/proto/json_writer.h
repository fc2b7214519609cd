// SPDX-License-Identifier: MIT
//
// proto::JsonWriter: appends compact JSON to a std::string. Used for every frame the server sends,
// so a message is encoded exactly once per fan-out. Strings are escaped so the output never holds
// a raw newline or control character (frames are newline-separated, PROTOCOL.md). Input strings
// must be valid UTF-8 (they come from lws-validated frames or from our own store).
// Not thread-safe; a writer is a short-lived local.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chatd::proto {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& Begin() { return Open('{'); }
  JsonWriter& End() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }

  // Object members.
  JsonWriter& Key(std::string_view key);
  JsonWriter& Str(std::string_view key, std::string_view value) { return Key(key).Str(value); }
  JsonWriter& Int(std::string_view key, int64_t value) { return Key(key).Int(value); }
  JsonWriter& Bool(std::string_view key, bool value) { return Key(key).Bool(value); }
  JsonWriter& Raw(std::string_view key, std::string_view json) { return Key(key).Raw(json); }
  JsonWriter& BeginObject(std::string_view key) { return Key(key).Begin(); }
  JsonWriter& BeginArray(std::string_view key) { return Key(key).BeginArray(); }

  // Values (array elements, or after Key()).
  JsonWriter& Str(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Raw(std::string_view json);  // already-encoded JSON value

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void Comma();

  std::string* out_;
  bool need_comma_ = false;
  bool after_key_ = false;
};

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace chatd::proto
