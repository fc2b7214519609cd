// SPDX-License-Identifier: MIT
#include "core/publisher.h"

#include <functional>
#include <optional>

namespace chatd::core {

using util::Status;

void Publisher::Publish(store::PublishRequest req, std::function<void(PublishOutcome&&)> done) {
  uint64_t bucket = std::hash<std::string>{}(req.key_hash);
  int64_t retry_ms = 0;
  if (!limiter_.Take(bucket, clock_->MonoMs(), &retry_ms)) {
    PublishOutcome out;
    out.status = Status::RateLimited("too many publishes with this key; slow down");
    out.retry_ms = retry_ms;
    done(std::move(out));
    return;
  }
  limiter_.Release(bucket);  // a key has no connection to close: Prune may forget it once full
  req.ts = clock_->NowMs();
  store_->Publish(std::move(req), [this, done = std::move(done)](store::Result<store::PublishResult>&& r) {
    PublishOutcome out;
    out.status = r.status;
    out.result = std::move(r.value);
    if (out.status.ok()) {
      if (!out.result.dup) router_->DeliverNotification(out.result);
      if (out.result.everyone) {
        out.online = static_cast<int64_t>(presence_->users());
      } else {
        for (const auto& user : out.result.recipients) {
          (presence_->Online(user.id) ? out.delivered : out.queued).push_back(user.name);
        }
      }
    }
    done(std::move(out));
  });
}

void Publisher::Presence(std::string key_hash, std::vector<std::string> names, PresenceAnswer done) {
  store_->CheckApiKey(std::move(key_hash), [this, names = std::move(names),
                                            done = std::move(done)](store::Result<std::string>&& r) {
    std::vector<std::pair<std::string, int64_t>> answer;
    if (r.status.ok()) {
      for (const auto& name : names) {
        std::optional<store::UserId> id = online_->Named(name);
        answer.emplace_back(name, id ? static_cast<int64_t>(presence_->Sessions(*id).size()) : 0);
      }
    }
    done(r.status, std::move(answer));
  });
}

}  // namespace chatd::core
