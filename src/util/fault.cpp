// SPDX-License-Identifier: MIT
#include "util/fault.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace chatd::util {

namespace {

struct Point {
  std::string name;
  uint64_t from = 1, to = UINT64_MAX;
  uint64_t hits = 0;
};

struct Faults {
  std::mutex mu;
  std::vector<Point> points;
  std::atomic<bool> armed{false};
};

uint64_t ParseCount(std::string_view s, uint64_t fallback) {
  if (s.empty()) return fallback;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return fallback;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::vector<Point> Parse(std::string_view spec) {
  std::vector<Point> points;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    Point p;
    size_t at = item.find('@');
    p.name = std::string(item.substr(0, at));
    if (at != std::string_view::npos) {
      std::string_view range = item.substr(at + 1);
      size_t dash = range.find('-');
      p.from = ParseCount(range.substr(0, dash), 1);
      p.to = dash == std::string_view::npos ? p.from : ParseCount(range.substr(dash + 1), UINT64_MAX);
    }
    points.push_back(std::move(p));
  }
  return points;
}

Faults& State() {
  static Faults* faults = [] {
    auto* f = new Faults();  // never destroyed: points may be hit during static destruction
    const char* env = std::getenv("CHATD_FAULT");
    if (env && *env) f->points = Parse(env);
    f->armed.store(!f->points.empty(), std::memory_order_relaxed);
    return f;
  }();
  return *faults;
}

}  // namespace

void ArmFaults(std::string_view spec) {
  std::vector<Point> points = Parse(spec);
  Faults& f = State();
  std::lock_guard lock(f.mu);
  f.points = std::move(points);
  f.armed.store(!f.points.empty(), std::memory_order_relaxed);
}

bool FaultHit(std::string_view point) {
  Faults& f = State();
  if (!f.armed.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(f.mu);
  for (Point& p : f.points) {
    if (p.name != point) continue;
    ++p.hits;
    return p.hits >= p.from && p.hits <= p.to;
  }
  return false;
}

}  // namespace chatd::util
