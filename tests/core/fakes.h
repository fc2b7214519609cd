// SPDX-License-Identifier: MIT
// Test doubles for core: a recording Outbox, and a harness that wires a ChatService to a store
// (in memory, or the real engine) with a manual clock.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "auth/crypto.h"
#include "auth/hash_pool.h"
#include "core/auth_service.h"
#include "core/chat_service.h"
#include "proto/codec.h"
#include "store/engine_chat_store.h"
#include "store/memory_chat_store.h"
#include "store/storage_thread.h"
#include "test_util.h"

namespace chatd::testing {

class RecordingOutbox : public core::Outbox {
 public:
  bool Send(core::SessionId sid, const core::Frame& frame) override {
    if (closed.count(sid)) return false;
    sent[sid].push_back(*frame);
    if (track_queue) queued[sid] += frame->size();
    return true;
  }
  void Close(core::SessionId sid, int code, std::string_view) override { closed[sid] = code; }
  size_t Queued(core::SessionId sid) const override {
    auto it = queued.find(sid);
    return it == queued.end() ? 0 : it->second;
  }

  // With track_queue, frames count as queued until the test says they were written.
  bool track_queue = false;
  std::map<core::SessionId, size_t> queued;
  void Written(core::SessionId sid) { queued[sid] = 0; }

  // Frames sent to `sid` since the last call.
  std::vector<std::string> Take(core::SessionId sid) {
    std::vector<std::string> out;
    out.swap(sent[sid]);
    return out;
  }

  std::map<core::SessionId, std::vector<std::string>> sent;
  std::map<core::SessionId, int> closed;
};

// The store under the core: MemoryChatStore (no disk, the default), or with
// CHATD_CORE_ON_ENGINE the real EngineChatStore on SQLite and RocksDB files in a temp dir (the
// same tests, built a second time as chatd_core_engine_tests).
#ifdef CHATD_CORE_ON_ENGINE
struct StoreBackend {
  TempDir dir;
  util::ManualClock* clock;
  util::CompletionQueue* completions;
  std::unique_ptr<store::Engine> engine;
  std::unique_ptr<store::InlineStorage> storage;
  std::unique_ptr<store::EngineChatStore> chat;
  StoreBackend(util::ManualClock* c, util::CompletionQueue* q) : clock(c), completions(q) {
    engine = OpenEngine(dir, clock);
    storage = std::make_unique<store::InlineStorage>(engine.get(), completions);
    chat = std::make_unique<store::EngineChatStore>(storage.get());
  }
  // A restart of the storage side: the engine reopened on the same files, under the same store.
  void Reopen() {
    engine.reset();
    engine = OpenEngine(dir, clock);
    storage->set_engine(engine.get());
  }
  // Runs what was submitted; false when there was nothing.
  bool Step() {
    bool any = storage->Pending() != 0;
    storage->RunPending();
    return any;
  }
};
#else
struct StoreBackend {
  std::unique_ptr<store::MemoryChatStore> chat;
  StoreBackend(util::ManualClock*, util::CompletionQueue* q) : chat(std::make_unique<store::MemoryChatStore>(q)) {}
  void Reopen() {}  // memory keeps everything: a restart changes nothing
  bool Step() { return false; }
};
#endif

struct CoreHarness {
  util::ManualClock clock;
  util::CompletionQueue completions;
  StoreBackend backend{&clock, &completions};
  auth::HashPool hashes{&completions, 1};
  // The harness logs its password accounts in with site tokens: it lets site tokens be local.
  core::AuthService auth{core::AuthOptions{true, 30, "0123456789abcdef0123456789abcdef", true}, backend.chat.get(),
                         &hashes, &clock};
  RecordingOutbox outbox;
  core::ServiceOptions options;
  core::ChatService service{options, &auth, backend.chat.get(), &outbox, &clock};

  explicit CoreHarness(core::ServiceOptions o = {})
      : options(o), service(options, &auth, backend.chat.get(), &outbox, &clock) {
    (void)auth::InitCrypto();
  }

  store::ChatStore& store() { return *backend.chat; }
  // Closes and reopens the store on the same data (a restart of the storage side).
  void Reopen() { backend.Reopen(); }

  // One round: what was submitted runs, and its completions run.
  void Step() {
    backend.Step();
    completions.Drain();
  }
  // Runs storage and completions until nothing is left (hashing runs on its own thread).
  void Settle() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      bool ran = backend.Step();
      size_t n = completions.Drain();
      if (n == 0 && !ran && store().Pending() == 0) {
        // Read the pool first: a job posts its completion before it stops counting as pending.
        bool hashing = hashes.Pending() != 0;
        if (!hashing && completions.Empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a password check is running
      }
      if (std::chrono::steady_clock::now() > deadline) break;
    }
  }

  // argon2id at libsodium's lowest cost: verifying a test account takes microseconds, not the
  // ~90 ms of the real cost (VerifyPassword reads the cost from the hash).
  static std::string QuickHash(const std::string& password) {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                          crypto_pwhash_MEMLIMIT_MIN) != 0) {
      return {};
    }
    return out;
  }

  store::UserInfo AddUser(const std::string& name, bool admin = false) {
    std::string hash = QuickHash("password-" + name);
    store::UserInfo info;
    store().CreateUser(store::NewUser{name, hash, admin, clock.NowMs()},
                       [&](store::Result<store::UserInfo>&& r) { info = r.value; });
    Settle();
    return info;
  }
  void CreateSession(store::UserId user, const std::string& token_hash, int64_t expires_ms) {
    store().CreateSession(store::NewSession{user, token_hash, clock.NowMs(), expires_ms}, [](const util::Status&) {});
    Settle();
  }

  // Opens a session and logs it in with a site token; returns the frames it got.
  std::vector<std::string> Login(core::SessionId sid, const std::string& name, const std::string& extra = "") {
    service.OnOpen(sid, core::OpenInfo{"127.0.0.1", ""});
    std::string token = auth::SignSiteToken(name, clock.NowMs() / 1000 + 3600, "0123456789abcdef0123456789abcdef");
    service.OnFrame(sid, R"({"type":"hello","id":1,"device":"d)" + std::to_string(sid) + R"(","token":")" + token +
                             "\"" + extra + "}");
    Settle();
    return outbox.Take(sid);
  }
};

// How often `needle` occurs in `frames`.
inline int Count(const std::vector<std::string>& frames, const std::string& needle) {
  int n = 0;
  for (const auto& f : frames) {
    for (size_t p = f.find(needle); p != std::string::npos; p = f.find(needle, p + 1)) ++n;
  }
  return n;
}

// Drops presence events (a first 1:1 message makes the two see each other's presence).
inline std::vector<std::string> NoPresence(std::vector<std::string> frames) {
  frames.erase(std::remove_if(frames.begin(), frames.end(),
                              [](const std::string& f) { return f.find(R"("type":"presence")") != std::string::npos; }),
               frames.end());
  return frames;
}

// One frame from `sid`, then everything it causes.
inline void Do(CoreHarness& h, core::SessionId sid, const std::string& json) {
  h.service.OnFrame(sid, json);
  h.Settle();
}

inline bool Has(const std::vector<std::string>& frames, const std::string& needle) {
  for (const auto& f : frames) {
    if (f.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace chatd::testing
