// SPDX-License-Identifier: MIT
// Helpers shared by the unit tests: temporary folders, and an Engine on real files.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "store/engine.h"
#include "util/clock.h"
#include "util/fault.h"

namespace chatd::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/chatd-test-XXXXXX";
    char* made = mkdtemp(templ.data());
    path_ = made ? made : "";
  }
  ~TempDir() { RemoveAll(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

  static void RemoveAll(const std::string& path) {
    if (path.empty()) return;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      if (DIR* d = opendir(path.c_str())) {
        while (dirent* e = readdir(d)) {
          std::string n = e->d_name;
          if (n != "." && n != "..") RemoveAll(path + "/" + n);
        }
        closedir(d);
      }
      rmdir(path.c_str());
    } else {
      unlink(path.c_str());
    }
  }

 private:
  std::string path_;
};

// Opens an Engine on real SQLite and RocksDB files in `dir`.
inline std::unique_ptr<store::Engine> OpenEngine(const TempDir& dir, const util::Clock* clock,
                                                 store::OpenReport* report = nullptr,
                                                 store::EngineOptions options = {}) {
  options.db_path = dir / "chatd.db";
  options.history_path = dir / "history";
  options.clock = clock;
  std::unique_ptr<store::Engine> engine;
  store::OpenReport local;
  util::Status s = store::Engine::Open(options, &engine, report ? report : &local);
  if (!s.ok()) return nullptr;
  return engine;
}

// Arms fault points (util/fault.h) for a scope; disarms them all at its end.
struct ArmedFaults {
  explicit ArmedFaults(const char* spec) { util::ArmFaults(spec); }
  ~ArmedFaults() { util::ArmFaults(""); }
  ArmedFaults(const ArmedFaults&) = delete;
  ArmedFaults& operator=(const ArmedFaults&) = delete;
};

}  // namespace chatd::testing
