// SPDX-License-Identifier: MIT
#include "net/static_site.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "util/embedded.h"

namespace chatd::net {

namespace {
constexpr off_t kMaxDevFile = 8 * 1024 * 1024;
}

std::string_view StaticSite::ContentType(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json") || ends(".webmanifest")) return "application/manifest+json";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::string StaticSite::ETagOf(std::string_view data) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  char buf[24];
  snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

bool StaticSite::ReadFromDir(const std::string& name, std::string* out) const {
  char root[PATH_MAX], file[PATH_MAX];
  if (!realpath(dir_.c_str(), root)) return false;
  std::string full = dir_ + "/" + name;
  if (!realpath(full.c_str(), file)) return false;
  std::string_view f(file), rt(root);
  if (f.size() <= rt.size() || f.substr(0, rt.size()) != rt || f[rt.size()] != '/') return false;
  struct stat st {};
  if (stat(file, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxDevFile) return false;
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool StaticSite::Find(const std::string& path, File* out) const {
  std::string name = path == "/" ? "index.html" : path.substr(1);
  if (name.empty() || name.find("..") != std::string::npos || name.find('\0') != std::string::npos) return false;
  if (!dir_.empty()) {
    if (!ReadFromDir(name, &out->body)) return false;
  } else {
    bool found = false;
    for (const auto& f : util::EmbeddedWww()) {
      if (f.name == name) {
        out->body.assign(f.data);
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  out->content_type = std::string(ContentType(name));
  out->etag = ETagOf(out->body);
  return true;
}

}  // namespace chatd::net
