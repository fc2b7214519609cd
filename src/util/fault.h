// SPDX-License-Identifier: MIT
//
// util fault points: named places in the code where a test can make an operation fail as if
// the disk or the machine had, armed only by the CHATD_FAULT environment variable:
//   CHATD_FAULT=history-write           every hit of the point fires
//   CHATD_FAULT=history-write@3         only its 3rd hit
//   CHATD_FAULT=history-write@3-10      its 3rd through 10th hits
//   several points, comma-separated
// Unarmed (the normal case) FaultHit() is one relaxed load and a branch. Thread-safe.
//
// The points (each named where its code is):
//   history-write    HistoryCache::Flush fails as RocksDB does on a full disk
#pragma once

#include <string_view>

namespace chatd::util {

// True when the named point is armed and this hit is in its range.
bool FaultHit(std::string_view point);

// Replaces the armed points with `spec` (CHATD_FAULT's syntax; "" disarms all): for unit tests.
void ArmFaults(std::string_view spec);

}  // namespace chatd::util
