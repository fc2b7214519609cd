// SPDX-License-Identifier: MIT
// A site's notifications, API keys and delivery status, on a real Engine (SQLite and RocksDB
// files in a temporary folder).
#include <doctest/doctest.h>

#include <algorithm>

#include "auth/crypto.h"
#include "store/accounts.h"
#include "store/api_keys.h"
#include "store/catch_up_reader.h"
#include "store/engine.h"
#include "store/history_cache.h"
#include "store/message_store.h"
#include "store/room_store.h"
#include "store/sqlite_db.h"
#include "store/webhook_queue.h"
#include "store/engine_fixture.h"
#include "test_util.h"

using namespace chatd;
using chatd::testing::TempDir;

namespace {

struct Fixture : chatd::testing::EngineFixture {
  using EngineFixture::EngineFixture;

  util::Status Publish(store::PublishRequest req, store::PublishResult* out, const std::string& key = "site") {
    req.ts = clock.NowMs();
    return InBatch([&] { return ms().Publish(req, key, engine->storage_full(), out); });
  }
  store::PublishResult PublishOk(std::vector<std::string> to, const std::string& text, const std::string& cid = "") {
    store::PublishRequest req;
    req.to = std::move(to);
    req.everyone = req.to.size() == 1 && req.to[0] == "*";
    if (req.everyone) req.to.clear();
    req.title = "Title";
    req.text = text;
    req.data = R"({"url":"/inbox"})";
    req.cid = cid;
    store::PublishResult r;
    REQUIRE(Publish(req, &r).ok());
    return r;
  }
  store::Mid SendOk(const store::UserInfo& from, const std::string& to, const std::string& room = "") {
    store::SendResult r;
    store::SendRequest req{from, "c" + std::to_string(++cids), to, room, "text", clock.NowMs()};
    REQUIRE(InBatch([&] { return ms().Send(req, false, clock.NowMs(), &r); }).ok());
    return r.mid;
  }
  void ReadFeed(const store::UserInfo& u, store::Mid upto) {
    store::ReadResult r;
    REQUIRE(InBatch([&] { return engine->rooms().Read(u, "", "!notifications", upto, clock.NowMs(), &r); }).ok());
  }
  // The mids of a history page of the user's "!notifications" feed, oldest first.
  std::vector<store::Mid> Feed(const store::UserInfo& u, store::Mid before = 0, int limit = 50, bool* more = nullptr) {
    store::HistoryResult h;
    REQUIRE(ms().History(u, "", "!notifications", before, limit, &h).ok());
    if (more) *more = h.more;
    std::vector<store::Mid> mids;
    for (auto& m : h.messages) mids.push_back(std::stoll(m->substr(m->find("\"mid\":") + 6)));
    return mids;
  }
  int64_t FeedUnread(const store::UserInfo& u) {
    store::UserState st;
    REQUIRE(engine->rooms().LoadUserState(u.id, &st).ok());
    for (auto& [name, n] : st.unread) {
      if (name == "!notifications") return n;
    }
    return 0;
  }
};

}  // namespace

TEST_CASE("publish: a notification to a user is stored once, sent as a notification frame, only to them") {
  Fixture f;
  store::PublishResult r = f.PublishOk({"BOB"}, "you have mail <b>");
  CHECK(r.mid == 1);
  CHECK_FALSE(r.dup);
  CHECK(r.key_name == "site");
  REQUIRE(r.recipients.size() == 1);
  CHECK(r.recipients[0].name == "bob");
  REQUIRE(r.json);
  CHECK(*r.json == R"({"type":"notification","mid":1,"title":"Title","text":"you have mail <b>","data":{"url":"/inbox"},"ts":)" +
                       std::to_string(f.clock.NowMs()) + "}");
  // Offline pool: bob's next login without a cursor gets it, with the same frame; nobody else.
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{1});
  CHECK(f.Pending(f.alice).empty());
  store::FetchResult page;
  REQUIRE(f.engine->pages().FetchPending(f.bob.id, 0, 10, &page).ok());
  REQUIRE(page.messages.size() == 1);
  CHECK(*page.messages[0].json == *r.json);
  // Acked like a message.
  f.Ack(f.bob, 1);
  CHECK(f.Pending(f.bob).empty());
}

