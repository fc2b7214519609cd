// SPDX-License-Identifier: MIT
// Test doubles for core: a recording Outbox, and a harness that wires a ChatService to real
// storage (InlineStorage over an Engine in a temp dir) with a manual clock.
#pragma once

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
#include "store/accounts.h"
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

struct CoreHarness {
  TempDir dir;
  util::ManualClock clock;
  std::unique_ptr<store::Engine> engine = OpenEngine(dir, &clock);
  util::CompletionQueue completions;
  store::InlineStorage storage{engine.get(), &completions};
  auth::HashPool hashes{&completions, 1};
  // The harness logs its password accounts in with site tokens: it lets site tokens be local.
  core::AuthService auth{core::AuthOptions{true, 30, "0123456789abcdef0123456789abcdef", true}, &storage, &hashes,
                         &clock};
  RecordingOutbox outbox;
  core::ServiceOptions options;
  core::ChatService service{options, &auth, &storage, &outbox, &clock};

  explicit CoreHarness(core::ServiceOptions o = {}) : options(o), service(options, &auth, &storage, &outbox, &clock) {
    (void)auth::InitCrypto();
  }

  // Closes and reopens the engine on the same files (a restart of the storage side).
  void Reopen() {
    engine.reset();
    engine = OpenEngine(dir, &clock);
    storage.set_engine(engine.get());
  }

  // Runs storage jobs and completions until nothing is left (hashing runs on its own thread).
  void Settle() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      storage.RunPending();
      size_t n = completions.Drain();
      if (n == 0 && storage.Pending() == 0) {
        // Read the pool first: a job posts its completion before it stops counting as pending.
        bool hashing = hashes.Pending() != 0;
        if (!hashing && completions.Empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a password check is running
      }
      if (std::chrono::steady_clock::now() > deadline) break;
    }
  }

  store::UserInfo AddUser(const std::string& name, bool admin = false) {
    store::UserInfo info;
    std::string hash;
    (void)auth::HashPassword("password-" + name, &hash);
    (void)engine->accounts().CreateUser(name, hash, admin, clock.NowMs(), &info);
    return info;
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

inline bool Has(const std::vector<std::string>& frames, const std::string& needle) {
  for (const auto& f : frames) {
    if (f.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace chatd::testing
