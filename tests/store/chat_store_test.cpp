// SPDX-License-Identifier: MIT
// The ChatStore contract, one body run against both implementations: EngineChatStore on real
// SQLite and RocksDB files (InlineStorage) and MemoryChatStore. What the core relies on is here;
// the engine's own details (cache, retention, crashes) are in message_store_test.cpp.
#include "store/chat_store.h"

#include <doctest/doctest.h>

#include <optional>

#include "store/engine_chat_store.h"
#include "store/memory_chat_store.h"
#include "store/storage_thread.h"
#include "test_util.h"

using namespace chatd;
using store::Mid;
using store::UserInfo;

namespace {

struct EngineBackend {
  chatd::testing::TempDir dir;
  util::ManualClock clock;
  util::CompletionQueue completions;
  std::unique_ptr<store::Engine> engine;
  std::unique_ptr<store::InlineStorage> storage;
  std::unique_ptr<store::EngineChatStore> store;
  explicit EngineBackend(store::MessageLimits limits) {
    store::EngineOptions o;
    o.pool_max_messages = limits.pool_max_messages;
    o.pool_max_bytes = limits.pool_max_bytes;
    o.max_rooms_per_user = limits.max_rooms_per_user;
    engine = chatd::testing::OpenEngine(dir, &clock, nullptr, o);
    REQUIRE(engine);
    storage = std::make_unique<store::InlineStorage>(engine.get(), &completions);
    store = std::make_unique<store::EngineChatStore>(storage.get());
  }
  store::ChatStore& chat() { return *store; }
  void Settle() {
    storage->RunPending();
    completions.Drain();
  }
  void SetFull(bool full) { engine->set_storage_full(full); }
};

struct MemoryBackend {
  util::CompletionQueue completions;
  store::MemoryChatStore store;
  explicit MemoryBackend(store::MessageLimits limits) : store(&completions, limits) {}
  store::ChatStore& chat() { return store; }
  void Settle() { completions.Drain(); }
  void SetFull(bool full) { store.set_storage_full(full); }
};

// Synchronous calls over the asynchronous API, and a few shorthands.
template <typename Backend>
struct Driver {
  Backend b;
  int64_t ts = 1'700'000'000'000;
  int cids = 0;
  explicit Driver(store::MessageLimits limits = {}) : b(limits) {}

  template <typename T, typename Call>
  store::Result<T> Sync(Call call) {
    std::optional<store::Result<T>> got;
    call([&](store::Result<T>&& r) { got = std::move(r); });
    CHECK(got == std::nullopt);  // never answered before the call returns
    b.Settle();
    REQUIRE(got);
    CHECK(b.chat().Pending() == 0);
    return std::move(*got);
  }
  template <typename Call>
  util::Status SyncStatus(Call call) {
    std::optional<util::Status> got;
    call([&](const util::Status& s) { got = s; });
    CHECK(got == std::nullopt);
    b.Settle();
    REQUIRE(got);
    return *got;
  }

