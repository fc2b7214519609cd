// SPDX-License-Identifier: MIT
#include "proc_stat.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "clock.h"

namespace chatd::bench {

namespace {

bool ReadFile(const char* path, char* buf, size_t size) {
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  size_t n = std::fread(buf, 1, size - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  return n > 0;
}

}  // namespace

int64_t ProcessCpuNs(pid_t pid) {
  if (pid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  char buf[1024];
  if (!ReadFile(path, buf, sizeof buf)) return -1;
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  ++p;
  // Fields after ')' start at field 3 (state); utime is field 14 and stime field 15.
  long long utime = 0, stime = 0;
  int field = 2;
  char* end = nullptr;
  while (*p && field < 15) {
    while (*p == ' ') ++p;
    ++field;
    if (field == 14) {
      utime = std::strtoll(p, &end, 10);
      p = end;
      continue;
    }
    if (field == 15) {
      stime = std::strtoll(p, &end, 10);
      break;
    }
    while (*p && *p != ' ') ++p;
  }
  static const long kTicks = sysconf(_SC_CLK_TCK);
  return (utime + stime) * (kSec / kTicks);
}

int64_t ProcessRssBytes(pid_t pid) {
  if (pid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
  char buf[4096];
  if (!ReadFile(path, buf, sizeof buf)) return -1;
  const char* p = std::strstr(buf, "VmRSS:");
  if (!p) return -1;
  return std::strtoll(p + 6, nullptr, 10) * 1024;
}

int64_t SelfCpuNs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) { return static_cast<int64_t>(tv.tv_sec) * kSec + tv.tv_usec * 1000; };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

void CpuMeter::Start() {
  wall0_ = NowNs();
  server0_ = ProcessCpuNs(server_pid_);
  client0_ = SelfCpuNs();
}

double CpuMeter::ServerSec() const {
  if (server0_ < 0) return -1;
  int64_t now = ProcessCpuNs(server_pid_);
  return now < 0 ? -1 : ToSec(now - server0_);
}

double CpuMeter::ClientSec() const { return ToSec(SelfCpuNs() - client0_); }

double CpuMeter::ServerPct() const {
  double s = ServerSec();
  double wall = ToSec(NowNs() - wall0_);
  return s < 0 || wall <= 0 ? -1 : 100.0 * s / wall;
}

double CpuMeter::ClientPct() const {
  double wall = ToSec(NowNs() - wall0_);
  return wall <= 0 ? -1 : 100.0 * ClientSec() / wall;
}

}  // namespace chatd::bench
