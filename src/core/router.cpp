// SPDX-License-Identifier: MIT
#include "core/router.h"

#include "proto/frames.h"

namespace chatd::core {

void Router::ToUser(store::UserId user, const Frame& frame, SessionId except) {
  for (SessionId other : presence_->Sessions(user)) {
    if (other == except) continue;
    Session* s = sessions_->Find(other);
    if (s && s->state == SessionState::kLive) outbox_->Send(other, frame);
  }
}

void Router::EventToUser(store::UserId user, const Frame& frame, SessionId except) {
  for (SessionId other : presence_->Sessions(user)) {
    if (other == except) continue;
    Session* s = sessions_->Find(other);
    if (s && s->state >= SessionState::kSyncing) outbox_->Send(other, frame);
  }
}

void Router::Deliver(const store::SendResult& sent, const store::UserInfo& sender, SessionId from) {
  const Frame& frame = sent.json;
  switch (sent.kind) {
    case store::ConvKind::kDirect:
      if (sent.recipient.id != sender.id) ToUser(sent.recipient.id, frame);
      ToUser(sender.id, frame, from);
      break;
    case store::ConvKind::kRoom:
      for (store::UserId member : *sent.room.members) ToUser(member, frame, from);
      break;
    case store::ConvKind::kBroadcast:
      ToEveryone(frame, from);
      break;
    case store::ConvKind::kNotifications:  // the site's (DeliverNotification), never a user's send
      break;
  }
}

void Router::ToEveryone(const Frame& frame, SessionId except) {
  sessions_->ForEach([&](SessionId sid, Session& s) {
    if (sid != except && s.state == SessionState::kLive) outbox_->Send(sid, frame);
  });
}

void Router::DeliverNotification(const store::PublishResult& published) {
  Frame frame = published.json;
  if (published.everyone) {
    ToEveryone(frame);
    return;
  }
  for (const auto& user : published.recipients) ToUser(user.id, frame);
}

void Router::Error(SessionId sid, std::string_view re, const util::Status& status, int64_t retry_ms) {
  Send(sid, proto::EncodeError(re, status, retry_ms));
}

void Router::Busy(SessionId sid, std::string_view re) {
  Error(sid, re, util::Status::RateLimited("too many requests waiting; wait for answers"), 100);
}

}  // namespace chatd::core
