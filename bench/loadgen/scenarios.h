// SPDX-License-Identifier: MIT
//
// The scenarios of the load generator. Each reads its options, runs against one server, prints
// one line of `key=value` figures on stdout (progress and per-step detail go to stderr), and
// returns the process exit code: 0 measured, 1 bad options, 2 the run failed (connections lost,
// time limit), 3 the server does not support what the scenario needs.
#pragma once

#include "args.h"

namespace chatd::bench {

int RunIdle(const Args& args);
int RunPairs(const Args& args);
int RunFanout(const Args& args);
int RunOffline(const Args& args);
int RunColdStart(const Args& args);
int RunPresence(const Args& args);
int RunPublish(const Args& args);

// After a scenario read its options: false (and a message) if one was unknown or malformed.
bool CheckArgs(const Args& args);

}  // namespace chatd::bench
