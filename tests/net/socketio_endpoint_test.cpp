// SPDX-License-Identifier: MIT
// SocketIoEndpoint over HTTP long-polling, driven step by step: the real core (ChatService on
// MemoryChatStore) behind it, a recording HTTP side in front, a manual clock. The real
// socket.io clients are run against the real binary in tests/socketio; this pins what they
// cannot show: when a message counts as delivered, what a lost poll answer does, timeouts.
#include "net/socketio_endpoint.h"

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "auth/crypto.h"
#include "auth/hash_pool.h"
#include "core/auth_service.h"
#include "store/memory_chat_store.h"

using namespace chatd;

namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";

struct RecordingResponder : net::PollResponder {
  std::map<uint64_t, net::PollAnswer> answers;
  std::set<uint64_t> woken;
  void Answer(uint64_t rid, net::PollAnswer a) override {
    answers[rid] = std::move(a);
    woken.erase(rid);
  }
  void Wake(uint64_t rid) override { woken.insert(rid); }
};

config::Config Settings(bool trust_uid = false) {
  config::Config c;
  c.socketio_trust_uid = trust_uid;
  c.allowed_origins = {"http://site.example"};
  c.socketio_ping_interval = 25;
  c.socketio_ping_timeout = 20;
  return c;
}

struct Harness {
  config::Config cfg;
  util::ManualClock clock;
  util::CompletionQueue completions;
  store::MemoryChatStore store{&completions};
  auth::HashPool hashes{&completions, 1};
  core::AuthService auth{core::AuthOptions{true, 30, kSecret, false}, &store, &hashes, &clock};
  net::WsEndpoint ws{cfg};
  net::SocketIoEndpoint sio{cfg, &ws, &clock};
  core::ChatService service{core::ServiceOptions{}, &auth, &store, &sio, &clock};
  RecordingResponder http;
  uint64_t next_rid = 1;

  explicit Harness(config::Config c = Settings()) : cfg(std::move(c)) {
    (void)auth::InitCrypto();
    sio.Attach(&service, &http);
  }

  void Settle() {
    for (int i = 0; i < 100 && completions.Drain() > 0; ++i) {
    }
  }

  net::PollRequest Request(const std::string& method, const std::string& query, std::string body = "",
                           std::string origin = "") {
    net::PollRequest r;
    r.method = method;
    for (size_t pos = 0; pos < query.size();) {
      size_t amp = query.find('&', pos);
      std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      size_t eq = part.find('=');
      r.query.emplace_back(part.substr(0, eq), eq == std::string::npos ? "" : part.substr(eq + 1));
      pos = amp == std::string::npos ? query.size() : amp + 1;
    }
    r.body = std::move(body);
    r.origin = std::move(origin);
    r.host = "chat.example:8080";
    r.peer = "127.0.0.1";
    return r;
  }

  // A request answered at once; its answer.
  net::PollAnswer Now(net::PollRequest req) {
    uint64_t rid = next_rid++;
    sio.OnPoll(rid, std::move(req));
    Settle();
    REQUIRE_MESSAGE(http.answers.count(rid), "not answered at once");
    return http.answers[rid];
  }

  // The handshake; returns the sid.
  std::string Open(int eio) {
    net::PollAnswer a = Now(Request("GET", "EIO=" + std::to_string(eio) + "&transport=polling" + (eio == 3 ? "&b64=1" : "")));
    REQUIRE(a.status == 200);
    size_t at = a.body.find("\"sid\":\"");
    REQUIRE(at != std::string::npos);
    return a.body.substr(at + 7, 20);
  }

  // Revision 3 sessions here ask for b64=1 (text answers); the binary form has its own case.
  std::string Q(int eio, const std::string& sid) {
    return "EIO=" + std::to_string(eio) + "&transport=polling&sid=" + sid + (eio == 3 ? "&b64=1" : "");
  }

  void Post(int eio, const std::string& sid, const std::string& body) {
    net::PollAnswer a = Now(Request("POST", Q(eio, sid), body));
    REQUIRE(a.status == 200);
    CHECK(a.body == "ok");
  }

  // Opens a GET; returns its id (it may wait).
  uint64_t Get(int eio, const std::string& sid) {
    uint64_t rid = next_rid++;
    sio.OnPoll(rid, Request("GET", Q(eio, sid)));
    Settle();
    return rid;
  }

  // What the GET says once it was woken ("" while it waits); `written` reports it written.
  std::string Take(uint64_t rid, bool written = true) {
    if (http.answers.count(rid)) return http.answers[rid].body;
    if (!http.woken.count(rid)) return "";
    http.woken.erase(rid);
    net::PollAnswer a = sio.TakePoll(rid);
    if (written) {
      sio.PollWritten(rid);
    } else {
      sio.PollGone(rid);
    }
    Settle();
    return a.body;
  }