TEST_CASE("publish: notifications come in a cursor catch-up in mid order with messages, from cache or SQLite") {
  for (bool cache : {true, false}) {
    CAPTURE(cache);
    Fixture f;
    // Without the cache: its disk is full, so it falls behind and SQLite answers.
    chatd::testing::ArmedFaults faults(cache ? "" : "history-write");
    store::Mid m1 = f.SendOk(f.alice, "bob");
    store::Mid n1 = f.PublishOk({"bob"}, "one").mid;
    store::Mid m2 = f.SendOk(f.alice, "bob");
    store::Mid n2 = f.PublishOk({"bob", "carol"}, "two").mid;
    store::Mid other = f.PublishOk({"carol"}, "not bob's").mid;
    CHECK(f.engine->history().usable() == cache);
    std::vector<store::Mid> want{m1, n1, m2, n2};
    CHECK(f.Since(f.bob, 0) == want);
    CHECK(f.Since(f.bob, n1) == std::vector<store::Mid>{m2, n2});
    CHECK(f.Since(f.carol, 0) == std::vector<store::Mid>{n2, other});
    // Paged: two at a time, no gap and no repeat.
    std::vector<store::Mid> paged;
    store::Mid cursor = 0;
    for (int i = 0; i < 5; ++i) {
      store::FetchResult r;
      REQUIRE(f.engine->pages().FetchSince(f.bob.id, cursor, 2, &r).ok());
      for (auto& m : r.messages) paged.push_back(m.mid);
      if (r.complete) break;
      cursor = r.next;
    }
    CHECK(paged == want);
  }
}

TEST_CASE("publish: the notification cache is never used for per-user notifications, even after a rebuild") {
  Fixture f;
  f.PublishOk({"bob"}, "secret to bob");
  REQUIRE(f.engine->RebuildHistory().ok());
  CHECK(f.engine->history().high_water() == 1);
  std::vector<store::HistoryCache::Entry> entries;
  // Nothing of it is in any conversation of the cache: alice cannot page it through one.
  for (store::ConvId conv = 1; conv < 10; ++conv) {
    REQUIRE(f.engine->history().Range(conv, 0, 10, &entries).ok());
    CHECK(entries.empty());
  }
  CHECK(f.Since(f.alice, 0).empty());
  CHECK(f.Since(f.bob, 0) == std::vector<store::Mid>{1});
}

TEST_CASE("publish: to everyone goes to the broadcast feed, a room goes to its members") {
  Fixture f;
  store::PublishResult all = f.PublishOk({"*"}, "maintenance tonight");
  CHECK(all.everyone);
  CHECK(all.recipients.empty());
  for (auto* u : {&f.alice, &f.bob, &f.carol}) CHECK(f.Pending(*u) == std::vector<store::Mid>{all.mid});
  CHECK(f.Since(f.alice, 0) == std::vector<store::Mid>{all.mid});
  store::JoinResult j;
  REQUIRE(f.InBatch([&] { return f.engine->rooms().Join(f.alice, "team", false, 1, &j); }).ok());
  REQUIRE(f.InBatch([&] { return f.engine->rooms().Join(f.bob, "team", false, 1, &j); }).ok());
  store::PublishRequest req;
  req.room = "TEAM";
  req.text = "standup";
  store::PublishResult room;
  REQUIRE(f.Publish(req, &room).ok());
  std::vector<std::string> names;
  for (auto& u : room.recipients) names.push_back(u.name);
  CHECK(names == std::vector<std::string>{"alice", "bob"});
  CHECK(f.Pending(f.carol) == std::vector<store::Mid>{all.mid});
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{all.mid, room.mid});
  req.room = "nope";
  CHECK(f.Publish(req, &room).code() == util::Code::kNotFound);
}

TEST_CASE("publish: unknown names are refused and listed, nothing stored, the same cid is one notification") {
  Fixture f;
  store::PublishRequest req;
  req.to = {"bob", "zed@example.com", "42"};
  req.text = "hi";
  store::PublishResult r;
  util::Status s = f.Publish(req, &r);
  CHECK(s.code() == util::Code::kNotFound);
  CHECK(r.unknown == std::vector<std::string>{"zed@example.com", "42"});
  CHECK(s.message().find("zed@example.com") != std::string::npos);
  CHECK(f.ms().last_mid() == 0);
  // Idempotent: a retry with the cid gets the first mid and its recipients.
  req.to = {"bob", "alice", "Bob"};
  req.cid = "order-17";
  store::PublishResult first, again;
  REQUIRE(f.Publish(req, &first).ok());
  CHECK(first.recipients.size() == 2);  // bob once
  REQUIRE(f.Publish(req, &again).ok());
  CHECK(again.dup);
  CHECK(again.mid == first.mid);
  CHECK_FALSE(again.json);
  std::vector<std::string> names;
  for (auto& u : again.recipients) names.push_back(u.name);
  CHECK(names == std::vector<std::string>{"alice", "bob"});
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{first.mid});
  // Cids are per key: another key's "order-17" is another notification.
  store::PublishResult other;
  REQUIRE(f.Publish(req, &other, "shop").ok());
  CHECK_FALSE(other.dup);
  CHECK(other.mid != first.mid);
  // ...also after a restart.
  f.Open();
  REQUIRE(f.Publish(req, &again).ok());
  CHECK(again.dup);
  CHECK(again.mid == first.mid);
}

