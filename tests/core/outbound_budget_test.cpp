// SPDX-License-Identifier: MIT
#include "core/outbound_budget.h"

#include <doctest/doctest.h>

#include "core/fakes.h"

using namespace chatd;

TEST_CASE("outbound budget: answers are reserved against what is queued, an idle connection always gets one") {
  testing::RecordingOutbox outbox;
  outbox.track_queue = true;
  core::OutboundBudget budget(&outbox, 30'000, 4096, 1000);  // per answer: 4096 + 6000 + 1024
  CHECK(budget.per_answer() == 11'120);
  core::Session s;
  CHECK(budget.Reserve(1, s));
  CHECK(budget.Reserve(1, s));
  CHECK_FALSE(budget.Reserve(1, s));  // 22,240 + 11,120 > 30,000
  budget.Release(s);
  outbox.Send(1, core::MakeFrame(std::string(15'000, 'x')));  // the answer, queued
  CHECK_FALSE(budget.Reserve(1, s));                          // 15,000 + 11,120 + 11,120 > 30,000
  outbox.Written(1);
  CHECK(budget.Reserve(1, s));
  // A limit smaller than one answer does not stall an idle connection.
  core::OutboundBudget tiny(&outbox, 100, 4096, 1000);
  core::Session t;
  CHECK(tiny.Reserve(2, t));
  CHECK_FALSE(tiny.Reserve(2, t));
  tiny.Release(t);
  tiny.Release(t);  // never below zero
  CHECK(t.reserved == 0);
}
