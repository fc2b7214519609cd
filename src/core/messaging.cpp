// SPDX-License-Identifier: MIT
#include "core/messaging.h"

#include "proto/frames.h"

namespace chatd::core {

using util::Status;

void Messaging::Send(SessionId sid, Session& session, const proto::Request& req) {
  if (req.text.size() > static_cast<size_t>(max_text_)) {
    router_->Error(sid, req.id, Status::TooLarge("message text is over " + std::to_string(max_text_) + " bytes"));
    return;
  }
  if (req.to == "*" && !store::MayBroadcast(session.user)) return router_->Error(sid, req.id, store::BroadcastRefused());
  int64_t retry_ms = 0;
  if (!send_limiter_->Take(static_cast<uint64_t>(session.user.id), clock_->MonoMs(), &retry_ms)) {
    router_->Error(sid, req.id, Status::RateLimited("slow down: too many messages"), retry_ms);
    return;
  }
  store::UserInfo sender = session.user;
  std::string re = req.id;
  store_->Send(store::SendRequest{sender, req.cid, req.to, req.room, req.text, clock_->NowMs()},
               [this, sid, sender, re](store::Result<store::SendResult>&& r) {
                 // The message is durable (or refused); deliver it even if the sender has gone.
                 if (!r.status.ok()) {
                   router_->Error(sid, re, r.status);
                   return;
                 }
                 const store::SendResult& sent = r.value;
                 router_->Send(sid, proto::EncodeSent(re, sent.mid, sent.ts, sent.dup));
                 if (sent.dup || !sent.json) return;
                 if (sent.kind == store::ConvKind::kRoom) online_->UpdateRoom(sent.room);
                 router_->Deliver(sent, sender, sid);
                 if (sent.kind == store::ConvKind::kDirect) announcer_->NewConversation(sender.id, sent.recipient.id);
               });
}

void Messaging::Ack(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  if (!sessions_->Admit(session)) return router_->Busy(sid, re);
  store_->Ack(store::AckRequest{session.user.id, req.upto, clock_->NowMs()},
              sessions_->Guard<store::AckResult>(sid, [this, sid, re](Session& s, store::Result<store::AckResult>&& r) {
                if (!r.status.ok()) return router_->Error(sid, re, r.status);
                if (!re.empty()) router_->Send(sid, proto::EncodeOk(re));
                // The senders' pages turn "stored" into "delivered".
                for (const auto& [sender, upto] : r.value.delivered) {
                  router_->EventToUser(sender, MakeFrame(proto::EncodeDelivered(s.user.name, upto)));
                }
              }));
}

void Messaging::GiveBack(SessionId sid, Session& s) {
  budget_->Release(s);
  budget_freed_(sid);
}

void Messaging::History(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  if (!sessions_->Admit(session)) {
    GiveBack(sid, session);
    return router_->Busy(sid, re);
  }
  store::HistoryRequest hr{session.user, req.with, req.room, req.has_before ? req.before : 0, req.limit, page_bytes_};
  store_->History(std::move(hr), sessions_->Guard<store::HistoryResult>(
                                     sid, [this, sid, re](Session& s, store::Result<store::HistoryResult>&& r) {
                                       if (r.status.ok()) {
                                         router_->Send(sid, proto::EncodeHistoryPage(re, r.value.messages, r.value.more));
                                       } else {
                                         router_->Error(sid, re, r.status);
                                       }
                                       GiveBack(sid, s);  // the answer is counted as queued now
                                     }));
}

void Messaging::Read(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id, room = req.room;
  store::UserInfo user = session.user;
  if (!sessions_->Admit(session)) return router_->Busy(sid, re);
  store_->Read(
      store::ReadRequest{user, req.with, req.room, req.upto, clock_->NowMs()},
      sessions_->Guard<store::ReadResult>(sid, [this, sid, re, room, user](Session&, store::Result<store::ReadResult>&& r) {
        if (!r.status.ok()) {
          router_->Error(sid, re, r.status);
          return;
        }
        if (!re.empty()) router_->Send(sid, proto::EncodeOk(re));
        // The user's other devices move their marker too; in a 1:1 conversation the peer gets
        // a receipt.
        router_->EventToUser(user.id, MakeFrame(proto::EncodeRead(r.value.peer.name, room, r.value.upto)), sid);
        if (r.value.kind == store::ConvKind::kDirect && r.value.peer.id != user.id) {
          router_->EventToUser(r.value.peer.id,
                               MakeFrame(proto::EncodeReceipt(user.name, r.value.peer.name, r.value.upto)));
        }
      }));
}

}  // namespace chatd::core
