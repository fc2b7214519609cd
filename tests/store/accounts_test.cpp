// SPDX-License-Identifier: MIT
#include "store/accounts.h"

#include <doctest/doctest.h>

#include "store/engine.h"
#include "test_util.h"

using namespace chatd;
using chatd::testing::TempDir;

TEST_CASE("accounts: names are unique ignoring case and keep their spelling") {
  TempDir dir;
  util::ManualClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  auto& acc = engine->accounts();
  store::UserInfo alice;
  REQUIRE(acc.CreateUser("Alice", "$hash", true, clock.NowMs(), &alice).ok());
  CHECK(alice.id > 0);
  store::UserInfo dup;
  auto s = acc.CreateUser("alice", "$hash", false, clock.NowMs(), &dup);
  CHECK(s.code() == util::Code::kConflict);
  store::UserRecord rec;
  REQUIRE(acc.FindUser("ALICE", &rec).ok());
  CHECK(rec.info.name == "Alice");
  CHECK(rec.info.admin);
  CHECK(rec.password_hash == "$hash");
  CHECK(acc.FindUser("bob", &rec).code() == util::Code::kNotFound);
  std::vector<store::UserRecord> all;
  REQUIRE(acc.ListUsers(&all).ok());
  CHECK(all.size() == 1);
  REQUIRE(acc.DeleteUser("alice").ok());
  CHECK(acc.DeleteUser("alice").code() == util::Code::kNotFound);
}

TEST_CASE("accounts: sessions resolve until they expire or are revoked") {
  TempDir dir;
  util::ManualClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  auto& acc = engine->accounts();
  store::UserInfo bob;
  REQUIRE(acc.CreateUser("bob", "$h", false, clock.NowMs(), &bob).ok());
  REQUIRE(acc.CreateSession(bob.id, "t1", clock.NowMs(), clock.NowMs() + 1000).ok());
  REQUIRE(acc.CreateSession(bob.id, "t2", clock.NowMs(), clock.NowMs() + 100000).ok());
  store::UserInfo who;
  REQUIRE(acc.ResolveSession("t1", clock.NowMs(), &who).ok());
  CHECK(who.name == "bob");
  CHECK(acc.ResolveSession("nope", clock.NowMs(), &who).code() == util::Code::kUnauthorized);
  clock.Advance(1000);
  CHECK(acc.ResolveSession("t1", clock.NowMs(), &who).code() == util::Code::kUnauthorized);
  int removed = 0;
  REQUIRE(acc.PurgeExpiredSessions(clock.NowMs(), &removed).ok());
  CHECK(removed == 1);
  REQUIRE(acc.DeleteSession("t2").ok());
  CHECK_FALSE(acc.ResolveSession("t2", clock.NowMs(), &who).ok());
  // Deleting a user deletes their sessions (foreign key cascade).
  REQUIRE(acc.CreateSession(bob.id, "t3", clock.NowMs(), clock.NowMs() + 100000).ok());
  REQUIRE(acc.DeleteUser("bob").ok());
  CHECK_FALSE(acc.ResolveSession("t3", clock.NowMs(), &who).ok());
}

TEST_CASE("engine: site users are created on first sight, without a password") {
  TempDir dir;
  util::ManualClock clock;
  auto engine = chatd::testing::OpenEngine(dir, &clock);
  REQUIRE(engine);
  store::UserInfo a, b;
  REQUIRE(engine->EnsureUser("carol", false, &a).ok());
  REQUIRE(engine->EnsureUser("Carol", false, &b).ok());
  CHECK(a.id == b.id);
  CHECK(b.name == "carol");
  store::UserRecord rec;
  REQUIRE(engine->accounts().FindUser("carol", &rec).ok());
  CHECK(rec.password_hash.empty());
  CHECK(rec.site_user);
  // A local account of the same name is not a site user's to take, unless allowed.
  store::UserInfo local, got;
  REQUIRE(engine->accounts().CreateUser("erin", "$argon2id$fake", true, 1, &local).ok());
  util::Status s = engine->EnsureUser("ERIN", false, &got);
  CHECK(s.code() == util::Code::kUnauthorized);
  CHECK(s.message().find("local account") != std::string::npos);
  REQUIRE(engine->EnsureUser("erin", true, &got).ok());
  CHECK(got.id == local.id);
  engine->set_storage_full(true);
  CHECK(engine->EnsureUser("dave", false, &a).code() == util::Code::kStorageFull);
}
