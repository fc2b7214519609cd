// SPDX-License-Identifier: MIT
#include "store/history_cache.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <rocksdb/db.h>

#include <fstream>

#include "test_util.h"

using namespace chatd;
using chatd::testing::TempDir;

TEST_CASE("history cache: pages backwards, ranges forwards") {
  TempDir dir;
  std::unique_ptr<store::HistoryCache> h;
  bool rebuilt = true;
  REQUIRE(store::HistoryCache::Open(dir / "h", "epoch1", &h, &rebuilt).ok());
  CHECK_FALSE(rebuilt);
  CHECK(h->high_water() == 0);
  for (int mid = 1; mid <= 30; ++mid) {
    store::ConvId conv = mid % 3 == 0 ? 7 : 8;  // two conversations interleaved
    h->Put(conv, mid, 1000 + mid, "m" + std::to_string(mid));
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
  for (int mid = 1; mid <= 20; ++mid) h->Put(5, mid, mid * 10, "x");
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
    for (int mid = 1; mid <= 20; ++mid) h->Put(5, mid, mid * 10, "x");
    h->Put(6, 21, 210, "y");
    REQUIRE(h->Flush().ok());
    REQUIRE(h->Trim(5, 8, 0).ok());  // keeps 13..20
    REQUIRE(h->Floor(5, &floor).ok());
    CHECK(floor == 13);
    REQUIRE(h->Trim(5, 8, 0).ok());  // nothing more to cut: the floor stays
    REQUIRE(h->Floor(5, &floor).ok());
    CHECK(floor == 13);
    REQUIRE(h->Floor(6, &floor).ok());
    CHECK(floor == 0);  // other conversations are untouched
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
    h->Put(1, 1, 1, "x");
    REQUIRE(h->Flush().ok());
  }
  {
    std::unique_ptr<store::HistoryCache> h;
    REQUIRE(store::HistoryCache::Open(dir / "h", "epochB", &h, &rebuilt).ok());
    CHECK(rebuilt);
    CHECK(h->high_water() == 0);
    h->Put(1, 5, 1, "y");
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

TEST_CASE("history cache: a cache from before the per-user index was dropped loses its 'u' and 'g' keys") {
  TempDir dir;
  bool rebuilt = false;
  auto key = [](char tag, uint64_t id, uint64_t mid) {
    std::string k(1, tag);
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>(id >> (8 * i)));
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>(mid >> (8 * i)));
    return k;
  };
  {
    std::unique_ptr<store::HistoryCache> h;
    REQUIRE(store::HistoryCache::Open(dir / "h", "e", &h, &rebuilt).ok());
    h->Put(5, 1, 10, "kept");
    REQUIRE(h->Flush().ok());
  }
  {
    rocksdb::DB* raw = nullptr;
    rocksdb::Options o;
    REQUIRE(rocksdb::DB::Open(o, dir / "h", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), key('u', 2, 1), std::string(8, '\0')).ok());
    REQUIRE(db->Put(rocksdb::WriteOptions(), std::string("g") + std::string(8, '\2'), std::string(8, '\0')).ok());
  }
  std::unique_ptr<store::HistoryCache> h;
  REQUIRE(store::HistoryCache::Open(dir / "h", "e", &h, &rebuilt).ok());
  CHECK_FALSE(rebuilt);
  store::HistoryCache::Entry e;
  REQUIRE(h->Get(5, 1, &e).ok());
  CHECK(e.json == "kept");
  h.reset();
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir / "h", &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  int left = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) left += it->key()[0] == 'u' || it->key()[0] == 'g';
  CHECK(left == 0);
}