  std::string Token(const std::string& user) {
    return auth::SignSiteToken(user, clock.NowMs() / 1000 + 3600, kSecret);
  }

  // A core session of our own (not socket.io: its frames go nowhere) logged in as `user`.
  void CoreLogin(core::SessionId sid, const std::string& user) {
    service.OnOpen(sid, core::OpenInfo{"127.0.0.1", ""});
    service.OnFrame(sid, R"({"type":"hello","id":1,"token":")" + Token(user) + "\"}");
    Settle();
  }
  void Say(core::SessionId sid, const std::string& cid, const std::string& to, const std::string& text) {
    service.OnFrame(sid, R"({"type":"send","id":2,"cid":")" + cid + R"(","to":")" + to + R"(","text":")" + text + "\"}");
    Settle();
  }

  // A revision 4 session, connected and logged in as `user`; returns its sid.
  std::string LoggedIn(const std::string& user) {
    std::string sid = Open(4);
    Post(4, sid, "40\x1e" "42[\"login\",\"" + Token(user) + "\"]");
    std::string got = Take(Get(4, sid));
    REQUIRE_MESSAGE(got.find("40{\"sid\":") == 0, got);
    REQUIRE_MESSAGE(got.find("42[\"update_online_count\",") != std::string::npos, got);
    return sid;
  }
};

}  // namespace

TEST_CASE("socketio endpoint: revision 4 connects, logs in with a site token, gets new_msg escaped") {
  Harness h;
  std::string sid = h.Open(4);
  h.Post(4, sid, "40\x1e" "420[\"login\",\"" + h.Token("bob") + "\"]");
  std::string got = h.Take(h.Get(4, sid));
  CHECK(got.find("40{\"sid\":\"") == 0);
  CHECK(got.find("430[{\"ok\":true,\"user\":\"bob\"}]") != std::string::npos);
  CHECK(got.find("42[\"update_online_count\",\"\xe5\xbd\x93\xe5\x89\x8d<b>1</b>") != std::string::npos);

  h.CoreLogin(1, "alice");
  uint64_t rid = h.Get(4, sid);
  CHECK(h.Take(rid).empty());  // nothing yet: the GET waits
  h.Say(1, "c1", "bob", "<img src=x onerror=alert(1)> & 'q'");
  CHECK(h.Take(rid) == "42[\"new_msg\",\"&lt;img src=x onerror=alert(1)&gt; &amp; &#039;q&#039;\"]");
}

TEST_CASE("socketio endpoint: a message is acked once its poll answer was written, and resent when it was lost") {
  Harness h;
  std::string sid = h.LoggedIn("bob");
  h.CoreLogin(1, "alice");
  h.Say(1, "c1", "bob", "first");
  uint64_t rid = h.Get(4, sid);
  CHECK(h.Take(rid, /*written=*/false).find("first") != std::string::npos);  // the connection broke
  std::string again = h.Take(h.Get(4, sid));
  CHECK(again.find("first") != std::string::npos);  // at least once
  h.Say(1, "c2", "bob", "second");
  uint64_t rid2 = h.Get(4, sid);
  CHECK(h.http.woken.count(rid2));
  h.Post(4, sid, "1");  // the page closes before that answer is taken: "second" is not acked

  // The next login gets what was never written, and not what was.
  std::string sid2 = h.Open(4);
  h.Post(4, sid2, "40\x1e" "42[\"login\",\"" + h.Token("bob") + "\"]");
  std::string got;
  for (int i = 0; i < 3 && got.find("new_msg") == std::string::npos; ++i) got += h.Take(h.Get(4, sid2));
  CHECK(got.find("second") != std::string::npos);
  CHECK(got.find("first") == std::string::npos);
}

TEST_CASE("socketio endpoint: a bare uid is refused unless socketio-trust-uid is on") {
  Harness off;
  std::string sid = off.Open(4);
  off.Post(4, sid, "40\x1e" "42[\"login\",1445590039000]");
  std::string got = off.Take(off.Get(4, sid));
  CHECK(got.find("42[\"login_error\",{\"code\":\"unauthorized\"") != std::string::npos);
  CHECK(got.size() > 3);
  CHECK(got.substr(got.size() - 3) == "\x1e" "41");  // socket.io's disconnect last ...
  CHECK(off.service.presence().users() == 0);
  CHECK(off.sio.size() == 1);
  // ... and Engine.IO's close in an answer of its own (4.x clients act on it at once and
  // would drop what came in the same answer).
  CHECK(off.Take(off.Get(4, sid)) == "1");
  CHECK(off.sio.size() == 0);  // freed once that answer was written

  Harness on(Settings(true));
  sid = on.Open(3);
  on.Post(3, sid, "25:42[\"login\",1445590039000]");
  got = on.Take(on.Get(3, sid));
  CHECK(got.find("42[\"update_online_count\"") != std::string::npos);
  CHECK(on.service.presence().users() == 1);
  on.Post(3, sid, "1:2");  // a revision 3 heartbeat
  CHECK(on.Take(on.Get(3, sid)) == "1:3");
}

