// SPDX-License-Identifier: MIT
#include "webhook/sender.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include "auth/crypto.h"
#include "store/sqlite_db.h"
#include "store/webhook_queue.h"
#include "util/log.h"

namespace chatd::webhook {

using util::Status;

namespace {

constexpr int kChecksPerRound = 1000;
constexpr int kEventsPerRound = 100;
constexpr int64_t kMaxBackoffMs = 300'000;

std::once_flag g_curl_once;

int64_t BackoffMs(int64_t attempts) {
  int64_t ms = 1000;
  for (int64_t i = 0; i < attempts && ms < kMaxBackoffMs; ++i) ms *= 2;
  return std::min(ms, kMaxBackoffMs);
}

// The answer's body is not used; it is read and dropped.
size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// Aborts a transfer once the sender is stopping.
int Progress(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

Sender::Sender(SenderOptions options, const util::Clock* clock) : options_(std::move(options)), clock_(clock) {}

Status Sender::Start(SenderOptions options, const util::Clock* clock, std::unique_ptr<Sender>* out) {
  std::call_once(g_curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<Sender> s(new Sender(std::move(options), clock));
  Status st = store::SqliteDb::Open(s->options_.db_path, &s->db_);
  if (st.ok()) st = store::WebhookQueue::Open(s->db_.get(), nullptr, &s->queue_);
  if (!st.ok()) return st;
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  *out = std::move(s);
  return Status::Ok();
}

Sender::~Sender() { Stop(); }

void Sender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Sender::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Sender::Run() {
  while (!stop_) {
    Round();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms), [this] { return stop_ || woken_; });
    woken_ = false;
  }
}

void Sender::Round() {
  int64_t now = clock_->NowMs();
  int made = 0;
  Status s = queue_->MakeDueEvents(now, kChecksPerRound, &made);
  if (!s.ok()) LOG_WARN("webhooks: cannot check undelivered messages: %s", s.ToString().c_str());
  int64_t dropped = 0;
  s = queue_->Trim(options_.queue_max, &dropped);
  if (!s.ok()) LOG_WARN("webhooks: cannot bound the queue: %s", s.ToString().c_str());
  if (dropped > 0 && !dropping_) {
    LOG_WARN("webhooks: the queue is full (webhook-queue-max %d): dropped the %lld oldest event(s); "
             "`chatd stats` counts them", options_.queue_max, static_cast<long long>(dropped));
    dropping_ = true;
  }
  std::vector<store::WebhookEvent> due;
  if (!(s = queue_->Due(now, kEventsPerRound, &due)).ok()) {
    LOG_WARN("webhooks: cannot read the queue: %s", s.ToString().c_str());
    return;
  }
  for (const auto& event : due) {
    if (stop_) return;
    std::string why;
    if (Post(event, &why)) {
      if (failing_) LOG_NOTICE("webhooks: %s answers again", options_.url.c_str());
      failing_ = dropping_ = false;
      if (!(s = queue_->Sent(event.id)).ok()) LOG_WARN("webhooks: %s", s.ToString().c_str());
      continue;
    }
    if (stop_) return;  // aborted by Stop(): the event is still due, and sent next time
    int64_t wait = BackoffMs(event.attempts);
    if (!failing_) {
      LOG_WARN("webhooks: POST %s failed (%s); retrying event %lld in %lld s, with backoff", options_.url.c_str(),
               why.c_str(), static_cast<long long>(event.id), static_cast<long long>(wait / 1000));
    } else {
      LOG_INFO("webhooks: POST %s failed again (%s)", options_.url.c_str(), why.c_str());
    }
    failing_ = true;
    if (!(s = queue_->Failed(event.id, clock_->NowMs() + wait)).ok()) LOG_WARN("webhooks: %s", s.ToString().c_str());
    return;  // the site is not answering: one attempt per round
  }
}

bool Sender::Post(const store::WebhookEvent& event, std::string* why) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    *why = "cannot make a curl handle";
    return false;
  }
  std::string ts = std::to_string(clock_->NowMs() / 1000);
  std::string signature = "X-Chatd-Signature: sha256=" + auth::HmacSha256Hex(options_.secret, ts + "." + event.body);
  curl_slist* raw = nullptr;
  for (const std::string& h : {std::string("Content-Type: application/json"), std::string("Expect:"),
                               "X-Chatd-Event: " + event.event, "X-Chatd-Event-Id: " + std::to_string(event.id),
                               "X-Chatd-Timestamp: " + ts, signature}) {
    raw = curl_slist_append(raw, h.c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, event.body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(event.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "chatd-webhook");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout_ms));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, Progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &stop_);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    *why = curl_easy_strerror(rc);
    return false;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) return true;
  *why = "HTTP " + std::to_string(status);
  return false;
}

}  // namespace chatd::webhook
