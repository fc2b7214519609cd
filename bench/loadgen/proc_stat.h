// SPDX-License-Identifier: MIT
//
// What the load generator reads about processes: CPU time from /proc/<pid>/stat (utime + stime,
// all threads), resident memory from /proc/<pid>/status, and its own CPU time from getrusage.
// Linux only. Each call opens and reads the file; call them at phase boundaries, not per message.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace chatd::bench {

// CPU time (user + system) of process `pid` in nanoseconds; -1 if it cannot be read.
int64_t ProcessCpuNs(pid_t pid);
// VmRSS of process `pid` in bytes; -1 if it cannot be read.
int64_t ProcessRssBytes(pid_t pid);
// CPU time of this process (all threads) in nanoseconds.
int64_t SelfCpuNs();

// Server and client CPU over an interval: Start(), then the figures.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t server_pid) : server_pid_(server_pid) {}
  void Start();
  // Seconds of CPU since Start(); the server's is -1 when no pid was given.
  double ServerSec() const;
  double ClientSec() const;
  // Percent of one core over the wall time since Start().
  double ServerPct() const;
  double ClientPct() const;

 private:
  pid_t server_pid_;
  int64_t wall0_ = 0;
  int64_t server0_ = 0;
  int64_t client0_ = 0;
};

}  // namespace chatd::bench