  UserInfo User(const std::string& name, bool admin = false) {
    auto r = Sync<UserInfo>([&](auto done) { b.chat().CreateUser({name, "hash-" + name, admin, ts}, done); });
    REQUIRE(r.status.ok());
    return r.value;
  }
  store::Result<store::SendResult> Send(const UserInfo& from, const std::string& to, const std::string& text,
                                        const std::string& room = "", std::string cid = "") {
    if (cid.empty()) cid = "c" + std::to_string(++cids);
    store::SendRequest req{from, cid, room.empty() ? to : "", room, text, ++ts};
    return Sync<store::SendResult>([&](auto done) { b.chat().Send(req, done); });
  }
  Mid SendOk(const UserInfo& from, const std::string& to, const std::string& text = "x", const std::string& room = "") {
    auto r = Send(from, to, text, room);
    REQUIRE_MESSAGE(r.status.ok(), r.status.ToString());
    return r.value.mid;
  }
  // Every page from `after`, each continuing where the last said.
  std::vector<Mid> Pages(const UserInfo& u, Mid after, bool cursor, int limit = 1000, size_t max_bytes = 1 << 20) {
    std::vector<Mid> mids;
    for (int n = 0; n < 1000; ++n) {
      auto r = Sync<store::FetchResult>(
          [&](auto done) { b.chat().FetchPage(store::PageRequest{u.id, after, cursor, limit, max_bytes}, done); });
      REQUIRE(r.status.ok());
      for (auto& m : r.value.messages) mids.push_back(m.mid);
      if (r.value.complete) return mids;
      REQUIRE(r.value.next > after);
      after = r.value.next;
    }
    FAIL("pages never ended");
    return mids;
  }
  util::Status Ack(const UserInfo& u, Mid upto, std::vector<std::pair<store::UserId, Mid>>* delivered = nullptr) {
    auto r = Sync<store::AckResult>([&](auto done) { b.chat().Ack({u.id, upto, ts}, done); });
    if (delivered) *delivered = r.value.delivered;
    return r.status;
  }
  store::Result<store::JoinResult> Join(const UserInfo& u, const std::string& room, bool make_private = false) {
    return Sync<store::JoinResult>([&](auto done) { b.chat().Join({u, room, make_private, ts}, done); });
  }
  store::Result<store::HistoryResult> History(const UserInfo& u, const std::string& with, const std::string& room,
                                              Mid before, int limit, size_t max_bytes = 1 << 20) {
    return Sync<store::HistoryResult>(
        [&](auto done) { b.chat().History({u, with, room, before, limit, max_bytes}, done); });
  }
  std::vector<Mid> AllHistory(const UserInfo& u, const std::string& with, const std::string& room, int limit) {
    std::vector<Mid> mids;
    Mid before = 0;
    for (int n = 0; n < 1000; ++n) {
      auto h = History(u, with, room, before, limit);
      REQUIRE(h.status.ok());
      std::vector<Mid> page;
      for (auto& m : h.value.messages) page.push_back(std::stoll(m->substr(m->find("\"mid\":") + 6)));
      mids.insert(mids.begin(), page.begin(), page.end());
      if (!h.value.more) return mids;
      before = page.front();
    }
    FAIL("history never ended");
    return mids;
  }
  store::UserState State(const UserInfo& u) {
    auto r = Sync<store::UserState>([&](auto done) { b.chat().LoadUserState(u.id, done); });
    REQUIRE(r.status.ok());
    return r.value;
  }
};

using Backends = std::tuple<EngineBackend, MemoryBackend>;

int64_t Unread(const store::UserState& s, const std::string& key) {
  for (const auto& [k, n] : s.unread) {
    if (k == key) return n;
  }
  return 0;
}

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("chat store: accounts and login sessions", B, accounts) {
  Driver<B> d;
  UserInfo alice = d.User("alice");
  CHECK(alice.id > 0);
  auto again = d.template Sync<UserInfo>([&](auto done) { d.b.chat().CreateUser({"ALICE", "h", false, 1}, done); });
  CHECK(again.status.code() == util::Code::kConflict);
  auto found = d.template Sync<store::UserRecord>([&](auto done) { d.b.chat().FindUser("Alice", done); });
  REQUIRE(found.status.ok());
  CHECK(found.value.info.name == "alice");
  CHECK(found.value.password_hash == "hash-alice");
  CHECK_FALSE(found.value.site_user);
  auto none = d.template Sync<store::UserRecord>([&](auto done) { d.b.chat().FindUser("nobody", done); });
  CHECK(none.status.code() == util::Code::kNotFound);
  // Sessions: resolve until expiry or deletion.
  CHECK(d.SyncStatus([&](auto done) { d.b.chat().CreateSession({alice.id, "t1", 10, 1000}, done); }).ok());
  auto who = d.template Sync<UserInfo>([&](auto done) { d.b.chat().ResolveSession({"t1", 500}, done); });
  REQUIRE(who.status.ok());
  CHECK(who.value.id == alice.id);
  CHECK(d.template Sync<UserInfo>([&](auto done) { d.b.chat().ResolveSession({"t1", 1000}, done); }).status.code() ==
        util::Code::kUnauthorized);
  CHECK(d.SyncStatus([&](auto done) { d.b.chat().DeleteSession("t1", done); }).ok());
  CHECK(d.template Sync<UserInfo>([&](auto done) { d.b.chat().ResolveSession({"t1", 500}, done); }).status.code() ==
        util::Code::kUnauthorized);
  // Site users: made on first sight; a local account is not theirs unless allowed.
  auto site = d.template Sync<UserInfo>([&](auto done) { d.b.chat().EnsureSiteUser({"carol", false}, done); });
  REQUIRE(site.status.ok());
  auto site2 = d.template Sync<UserInfo>([&](auto done) { d.b.chat().EnsureSiteUser({"CAROL", false}, done); });
  CHECK(site2.value.id == site.value.id);
  CHECK(d.template Sync<UserInfo>([&](auto done) { d.b.chat().EnsureSiteUser({"alice", false}, done); }).status.code() ==
        util::Code::kUnauthorized);
  CHECK(d.template Sync<UserInfo>([&](auto done) { d.b.chat().EnsureSiteUser({"alice", true}, done); }).value.id ==
        alice.id);
  d.b.SetFull(true);
  CHECK(d.template Sync<UserInfo>([&](auto done) { d.b.chat().CreateUser({"dave", "h", false, 1}, done); }).status.code() ==
        util::Code::kStorageFull);
  CHECK(d.template Sync<UserInfo>([&](auto done) { d.b.chat().EnsureSiteUser({"erin", false}, done); }).status.code() ==
        util::Code::kStorageFull);
  CHECK(d.SyncStatus([&](auto done) { d.b.chat().Ping(done); }).ok());
}
TEST_CASE_TEMPLATE_APPLY(accounts, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: the user directory finds names by prefix, in order, limit + 1", B, directory) {
  Driver<B> d;
  for (const char* name : {"bob", "Bobby", "alice", "bo.b", "carol", "BOB2", "b"}) d.User(name);
  auto search = [&](const std::string& prefix, int limit) {
    auto r = d.template Sync<std::vector<UserInfo>>([&](auto done) { d.b.chat().SearchUsers({prefix, limit}, done); });
    REQUIRE(r.status.ok());
    std::vector<std::string> names;
    for (const auto& u : r.value) names.push_back(u.name);
    return names;
  };
  // ASCII case is ignored, as names are unique ignoring it; '.' is no wildcard.
  CHECK(search("BO", 20) == std::vector<std::string>{"bo.b", "bob", "BOB2", "Bobby"});
  CHECK(search("bob", 20) == std::vector<std::string>{"bob", "BOB2", "Bobby"});
  CHECK(search("bo.", 20) == std::vector<std::string>{"bo.b"});
  CHECK(search("bo%", 20).empty());
  CHECK(search("zed", 20).empty());
  // limit + 1 answers, so the caller can say there are more.
  CHECK(search("b", 2) == std::vector<std::string>{"b", "bo.b", "bob"});
  CHECK(search("", 3) == std::vector<std::string>{"alice", "b", "bo.b", "bob"});
}
TEST_CASE_TEMPLATE_APPLY(directory, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: a user's conversations, newest message first, rooms since joining", B, convs) {
  Driver<B> d;
  UserInfo alice = d.User("alice"), bob = d.User("bob"), carol = d.User("carol");
  auto list = [&](const UserInfo& u, int limit = 100) {
    auto r = d.template Sync<std::vector<store::ConversationSummary>>(
        [&](auto done) { d.b.chat().Conversations({u.id, limit}, done); });
    REQUIRE(r.status.ok());
    return r.value;
  };
  CHECK(list(alice).empty());
  Mid to_bob = d.SendOk(alice, "bob", "hi bob");
  REQUIRE(d.Join(carol, "general").status.ok());
  d.SendOk(carol, "", "before alice joined", "general");
  REQUIRE(d.Join(alice, "general").status.ok());
  REQUIRE(d.Join(alice, "quiet", true).status.ok());
  Mid from_carol = d.SendOk(carol, "alice", "hi alice");
  auto got = list(alice);
  REQUIRE(got.size() == 4);
  CHECK(got[0].with == "carol");
  CHECK(got[0].last_mid == from_carol);
  REQUIRE(got[0].last);
  CHECK(got[0].last->find("\"text\":\"hi alice\"") != std::string::npos);
  CHECK(got[1].with == "bob");
  CHECK(got[1].last_mid == to_bob);
  // A room's messages from before the user joined are not theirs: none yet, listed after.
  CHECK(got[2].room == "general");
  CHECK(got[2].last == nullptr);
  CHECK(got[3].room == "quiet");
  CHECK(got[3].is_private);
  Mid later = d.SendOk(carol, "", "now alice sees it", "general");
  got = list(alice, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[0].room == "general");
  CHECK(got[0].last_mid == later);
  CHECK(got[1].with == "carol");
  // bob has one conversation; a user with none has an empty list.
  got = list(bob);
  REQUIRE(got.size() == 1);
  CHECK(got[0].with == "alice");
  CHECK(list(d.User("dave")).empty());
}
TEST_CASE_TEMPLATE_APPLY(convs, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: a room's members by name, for members only", B, members) {
  Driver<B> d;
  UserInfo zoe = d.User("zoe"), adam = d.User("Adam"), bea = d.User("bea"), out = d.User("out");
  REQUIRE(d.Join(zoe, "crew").status.ok());
  REQUIRE(d.Join(adam, "crew").status.ok());
  REQUIRE(d.Join(bea, "crew").status.ok());
  auto members = [&](const UserInfo& u, const std::string& room) {
    return d.template Sync<std::vector<UserInfo>>([&](auto done) { d.b.chat().Members({u, room}, done); });
  };
  auto r = members(zoe, "CREW");
  REQUIRE(r.status.ok());
  std::vector<std::string> names;
  for (const auto& u : r.value) names.push_back(u.name);
  CHECK(names == std::vector<std::string>{"Adam", "bea", "zoe"});
  CHECK(members(out, "crew").status.code() == util::Code::kForbidden);
  CHECK(members(zoe, "nowhere").status.code() == util::Code::kNotFound);
  REQUIRE(d.template Sync<store::RoomInfo>([&](auto done) { d.b.chat().Leave({adam, "crew"}, done); }).status.ok());
  CHECK(members(zoe, "crew").value.size() == 2);
}
TEST_CASE_TEMPLATE_APPLY(members, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: sending, the same frames, dedupe, refusals", B, sending) {
  Driver<B> d;
  UserInfo alice = d.User("alice"), bob = d.User("bob"), root = d.User("root", true);
  auto r = d.Send(alice, "BOB", "hi \"bob\"");
  REQUIRE(r.status.ok());
  CHECK(r.value.mid == 1);
  CHECK(r.value.kind == store::ConvKind::kDirect);
  CHECK(r.value.recipient.name == "bob");
  CHECK(*r.value.json == R"({"type":"message","mid":1,"from":"alice","to":"bob","text":"hi \"bob\"","ts":)" +
                             std::to_string(r.value.ts) + "}");
  auto dup = d.Send(alice, "bob", "again", "", "c1");
  CHECK(dup.value.dup);
  CHECK(dup.value.mid == 1);
  CHECK(dup.value.ts == r.value.ts);
  CHECK(d.Send(bob, "nobody", "x").status.code() == util::Code::kNotFound);
  CHECK(d.Send(alice, "*", "x").status.code() == util::Code::kForbidden);
  auto b = d.Send(root, "*", "maintenance");
  REQUIRE(b.status.ok());
  CHECK(b.value.kind == store::ConvKind::kBroadcast);
  CHECK(b.value.json->find(R"("to":"*")") != std::string::npos);
  d.b.SetFull(true);
  CHECK(d.Send(alice, "bob", "x").status.code() == util::Code::kStorageFull);
  CHECK(d.Send(alice, "bob", "again", "", "c1").value.dup);  // a resend is still answered
  d.b.SetFull(false);
  CHECK(d.SendOk(alice, "bob") == b.value.mid + 1);  // refused sends used no mid
}
TEST_CASE_TEMPLATE_APPLY(sending, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: the offline pool, acks, quota, cursor catch-up", B, pool) {
  store::MessageLimits limits;
  limits.pool_max_messages = 5;
  Driver<B> d(limits);
  UserInfo alice = d.User("alice"), bob = d.User("bob"), carol = d.User("carol");
  std::vector<Mid> to_bob;
  for (int i = 0; i < 3; ++i) to_bob.push_back(d.SendOk(i % 2 ? carol : alice, "bob"));
  Mid to_alice = d.SendOk(bob, "alice");
  CHECK(d.Pages(bob, 0, false) == to_bob);
  CHECK(d.Pages(bob, 0, false, 1) == to_bob);  // one at a time
  // An ack says, per sender, the newest of their messages it delivered: once.
  std::vector<std::pair<store::UserId, Mid>> delivered;
  CHECK(d.Ack(bob, to_bob[1], &delivered).ok());
  using Delivered = std::vector<std::pair<store::UserId, Mid>>;
  CHECK(delivered == Delivered{{alice.id, to_bob[0]}, {carol.id, to_bob[1]}});
  CHECK(d.Ack(bob, to_bob[1], &delivered).ok());
  CHECK(delivered.empty());
  CHECK(d.Pages(bob, 0, false) == std::vector<Mid>{to_bob[2]});
  // Quota: 5 undelivered; an ack frees room.
  d.SendOk(alice, "bob");
  d.SendOk(alice, "bob");
  d.SendOk(alice, "bob");
  Mid last_to_bob = d.SendOk(alice, "bob");
  CHECK(d.Send(alice, "bob", "over").status.code() == util::Code::kQuotaExceeded);
  CHECK(d.Send(alice, "carol", "other").status.ok());
  CHECK(d.Ack(bob, 1'000'000, &delivered).ok());  // capped at the last mid
  CHECK(delivered == Delivered{{alice.id, last_to_bob}});  // not the refused one, not carol's
  CHECK(d.Pages(bob, 0, false).empty());
  Mid later = d.SendOk(alice, "bob");
  CHECK(d.Pages(bob, 0, false) == std::vector<Mid>{later});
  // With a cursor: everything of bob's conversations after it, his own too.
  std::vector<Mid> bobs_all = d.Pages(bob, 0, true);
  CHECK(std::find(bobs_all.begin(), bobs_all.end(), to_alice) != bobs_all.end());
  CHECK(std::is_sorted(bobs_all.begin(), bobs_all.end()));
  CHECK(d.Pages(bob, to_alice, true, 2) == std::vector<Mid>(bobs_all.begin() + 4, bobs_all.end()));
  CHECK(d.Pages(bob, 0, true, 3, 10) == bobs_all);  // pages of one message (bytes)
}
TEST_CASE_TEMPLATE_APPLY(pool, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: rooms, membership, private rooms, member catch-up", B, rooms) {
  store::MessageLimits limits;
  limits.max_rooms_per_user = 2;
  Driver<B> d(limits);
  UserInfo ann = d.User("ann"), ben = d.User("ben"), cat = d.User("cat"), root = d.User("root", true);
  auto j = d.Join(ann, "general");
  REQUIRE(j.status.ok());
  CHECK(j.value.created);
  CHECK(*j.value.room.members == std::vector<store::UserId>{ann.id});
  Mid before_ben = d.SendOk(ann, "", "before ben", "general");
  auto j2 = d.Join(ben, "GENERAL");
  CHECK_FALSE(j2.value.created);
  CHECK(j2.value.room.name == "general");
  CHECK(j2.value.room.members->size() == 2);
  CHECK(d.Join(ben, "general").value.already_member);
  CHECK(d.Send(cat, "", "let me in", "general").status.code() == util::Code::kForbidden);
  auto sent = d.Send(ann, "", "hello room", "general");
  REQUIRE(sent.status.ok());
  CHECK(sent.value.kind == store::ConvKind::kRoom);
  CHECK(sent.value.room.members->size() == 2);
  CHECK(*sent.value.json == R"({"type":"message","mid":)" + std::to_string(sent.value.mid) +
                                R"(,"from":"ann","room":"general","text":"hello room","ts":)" +
                                std::to_string(sent.value.ts) + "}");
  // Ben sees the room from his join: pending and with a cursor.
  CHECK(d.Pages(ben, 0, false) == std::vector<Mid>{sent.value.mid});
  CHECK(d.Pages(ben, 0, true) == std::vector<Mid>{sent.value.mid});
  CHECK(d.Pages(ann, 0, false).empty());  // her own
  CHECK(d.Pages(ann, 0, true) == std::vector<Mid>{before_ben, sent.value.mid});
  // Private rooms need an invitation from a member.
  REQUIRE(d.Join(ann, "secret", true).status.ok());
  CHECK(d.Join(cat, "secret").status.code() == util::Code::kForbidden);
  auto inv = d.template Sync<store::InviteResult>([&](auto done) { d.b.chat().Invite({cat, "secret", "ben", 1}, done); });
  CHECK(inv.status.code() == util::Code::kForbidden);  // cat is not a member
  inv = d.template Sync<store::InviteResult>([&](auto done) { d.b.chat().Invite({ann, "secret", "CAT", 1}, done); });
  REQUIRE(inv.status.ok());
  CHECK(inv.value.invited.name == "cat");
  CHECK(d.Join(cat, "secret").status.ok());
  inv = d.template Sync<store::InviteResult>([&](auto done) { d.b.chat().Invite({ann, "secret", "cat", 1}, done); });
  CHECK(inv.status.code() == util::Code::kConflict);
  // Leave, and the cap on created rooms (admins exempt).
  auto left = d.template Sync<store::RoomInfo>([&](auto done) { d.b.chat().Leave({ben, "general"}, done); });
  REQUIRE(left.status.ok());
  CHECK(*left.value.members == std::vector<store::UserId>{ann.id});
  CHECK(d.template Sync<store::RoomInfo>([&](auto done) { d.b.chat().Leave({ben, "general"}, done); }).status.code() ==
        util::Code::kNotFound);
  CHECK(d.Join(ann, "third").status.code() == util::Code::kQuotaExceeded);
  CHECK(d.Join(root, "r1").status.ok());
  CHECK(d.Join(root, "r2").status.ok());
  CHECK(d.Join(root, "r3").status.ok());
  d.b.SetFull(true);
  CHECK(d.Join(cat, "general").status.code() == util::Code::kStorageFull);
}
TEST_CASE_TEMPLATE_APPLY(rooms, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: history pages backwards, bounded by count and bytes", B, history) {
  Driver<B> d;
  UserInfo alice = d.User("alice"), bob = d.User("bob"), carol = d.User("carol");
  std::vector<Mid> ab;
  for (int i = 0; i < 57; ++i) {
    ab.push_back(d.SendOk(i % 3 ? alice : bob, i % 3 ? "bob" : "alice", std::string(100, 'a' + i % 26)));
    if (i % 10 == 0) d.SendOk(carol, "alice");
  }
  CHECK(d.AllHistory(alice, "bob", "", 10) == ab);
  CHECK(d.AllHistory(bob, "alice", "", 200) == ab);
  auto bytes = d.History(alice, "bob", "", 0, 50, 300);  // ~170 bytes a message: 2
  REQUIRE(bytes.status.ok());
  CHECK(bytes.value.messages.size() == 2);
  CHECK(bytes.value.more);
  CHECK(bytes.value.messages.back()->find("\"mid\":" + std::to_string(ab.back())) != std::string::npos);
  auto never = d.History(bob, "carol", "", 0, 10);
  REQUIRE(never.status.ok());
  CHECK(never.value.messages.empty());
  CHECK_FALSE(never.value.more);
  CHECK(d.History(bob, "ghost", "", 0, 10).status.code() == util::Code::kNotFound);
  REQUIRE(d.Join(alice, "room").status.ok());
  CHECK(d.History(bob, "", "room", 0, 10).status.code() == util::Code::kForbidden);
  CHECK(d.History(bob, "", "nowhere", 0, 10).status.code() == util::Code::kNotFound);
}
TEST_CASE_TEMPLATE_APPLY(history, Backends);

