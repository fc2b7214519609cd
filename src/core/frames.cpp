// SPDX-License-Identifier: MIT
#include "core/frames.h"

#include "proto/json_writer.h"

namespace chatd::core {

std::string EncodeError(std::string_view re, const util::Status& status, int64_t retry_ms) {
  std::string out;
  proto::JsonWriter w(&out);
  w.Begin().Str("type", "error");
  if (!re.empty()) w.Raw("re", re);
  w.Str("code", util::Status::CodeName(status.code())).Str("message", status.message());
  if (retry_ms > 0) w.Int("retry_ms", retry_ms);
  w.End();
  return out;
}

std::string EncodeOk(std::string_view re) {
  std::string out;
  proto::JsonWriter w(&out);
  w.Begin().Str("type", "ok");
  if (!re.empty()) w.Raw("re", re);
  w.End();
  return out;
}

}  // namespace chatd::core
