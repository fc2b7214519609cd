// SPDX-License-Identifier: MIT
//
// store::DataDir: the folder that holds everything chatd keeps: chatd.db (SQLite, the source of
// truth), history/ (the RocksDB cache) and chatd.lock. Open() creates the folder if needed,
// checks that it is usable, and takes an exclusive lock so a second `chatd serve` on the same
// folder fails at once with a clear message. The lock is released when the object is destroyed
// (or the process dies). Thread-safe after Open(): the paths are constants, FreeBytes() a syscall.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "util/status.h"

namespace chatd::store {

class DataDir {
 public:
  // `lock` = false for admin commands that only use SQLite beside a running server.
  static util::Status Open(const std::string& path, bool lock, std::unique_ptr<DataDir>* out);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  const std::string& path() const { return path_; }
  std::string DbPath() const { return path_ + "/chatd.db"; }
  std::string HistoryPath() const { return path_ + "/history"; }

  // Bytes available to this process on the data dir's file system (-1 if unknown).
  int64_t FreeBytes() const;

 private:
  DataDir(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string path_;
  int lock_fd_;
};

// Bytes available on the file system holding `path` (-1 if statvfs fails).
int64_t FreeBytesAt(const std::string& path);

}  // namespace chatd::store