TEST_CASE_TEMPLATE_DEFINE("chat store: read markers, unread counts, a user's state", B, markers) {
  Driver<B> d;
  UserInfo alice = d.User("alice"), bob = d.User("bob"), root = d.User("root", true);
  REQUIRE(d.Join(bob, "Zeta").status.ok());
  REQUIRE(d.Join(bob, "alpha").status.ok());
  REQUIRE(d.Join(alice, "alpha").status.ok());
  Mid m1 = d.SendOk(alice, "bob");
  Mid m2 = d.SendOk(alice, "bob");
  d.SendOk(bob, "alice");
  d.SendOk(alice, "", "x", "alpha");
  Mid n = d.SendOk(root, "*", "notice");
  store::UserState s = d.State(bob);
  REQUIRE(s.rooms.size() == 2);
  CHECK(s.rooms[0].name == "alpha");  // sorted ignoring case
  CHECK(s.rooms[1].name == "Zeta");
  REQUIRE(s.partners.size() == 1);
  CHECK(s.partners[0].name == "alice");
  CHECK(Unread(s, "alice") == 2);
  CHECK(Unread(s, "#alpha") == 1);
  CHECK(Unread(s, "!notifications") == 1);
  auto read = d.template Sync<store::ReadResult>([&](auto done) { d.b.chat().Read({bob, "alice", "", m1, 1}, done); });
  REQUIRE(read.status.ok());
  CHECK(read.value.kind == store::ConvKind::kDirect);
  CHECK(read.value.peer.name == "alice");
  CHECK(read.value.upto == m1);
  CHECK(Unread(d.State(bob), "alice") == 1);
  read = d.template Sync<store::ReadResult>([&](auto done) { d.b.chat().Read({bob, "alice", "", 1, 1}, done); });
  CHECK(read.value.upto == m1);  // never backwards
  read = d.template Sync<store::ReadResult>([&](auto done) { d.b.chat().Read({bob, "alice", "", 1'000'000, 1}, done); });
  CHECK(read.value.upto == n);  // capped at the last mid
  CHECK(Unread(d.State(bob), "alice") == 0);
  read = d.template Sync<store::ReadResult>(
      [&](auto done) { d.b.chat().Read({bob, "", "!notifications", n, 1}, done); });
  CHECK(read.value.kind == store::ConvKind::kBroadcast);
  CHECK(Unread(d.State(bob), "!notifications") == 0);
  CHECK(d.template Sync<store::ReadResult>([&](auto done) { d.b.chat().Read({root, "bob", "", m2, 1}, done); })
            .status.code() == util::Code::kNotFound);  // no conversation
  CHECK(d.template Sync<store::ReadResult>([&](auto done) { d.b.chat().Read({root, "", "alpha", m2, 1}, done); })
            .status.code() == util::Code::kForbidden);
  // A user made after a broadcast does not get it.
  UserInfo late = d.User("late");
  CHECK(d.Pages(late, 0, false).empty());
  CHECK(Unread(d.State(late), "!notifications") == 0);
  CHECK(d.Pages(alice, 0, false) == std::vector<Mid>{m2 + 1, n});  // bob's reply and the notice
}
TEST_CASE_TEMPLATE_APPLY(markers, Backends);
