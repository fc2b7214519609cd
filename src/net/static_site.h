// SPDX-License-Identifier: MIT
//
// net::StaticSite: the files of the chat page. They are embedded in the binary at build time
// (www/), or, for development (`--www DIR`), read from a folder, confined to it: a path with
// "..", or a symlink that leads out of the folder, is not found. Each file comes with its
// content type and an ETag (FNV-1a of its bytes: stable across builds for the same file).
// Any thread (reads only; the folder's files are read on each request).
#pragma once

#include <string>
#include <string_view>

namespace chatd::net {

class StaticSite {
 public:
  // `dir` empty: the embedded copy.
  explicit StaticSite(std::string dir) : dir_(std::move(dir)) {}

  struct File {
    std::string body;
    std::string content_type;
    std::string etag;  // with its quotes, as the header wants it
  };
  // The file for a request path ("/" is index.html). False: not found.
  bool Find(const std::string& path, File* out) const;

  static std::string_view ContentType(std::string_view name);
  static std::string ETagOf(std::string_view data);

 private:
  bool ReadFromDir(const std::string& name, std::string* out) const;
  std::string dir_;
};

}  // namespace chatd::net