TEST_CASE("publish: a full pool refuses that recipient only, all full is quota_exceeded") {
  store::EngineOptions o;
  o.pool_max_messages = 2;
  Fixture f(o);
  f.PublishOk({"bob"}, "1");
  f.PublishOk({"bob"}, "2");
  store::PublishResult r = f.PublishOk({"bob", "carol"}, "3");
  CHECK(r.refused == std::vector<std::string>{"bob"});
  REQUIRE(r.recipients.size() == 1);
  CHECK(r.recipients[0].name == "carol");
  store::PublishRequest req;
  req.to = {"bob"};
  req.text = "4";
  CHECK(f.Publish(req, &r).code() == util::Code::kQuotaExceeded);
  f.Ack(f.bob, f.ms().last_mid());
  CHECK(f.Publish(req, &r).ok());
}

TEST_CASE("publish: a full disk refuses before anything is written, a retry of a stored cid still answers") {
  Fixture f;
  store::PublishResult first = f.PublishOk({"bob"}, "one", "c1");
  f.engine->set_storage_full(true);
  store::PublishRequest req;
  req.to = {"bob"};
  req.text = "one";
  req.cid = "c1";
  store::PublishResult r;
  REQUIRE(f.Publish(req, &r).ok());
  CHECK(r.dup);
  req.cid = "c2";
  CHECK(f.Publish(req, &r).code() == util::Code::kStorageFull);
  CHECK(f.ms().last_mid() == first.mid);
}

TEST_CASE("notifications feed: unread counts broadcasts and the user's notifications, read clears both") {
  Fixture f;
  store::Mid n1 = f.PublishOk({"bob"}, "one").mid;
  store::Mid b1 = f.PublishOk({"*"}, "all").mid;
  store::Mid n2 = f.PublishOk({"bob"}, "two").mid;
  f.PublishOk({"carol"}, "carol's");
  CHECK(f.FeedUnread(f.bob) == 3);
  CHECK(f.FeedUnread(f.alice) == 1);
  CHECK(f.FeedUnread(f.carol) == 2);
  f.ReadFeed(f.bob, b1);
  CHECK(f.FeedUnread(f.bob) == 1);
  f.ReadFeed(f.bob, n2);
  CHECK(f.FeedUnread(f.bob) == 0);
  // The history of the feed: the user's and everyone's, newest last, paged back.
  CHECK(f.Feed(f.bob) == std::vector<store::Mid>{n1, b1, n2});
  CHECK(f.Feed(f.alice) == std::vector<store::Mid>{b1});
  bool more = false;
  CHECK(f.Feed(f.bob, 0, 2, &more) == std::vector<store::Mid>{b1, n2});
  CHECK(more);
  CHECK(f.Feed(f.bob, b1, 2, &more) == std::vector<store::Mid>{n1});
  CHECK_FALSE(more);
}

TEST_CASE("delivery status: queued, then delivered when a device acks, then read, for messages and notifications") {
  Fixture f;
  store::Mid m = f.SendOk(f.alice, "bob");
  store::Mid n = f.PublishOk({"bob", "carol"}, "n").mid;
  store::DeliveryReport rep;
  REQUIRE(f.ms().DeliveryStatus(m, &rep).ok());
  REQUIRE(rep.recipients.size() == 1);
  CHECK(rep.recipients[0].user == "bob");
  CHECK(rep.recipients[0].delivered_at == 0);
  CHECK(rep.recipients[0].read_at == 0);
  f.clock.Advance(1000);
  f.Ack(f.bob, n);
  REQUIRE(f.ms().DeliveryStatus(m, &rep).ok());
  CHECK(rep.recipients[0].delivered_at == f.clock.NowMs());
  CHECK(rep.recipients[0].read_at == 0);
  REQUIRE(f.ms().DeliveryStatus(n, &rep).ok());
  REQUIRE(rep.recipients.size() == 2);
  CHECK(rep.recipients[0].user == "bob");
  CHECK(rep.recipients[0].delivered);
  CHECK(rep.recipients[1].user == "carol");
  CHECK_FALSE(rep.recipients[1].delivered);
  f.clock.Advance(1000);
  store::ReadResult rr;
  REQUIRE(f.InBatch([&] { return f.engine->rooms().Read(f.bob, "alice", "", m, f.clock.NowMs(), &rr); }).ok());
  f.ReadFeed(f.bob, n);
  REQUIRE(f.ms().DeliveryStatus(m, &rep).ok());
  CHECK(rep.recipients[0].read_at == f.clock.NowMs());
  REQUIRE(f.ms().DeliveryStatus(n, &rep).ok());
  CHECK(rep.recipients[0].read_at == f.clock.NowMs());
  CHECK(rep.recipients[1].read_at == 0);
  CHECK(f.ms().DeliveryStatus(n + 100, &rep).code() == util::Code::kNotFound);
}

