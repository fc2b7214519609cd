// SPDX-License-Identifier: MIT
//
// Scenario "coldstart": the time from exec of a server to its first accepted WebSocket upgrade.
//
//   chatd-bench coldstart [--runs 5] [--cpu N] [--settle S] [--label L] -- SERVER ARGS...
//
// In SERVER ARGS, "{port}" is replaced by a free loopback port picked for each run. Each run
// forks, pins the child to --cpu (if given) and execs the server; the parent meanwhile tries to
// connect every 100 us and, once connected, sends an upgrade for /ws and waits for "101". The
// first run is reported on its own (it may create the data directory); the figure is the median
// of the others. After the last run's upgrade the server is left idle for --settle seconds and
// its RSS is read. Every server is stopped with SIGTERM (SIGKILL after 10 s).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "clock.h"
#include "proc_stat.h"
#include "scenarios.h"

namespace chatd::bench {

namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  int port = -1;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    port = ntohs(sa.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

// One attempt: connect, upgrade, wait for the status line. 1 = upgraded, 0 = not listening yet,
// -1 = listening but the upgrade failed.
int TryUpgrade(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return 0;
  }
  std::string req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chatd.v1\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return -1;
  }
  std::string got;
  char buf[1024];
  int64_t until = NowNs() + 5 * kSec;
  while (got.find("\r\n\r\n") == std::string::npos && NowNs() < until) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return got.rfind("HTTP/1.1 101", 0) == 0 ? 1 : -1;
}

void StopServer(pid_t pid) {
  kill(pid, SIGTERM);
  int64_t until = NowNs() + 10 * kSec;
  while (NowNs() < until) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace

int RunColdStart(const Args& args) {
  int runs = static_cast<int>(args.Int("runs", 5));
  int cpu = static_cast<int>(args.Int("cpu", -1));
  double settle = args.Num("settle", 1);
  std::string label = args.Str("label", "chatd");
  double limit_s = args.Num("time-limit", 60);
  if (!CheckArgs(args)) return 1;
  if (args.command().empty() || runs < 1) {
    std::fprintf(stderr, "coldstart: give the server command after --, with {port} where the port goes\n");
    return 1;
  }
  std::vector<int64_t> times;
  int64_t idle_rss = -1;
  int64_t deadline = NowNs() + static_cast<int64_t>(limit_s * 1e9);
  for (int run = 0; run <= runs && NowNs() < deadline; ++run) {
    int port = FreePort();
    std::vector<std::string> argv_s;
    for (std::string a : args.command()) {
      size_t at = a.find("{port}");
      if (at != std::string::npos) a.replace(at, 6, std::to_string(port));
      argv_s.push_back(a);
    }
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    int64_t t0 = NowNs();
    pid_t pid = fork();
    if (pid == 0) {
      if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
      }
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
      }
      execvp(argv[0], argv.data());
      _exit(127);
    }
    if (pid < 0) {
      std::perror("fork");
      return 2;
    }
    int got = 0;
    int64_t until = std::min(deadline, t0 + 30 * kSec);
    while (got == 0 && NowNs() < until) {
      got = TryUpgrade(port);
      if (got == 0) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) {
          got = -2;
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    int64_t t1 = NowNs();
    if (got != 1) {
      if (got != -2) StopServer(pid);
      std::fprintf(stderr, "coldstart: run %d: %s\n", run,
                   got == -2  ? "the server exited"
                   : got == 0 ? "no answer in time"
                              : "upgrade refused");
      Report().Add("scenario", std::string("coldstart")).Add("target", label).Add("failures", int64_t{1}).Print();
      return 2;
    }
    times.push_back(t1 - t0);
    if (run == runs) {
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(settle * 1e6)));
      idle_rss = ProcessRssBytes(pid);
    }
    StopServer(pid);
  }
  Report r;
  r.Add("scenario", std::string("coldstart")).Add("target", label);
  if (times.size() < 2) {
    r.Add("failures", int64_t{1}).Add("why", std::string("time_limit")).Print();
    return 2;
  }
  std::vector<int64_t> rest(times.begin() + 1, times.end());
  std::sort(rest.begin(), rest.end());
  r.Add("runs", static_cast<int64_t>(rest.size())).Ms("first_ms", times[0]);
  r.Ms("cold_ms", rest[rest.size() / 2]).Ms("cold_min_ms", rest.front()).Ms("cold_max_ms", rest.back());
  if (idle_rss > 0) r.Add("idle_rss_kib", idle_rss / 1024);
  r.Add("failures", int64_t{0});
  r.Print();
  return 0;
}

}  // namespace chatd::bench
