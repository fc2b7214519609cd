// SPDX-License-Identifier: MIT
#include "store/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace chatd::store {

using util::Status;

namespace {

Status MakeDirs(const std::string& path) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) {
      return Status::Internal("cannot create data dir " + partial + ": " + strerror(errno));
    }
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Internal("data dir " + path + " is not a directory");
  }
  if (access(path.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Status::Internal("data dir " + path + " is not writable by this user: " + strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

int64_t FreeBytesAt(const std::string& path) {
  struct statvfs vfs {};
  if (statvfs(path.c_str(), &vfs) != 0) return -1;
  return static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
}

Status DataDir::Open(const std::string& path, bool lock, std::unique_ptr<DataDir>* out) {
  std::string clean = path;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  Status s = MakeDirs(clean);
  if (!s.ok()) return s;
  int fd = -1;
  if (lock) {
    std::string lock_path = clean + "/chatd.lock";
    fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return Status::Internal("cannot open " + lock_path + ": " + strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = {0};
      ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
      close(fd);
      std::string who = n > 0 ? " (pid " + std::string(pid, strcspn(pid, "\n")) + ")" : "";
      return Status::Conflict("another chatd" + who + " is already serving data dir " + clean);
    }
    std::string me = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, me.data(), me.size(), 0) < 0) {
      // The pid is only informational; the lock itself is what matters.
    }
  }
  out->reset(new DataDir(clean, fd));
  return Status::Ok();
}

DataDir::~DataDir() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

int64_t DataDir::FreeBytes() const { return FreeBytesAt(path_); }

}  // namespace chatd::store