TEST_CASE("delivery status: rooms and broadcasts answer from the members' marks, the sender left out") {
  Fixture f;
  store::JoinResult j;
  REQUIRE(f.InBatch([&] { return f.engine->rooms().Join(f.alice, "team", false, 1, &j); }).ok());
  REQUIRE(f.InBatch([&] { return f.engine->rooms().Join(f.bob, "team", false, 1, &j); }).ok());
  store::Mid m = f.SendOk(f.alice, "", "team");
  REQUIRE(f.InBatch([&] { return f.engine->rooms().Join(f.carol, "team", false, 1, &j); }).ok());  // after it
  store::DeliveryReport rep;
  REQUIRE(f.ms().DeliveryStatus(m, &rep).ok());
  REQUIRE(rep.recipients.size() == 1);
  CHECK(rep.recipients[0].user == "bob");
  CHECK_FALSE(rep.recipients[0].delivered);
  f.Ack(f.bob, m);
  REQUIRE(f.ms().DeliveryStatus(m, &rep).ok());
  CHECK(rep.recipients[0].delivered);
  CHECK_FALSE(rep.recipients[0].read);
  store::Mid b = f.PublishOk({"*"}, "all").mid;
  f.ReadFeed(f.carol, b);
  REQUIRE(f.ms().DeliveryStatus(b, &rep).ok());
  REQUIRE(rep.recipients.size() == 4);
  std::vector<std::string> read;
  for (auto& r : rep.recipients) if (r.read) read.push_back(r.user);
  CHECK(read == std::vector<std::string>{"carol"});
}

TEST_CASE("notifications survive a restart: pool, feed history and unread") {
  Fixture f;
  store::Mid n = f.PublishOk({"bob"}, "kept").mid;
  f.Open();
  CHECK(f.Pending(f.bob) == std::vector<store::Mid>{n});
  CHECK(f.Since(f.bob, 0) == std::vector<store::Mid>{n});
  CHECK(f.Feed(f.bob) == std::vector<store::Mid>{n});
  CHECK(f.FeedUnread(f.bob) == 1);
  CHECK(f.ms().last_mid() == n);
}

TEST_CASE("api keys: checked by hash in constant time, a revoke by another connection counts at once") {
  Fixture f;
  std::unique_ptr<store::SqliteDb> admin_db;
  REQUIRE(store::SqliteDb::Open(f.dir / "chatd.db", &admin_db).ok());
  std::unique_ptr<store::ApiKeys> admin;
  REQUIRE(store::ApiKeys::Open(admin_db.get(), &admin).ok());
  std::string key = auth::NewApiKey();
  CHECK(key.rfind("chk_", 0) == 0);
  CHECK(key.size() == 47);
  std::string name;
  CHECK(f.engine->api_keys().Check(auth::TokenHash(key), &name).code() == util::Code::kUnauthorized);
  REQUIRE(admin->Add("shop", auth::TokenHash(key), 5).ok());
  CHECK(admin->Add("SHOP", auth::TokenHash(auth::NewApiKey()), 6).code() == util::Code::kConflict);
  CHECK(admin->Add("bad name", "x", 6).code() == util::Code::kBadRequest);
  REQUIRE(f.engine->api_keys().Check(auth::TokenHash(key), &name).ok());
  CHECK(name == "shop");
  CHECK(f.engine->api_keys().Check(auth::TokenHash(key + "x"), &name).code() == util::Code::kUnauthorized);
  CHECK(f.engine->api_keys().Check("", &name).code() == util::Code::kUnauthorized);
  REQUIRE(admin->Revoke("shop", 7).ok());
  CHECK(f.engine->api_keys().Check(auth::TokenHash(key), &name).code() == util::Code::kUnauthorized);
  CHECK(admin->Revoke("nope", 7).code() == util::Code::kNotFound);
  std::vector<store::ApiKeyInfo> keys;
  REQUIRE(admin->List(&keys).ok());
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].name == "shop");
  CHECK(keys[0].created_at == 5);
  CHECK(keys[0].revoked_at == 7);
}

