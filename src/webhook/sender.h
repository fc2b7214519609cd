// SPDX-License-Identifier: MIT
//
// webhook::Sender: the thread that POSTs webhook events to the site's backend (webhook-url),
// with libcurl, from its own SQLite connection (store::WebhookQueue), so nothing of it runs on
// the network or the storage thread. About once a second, and whenever woken:
//   1. due undelivered checks become message.undelivered events (none for an acked message);
//   2. the queue is cut to webhook-queue-max, oldest first (dropped events are counted and
//      logged, once per outage);
//   3. due events are POSTed in order, one at a time. A 2xx answer deletes the event; anything
//      else (an error status, a refused connection, a 5 s timeout) reschedules it with backoff
//      (1, 2, 4, ... up to 300 s) and ends the round, so a site that is down costs one attempt
//      per round. At least once: an event is deleted only after its 2xx.
// Each POST carries Content-Type: application/json and
//   X-Chatd-Event: <event>   X-Chatd-Event-Id: <id>   X-Chatd-Timestamp: <unix seconds>
//   X-Chatd-Signature: sha256=<hex HMAC-SHA256(webhook-secret, timestamp + "." + body)>
// (docs/http-api.md shows how to check it). Stop() aborts a POST in flight and joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "util/clock.h"
#include "util/status.h"

namespace chatd::store {
class SqliteDb;
class WebhookQueue;
struct WebhookEvent;
}  // namespace chatd::store

namespace chatd::webhook {

struct SenderOptions {
  std::string url, secret;
  std::string db_path;    // the server's SQLite file (a connection of its own)
  int queue_max = 10000;  // webhook-queue-max
  int64_t poll_ms = 1000;
  int64_t timeout_ms = 5000;  // per POST
};

class Sender {
 public:
  static util::Status Start(SenderOptions options, const util::Clock* clock, std::unique_ptr<Sender>* out);
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  void Stop();
  // Makes the next round start now (tests, and after a burst of events).
  void Wake();

 private:
  Sender(SenderOptions options, const util::Clock* clock);
  void Run();
  void Round();
  // POSTs one event; true on a 2xx. *why says what went wrong otherwise.
  bool Post(const store::WebhookEvent& event, std::string* why);

  SenderOptions options_;
  const util::Clock* clock_;
  std::unique_ptr<store::SqliteDb> db_;
  std::unique_ptr<store::WebhookQueue> queue_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  std::atomic<bool> stop_{false};
  bool failing_ = false;       // the last POST failed (logged once until one succeeds)
  bool dropping_ = false;      // events were dropped since the last success (logged once)
};

}  // namespace chatd::webhook