TEST_CASE("socketio endpoint: revision 3's handshake carries the namespace connect, in text or binary form") {
  Harness h;
  net::PollAnswer a = h.Now(h.Request("GET", "EIO=3&transport=polling&t=N1&b64=1"));
  CHECK(a.status == 200);
  CHECK(a.content_type == "text/plain; charset=UTF-8");
  CHECK(a.body.find(":0{\"sid\":\"") != std::string::npos);
  CHECK(a.body.find("\"pingInterval\":25000,\"pingTimeout\":20000}2:40") != std::string::npos);
  CHECK(a.body.find("maxPayload") == std::string::npos);
  // Without b64=1 (what a 1.x client in a browser asks): the binary form.
  a = h.Now(h.Request("GET", "EIO=3&transport=polling&t=N2"));
  CHECK(a.content_type == "application/octet-stream");
  REQUIRE(a.body.size() > 8);
  CHECK(a.body[0] == '\0');
  size_t ff = a.body.find('\xff');
  REQUIRE(ff != std::string::npos);
  std::string digits;
  for (size_t i = 1; i < ff; ++i) digits.push_back(static_cast<char>('0' + a.body[i]));
  size_t open_len = std::stoul(digits);
  CHECK(a.body.substr(ff + 1, 8) == "0{\"sid\":");
  CHECK(a.body.substr(ff + 1 + open_len) == std::string("\0\x02\xff" "40", 5));
}

TEST_CASE("socketio endpoint: a session never picked up is freed after interval plus timeout") {
  Harness h;
  std::string sid = h.Open(4);
  CHECK(h.sio.size() == 1);
  h.clock.Advance(44'000);
  h.sio.Tick();
  CHECK(h.sio.size() == 1);
  h.clock.Advance(2'000);
  h.sio.Tick();
  CHECK(h.sio.size() == 0);
  net::PollAnswer a = h.Now(h.Request("GET", h.Q(4, sid)));
  CHECK(a.status == 400);
  CHECK(a.body == R"({"code":1,"message":"Session ID unknown"})");
}

TEST_CASE("socketio endpoint: revision 4 pings on its interval and keeps a session that answers") {
  Harness h;
  std::string sid = h.LoggedIn("bob");
  for (int round = 0; round < 3; ++round) {
    uint64_t rid = h.Get(4, sid);
    h.clock.Advance(25'000);
    h.sio.Tick();
    CHECK(h.Take(rid) == "2");
    h.Post(4, sid, "3");
  }
  CHECK(h.sio.size() == 1);
  CHECK(h.service.presence().users() == 1);
}

TEST_CASE("socketio endpoint: CORS and bad requests get Engine.IO's answers") {
  Harness h;
  net::PollAnswer a = h.Now(h.Request("GET", "EIO=4&transport=polling", "", "http://evil.example"));
  CHECK(a.status == 403);
  CHECK(a.body.find("\"code\":4") != std::string::npos);
  a = h.Now(h.Request("GET", "EIO=4&transport=polling", "", "http://site.example"));
  CHECK(a.status == 200);
  auto has = [&](const std::string& header) {
    for (const auto& x : a.headers) {
      if (x == header) return true;
    }
    return false;
  };
  CHECK(has("access-control-allow-origin: http://site.example"));
  CHECK(has("access-control-allow-credentials: true"));
  a = h.Now(h.Request("OPTIONS", "EIO=4&transport=polling", "", "http://site.example"));
  CHECK(a.status == 204);
  CHECK(has("access-control-allow-methods: GET, POST, OPTIONS"));

  CHECK(h.Now(h.Request("GET", "EIO=2&transport=polling")).body == R"({"code":5,"message":"Unsupported protocol version"})");
  CHECK(h.Now(h.Request("GET", "EIO=4&transport=flash")).body == R"({"code":0,"message":"Transport unknown"})");
  CHECK(h.Now(h.Request("GET", "EIO=3&transport=polling&j=0")).status == 400);
  CHECK(h.Now(h.Request("POST", "EIO=4&transport=polling")).body == R"({"code":3,"message":"Bad handshake method"})");
  std::string sid = h.Open(4);
  a = h.Now(h.Request("POST", h.Q(4, sid), "\x1e\x1e"));
  CHECK(a.status == 400);
}

TEST_CASE("socketio endpoint: other namespaces get a CONNECT_ERROR, binary events close the session") {
  Harness h;
  std::string sid = h.Open(4);
  h.Post(4, sid, "40/admin,");
  CHECK(h.Take(h.Get(4, sid)) == R"(44/admin,{"message":"Invalid namespace"})");
  h.Post(4, sid, R"(451-["x",{"_placeholder":true,"num":0}])");
  CHECK(h.Take(h.Get(4, sid)) == "1");
  CHECK(h.sio.size() == 0);
}