TEST_CASE("webhook queue: a check fires only while unacked, ids never repeat, a full queue drops the oldest") {
  store::EngineOptions o;
  o.webhooks = true;
  o.undelivered_after_ms = 1000;
  Fixture f(o);
  REQUIRE(f.engine->webhooks());
  store::Mid acked = f.SendOk(f.alice, "bob");
  store::Mid unacked = f.SendOk(f.alice, "carol");
  store::Mid notice = f.PublishOk({"carol"}, "n").mid;
  f.Ack(f.bob, acked);
  // The sender's side: its own connection.
  std::unique_ptr<store::SqliteDb> db;
  REQUIRE(store::SqliteDb::Open(f.dir / "chatd.db", &db).ok());
  std::unique_ptr<store::WebhookQueue> q;
  REQUIRE(store::WebhookQueue::Open(db.get(), nullptr, &q).ok());
  int made = 0;
  REQUIRE(q->MakeDueEvents(f.clock.NowMs(), 100, &made).ok());
  CHECK(made == 0);  // not due yet
  f.clock.Advance(1000);
  REQUIRE(q->MakeDueEvents(f.clock.NowMs(), 100, &made).ok());
  CHECK(made == 2);
  std::vector<store::WebhookEvent> due;
  REQUIRE(q->Due(f.clock.NowMs(), 10, &due).ok());
  REQUIRE(due.size() == 2);
  CHECK(due[0].event == "message.undelivered");
  CHECK(due[0].body.find("\"mid\":" + std::to_string(unacked)) != std::string::npos);
  CHECK(due[0].body.find(R"("kind":"message","from":"alice")") != std::string::npos);
  CHECK(due[1].body.find("\"mid\":" + std::to_string(notice)) != std::string::npos);
  CHECK(due[1].body.find(R"("kind":"notification","title":"Title")") != std::string::npos);
  REQUIRE(q->MakeDueEvents(f.clock.NowMs(), 100, &made).ok());
  CHECK(made == 0);  // each check fires once
  // Sent ones go; ids keep growing after the table was empty.
  int64_t last = due[1].id;
  REQUIRE(q->Sent(due[0].id).ok());
  REQUIRE(q->Sent(due[1].id).ok());
  f.ReadFeed(f.carol, notice);  // a message.read event, from the storage thread
  REQUIRE(q->Due(f.clock.NowMs(), 10, &due).ok());
  REQUIRE(due.size() == 1);
  CHECK(due[0].event == "message.read");
  CHECK(due[0].id > last);
  CHECK(due[0].body.find(R"("data":{"user":"carol","room":"!notifications","upto":)") != std::string::npos);
  // A failed one waits for its next time.
  REQUIRE(q->Failed(due[0].id, f.clock.NowMs() + 5000).ok());
  REQUIRE(q->Due(f.clock.NowMs(), 10, &due).ok());
  CHECK(due.empty());
  REQUIRE(q->Due(f.clock.NowMs() + 5000, 10, &due).ok());
  CHECK(due.size() == 1);
  CHECK(due[0].attempts == 1);
  // Bounded: past the max the oldest are dropped and counted.
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i) {
    store::ReadResult rr;
    store::Mid m = f.SendOk(f.alice, "carol");
    REQUIRE(f.InBatch([&] { return f.engine->rooms().Read(f.carol, "alice", "", m, 1, &rr); }).ok());
  }
  int64_t waiting = 0, dropped = 0;
  REQUIRE(q->Counts(&waiting, &dropped).ok());
  CHECK(waiting == 5);  // the failed one and four reads
  CHECK(dropped == 0);
  REQUIRE(q->Due(f.clock.NowMs() + 10000, 10, &due).ok());
  for (auto& e : due) ids.push_back(e.id);
  std::sort(ids.begin(), ids.end());
  int64_t cut = 0;
  REQUIRE(q->Trim(2, &cut).ok());
  CHECK(cut == 3);
  REQUIRE(q->Counts(&waiting, &dropped).ok());
  CHECK(waiting == 2);
  CHECK(dropped == 3);
  REQUIRE(q->Due(f.clock.NowMs() + 10000, 10, &due).ok());
  std::vector<int64_t> kept;
  for (auto& e : due) kept.push_back(e.id);
  std::sort(kept.begin(), kept.end());
  CHECK(kept == std::vector<int64_t>(ids.end() - 2, ids.end()));  // the newest two
}
