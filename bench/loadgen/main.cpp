// SPDX-License-Identifier: MIT
//
// chatd-bench: the load generator for chatd (and for anything that speaks enough of its protocol,
// such as the reference peer in bench/peer). See bench/README.md for the scenarios and the method.
#include <signal.h>
#include <sodium.h>

#include <cstdio>
#include <cstring>

#include "scenarios.h"

namespace chatd::bench {

bool CheckArgs(const Args& args) {
  bool ok = true;
  for (const auto& name : args.Unused()) {
    std::fprintf(stderr, "chatd-bench: unknown option %s\n", name.c_str());
    ok = false;
  }
  if (!args.bad().empty()) {
    std::fprintf(stderr, "chatd-bench: not a number: %s\n", args.bad().c_str());
    ok = false;
  }
  return ok;
}

}  // namespace chatd::bench

namespace {

const char kUsage[] =
    "usage: chatd-bench SCENARIO [options]\n"
    "\n"
    "Scenarios (each prints one line of key=value figures on stdout):\n"
    "  idle       hold --conns logged-in connections (in one room); RSS per connection, logins/s\n"
    "  pairs      1:1 messages between --pairs pairs; ramp to the rate with p99 send->ok under --p99-ms,\n"
    "             or --fixed at --rate, or --messages M as fast as possible\n"
    "  fanout     one publisher, --members in one room; ramp until under --min-ratio arrive\n"
    "  offline    store rate to offline users and drain time at login (--drain 100,100000)\n"
    "  presence   --conns users in rooms of --room-size; --storm of them reconnect at once, within the\n"
    "             presence grace and after --away seconds: presence events, relogin time, server CPU\n"
    "  publish    --members online; --http-conns threads POST /api/publish (--key) for --seconds, to one\n"
    "             member at a time, then to everyone: publishes/s, HTTP p99, notifications arrived\n"
    "  coldstart  exec -> first accepted upgrade: coldstart [--runs N] [--cpu C] -- SERVER ARGS {port}\n"
    "\n"
    "Common options: --target ws://127.0.0.1:PORT/ws --secret S (or CHATD_BENCH_SECRET) --server-pid PID\n"
    "  --label NAME --prefix P --sources N --max-connecting N --time-limit SECONDS\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace chatd::bench;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  if (sodium_init() < 0) {
    std::fprintf(stderr, "chatd-bench: cannot initialise libsodium\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  Args args(argc, argv, 2);
  std::string scenario = argv[1];
  if (scenario == "idle") return RunIdle(args);
  if (scenario == "pairs") return RunPairs(args);
  if (scenario == "fanout") return RunFanout(args);
  if (scenario == "offline") return RunOffline(args);
  if (scenario == "coldstart") return RunColdStart(args);
  if (scenario == "presence") return RunPresence(args);
  if (scenario == "publish") return RunPublish(args);
  std::fprintf(stderr, "chatd-bench: unknown scenario '%s'\n\n%s", scenario.c_str(), kUsage);
  return 1;
}
