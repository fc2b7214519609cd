// SPDX-License-Identifier: MIT
#include "store/history_cache.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "test_util.h"

using namespace chatd;
using chatd::testing::TempDir;

TEST_CASE("history cache: pages backwards, ranges forwards, per-user index") {
  TempDir dir;
  std::unique_ptr<store::HistoryCache> h;
  bool rebuilt = true;
  REQUIRE(store::HistoryCache::Open(dir / "h", "epoch1", &h, &rebuilt).ok());
  CHECK_FALSE(rebuilt);
  CHECK(h->high_water() == 0);
  for (int mid = 1; mid <= 30; ++mid) {
    store::ConvId conv = mid % 3 == 0 ? 7 : 8;  // two conversations interleaved
    h->Put(conv, mid, 1000 + mid, "m" + std::to_string(mid), conv == 8 ? 1 : 0, conv == 8 ? 2 : 0);
  }
  REQUIRE(h->Flush().ok());
  CHECK(h->high_water() == 30);
  std::vector<store::HistoryCache::Entry> page;
  REQUIRE(h->Page(7, 0, 4, &page).ok());
  REQUIRE(page.size() == 4);
  CHECK(page[0].mid == 30);
  CHECK(page[3].mid == 21);
  CHECK(page[0].json == "m30");
  CHECK(page[0].ts == 1030);
  page.clear();
  REQUIRE(h->Page(7, 21, 100, &page).ok());
  REQUIRE(page.size() == 6);  // 18, 15, ..., 3
  CHECK(page.front().mid == 18);
  CHECK(page.back().mid == 3);
  page.clear();
  REQUIRE(h->Range(8, 20, 100, &page).ok());
  REQUIRE(page.size() == 6);  // 22 23 25 26 28 29: the mids above 20 not divisible by 3
  CHECK(page.front().mid == 22);
  std::vector<std::pair<store::Mid, store::ConvId>> idx;
  REQUIRE(h->UserIndex(2, 25, 100, &idx).ok());
  REQUIRE(idx.size() == 3);  // 26 28 29
  CHECK(idx[0] == std::make_pair(store::Mid{26}, store::ConvId{8}));
  idx.clear();
  REQUIRE(h->UserIndex(3, 0, 100, &idx).ok());
  CHECK(idx.empty());
  store::HistoryCache::Entry e;
  REQUIRE(h->Get(8, 29, &e).ok());
  CHECK(e.json == "m29");
  CHECK(h->Get(8, 30, &e).code() == util::Code::kNotFound);
}

TEST_CASE("history cache: retention by count and age") {
  TempDir dir;
  std::unique_ptr<store::HistoryCache> h;
  bool rebuilt = false;
  REQUIRE(store::HistoryCache::Open(dir / "h", "e", &h, &rebuilt).ok());
  for (int mid = 1; mid <= 20; ++mid) h->Put(5, mid, mid * 10, "x", 1, 2);
  REQUIRE(h->Flush().ok());
  REQUIRE(h->Trim(5, 8, 0).ok());
  std::vector<store::HistoryCache::Entry> page;
  REQUIRE(h->Page(5, 0, 100, &page).ok());
  REQUIRE(page.size() == 8);
  CHECK(page.back().mid == 13);
  REQUIRE(h->Trim(5, 100, 175).ok());  // keeps ts >= 175: mids 18..20
  page.clear();
  REQUIRE(h->Page(5, 0, 100, &page).ok());
  REQUIRE(page.size() == 3);
  CHECK(page.back().mid == 18);
  REQUIRE(h->TrimUserIndex(1, 5).ok());
  std::vector<std::pair<store::Mid, store::ConvId>> idx;
  REQUIRE(h->UserIndex(1, 0, 100, &idx).ok());
  REQUIRE(idx.size() == 5);
  CHECK(idx.front().first == 16);
}

TEST_CASE("history cache: retention raises floors that survive a reopen, and only what it cut is below them") {
  TempDir dir;
  bool rebuilt = false;
  {
    std::unique_ptr<store::HistoryCache> h;
    REQUIRE(store::HistoryCache::Open(dir / "h", "e", &h, &rebuilt).ok());
    store::Mid floor = -1;
    REQUIRE(h->Floor(5, &floor).ok());
    CHECK(floor == 0);  // never trimmed: complete from the start
    for (int mid = 1; mid <= 20; ++mid) h->Put(5, mid, mid * 10, "x", 1, 2);
    h->Put(6, 21, 210, "y", 0, 0);
    REQUIRE(h->Flush().ok());
    REQUIRE(h->Trim(5, 8, 0).ok());  // keeps 13..20
    REQUIRE(h->Floor(5, &floor).ok());
    CHECK(floor == 13);
    REQUIRE(h->Trim(5, 8, 0).ok());  // nothing more to cut: the floor stays
    REQUIRE(h->Floor(5, &floor).ok());
    CHECK(floor == 13);
    REQUIRE(h->Floor(6, &floor).ok());
    CHECK(floor == 0);  // other conversations are untouched
    REQUIRE(h->TrimUserIndex(2, 3).ok());  // keeps 18..20
    REQUIRE(h->UserIndexFloor(2, &floor).ok());
    CHECK(floor == 18);
    REQUIRE(h->UserIndexFloor(1, &floor).ok());
    CHECK(floor == 0);
  }
  std::unique_ptr<store::HistoryCache> h;
  REQUIRE(store::HistoryCache::Open(dir / "h", "e", &h, &rebuilt).ok());
  store::Mid floor = 0;
  REQUIRE(h->Floor(5, &floor).ok());
  CHECK(floor == 13);
  std::vector<store::HistoryCache::Entry> range;
  REQUIRE(h->Range(5, floor - 1, 100, &range).ok());
  CHECK(range.size() == 8);
}

TEST_CASE("history cache: a foreign or damaged cache is moved aside and started fresh") {
  TempDir dir;
  bool rebuilt = false;
  {
    std::unique_ptr<store::HistoryCache> h;
    REQUIRE(store::HistoryCache::Open(dir / "h", "epochA", &h, &rebuilt).ok());
    h->Put(1, 1, 1, "x", 0, 0);
    REQUIRE(h->Flush().ok());
  }
  {
    std::unique_ptr<store::HistoryCache> h;
    REQUIRE(store::HistoryCache::Open(dir / "h", "epochB", &h, &rebuilt).ok());
    CHECK(rebuilt);
    CHECK(h->high_water() == 0);
    h->Put(1, 5, 1, "y", 0, 0);
    REQUIRE(h->Flush().ok());
  }
  // Damage: CURRENT points nowhere.
  std::ofstream(dir / "h/CURRENT", std::ios::trunc) << "MANIFEST-999999\n";
  {
    std::unique_ptr<store::HistoryCache> h;
    REQUIRE(store::HistoryCache::Open(dir / "h", "epochB", &h, &rebuilt).ok());
    CHECK(rebuilt);
    CHECK(h->high_water() == 0);
  }
  // The same epoch opens as it is.
  {
    std::unique_ptr<store::HistoryCache> h;
    REQUIRE(store::HistoryCache::Open(dir / "h", "epochB", &h, &rebuilt).ok());
    CHECK_FALSE(rebuilt);
  }
}
