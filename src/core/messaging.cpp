// SPDX-License-Identifier: MIT
//
// ChatService, part 2: send (1:1, room, broadcast), ack, history, read markers.
#include <algorithm>

#include "core/chat_service.h"
#include "proto/frames.h"
#include "proto/json_writer.h"
#include "store/catch_up_reader.h"
#include "store/engine.h"
#include "store/room_store.h"
#include "util/log.h"

namespace chatd::core {

using util::Status;

void ChatService::HandleSend(SessionId sid, Session& session, const proto::Request& req) {
  if (req.text.size() > static_cast<size_t>(options_.max_text)) {
    SendError(sid, req.id, Status::TooLarge("message text is over " + std::to_string(options_.max_text) + " bytes"));
    return;
  }
  if (req.to == "*" && !session.user.admin) {
    SendError(sid, req.id, Status::Forbidden("only admins may broadcast"));
    return;
  }
  if (!Spend(send_limiter_, sid, session, req, "slow down: too many messages")) return;
  auto sreq = std::make_shared<store::SendRequest>();
  sreq->sender = session.user;
  sreq->cid = req.cid;
  sreq->to = req.to;
  sreq->room = req.room;
  sreq->text = req.text;
  sreq->ts = clock_->NowMs();
  auto result = std::make_shared<store::SendResult>();
  auto status = std::make_shared<Status>();
  std::string re = req.id;
  store::UserInfo sender = session.user;
  auto deliver = [this, sid, sender, result]() {
    const Frame& frame = result->json;
    switch (result->kind) {
      case store::ConvKind::kDirect:
        if (result->recipient.id != sender.id) DeliverToUser(result->recipient.id, frame, 0);
        DeliverToUser(sender.id, frame, sid);
        AddPartners(sender.id, result->recipient.id);
        break;
      case store::ConvKind::kRoom:
        RememberRoom(result->room);
        for (store::UserId member : *result->room.members) DeliverToUser(member, frame, sid);
        break;
      case store::ConvKind::kBroadcast:
        for (auto& [other, s] : sessions_) {
          if (other != sid && s.state == State::kLive) outbox_->Send(other, frame);
        }
        break;
    }
  };
  storage_->Submit(
      [sreq, result, status](store::Engine& e) {
        *status = e.messages().Send(*sreq, e.storage_full(), sreq->ts, result.get());
      },
      [this, sid, re, result, status, deliver](const Status& commit) {
        // The message is durable (or refused); deliver it even if the sender has gone.
        Status st = commit.ok() ? *status : commit;
        if (!st.ok()) {
          SendError(sid, re, st);
          return;
        }
        std::string ok;
        proto::JsonWriter w(&ok);
        w.Begin().Str("type", "ok");
        if (!re.empty()) w.Raw("re", re);
        w.Int("mid", result->mid).Int("ts", result->ts);
        if (result->dup) w.Bool("dup", true);
        w.End();
        SendText(sid, std::move(ok));
        if (!result->dup && result->json) deliver();
      });
}

void ChatService::HandleAck(SessionId sid, Session& session, const proto::Request& req) {
  store::UserId user = session.user.id;
  store::Mid upto = req.upto;
  int64_t now = clock_->NowMs();
  auto status = std::make_shared<Status>();
  std::string re = req.id;
  SubmitFor(sid, session, re, [user, upto, now, status](store::Engine& e) { *status = e.messages().Ack(user, upto, now); },
            [this, sid, re, status](Session&, const Status& commit) {
              Status st = commit.ok() ? *status : commit;
              if (!st.ok()) {
                SendError(sid, re, st);
              } else if (!re.empty()) {
                SendText(sid, proto::EncodeOk(re));
              }
            });
}

void ChatService::HandleHistory(SessionId sid, Session& session, const proto::Request& req) {
  auto result = std::make_shared<store::HistoryResult>();
  auto status = std::make_shared<Status>();
  store::UserInfo user = session.user;
  std::string with = req.with, room = req.room, re = req.id;
  store::Mid before = req.has_before ? req.before : 0;
  int limit = req.limit;
  size_t max_bytes = options_.page_bytes;
  // HandleLine reserved the answer's room in the outbound budget; the answer gives it back.
  bool submitted = SubmitFor(
      sid, session, re,
      [=](store::Engine& e) {
        *status = e.messages().History(user, with, room, before, limit, result.get(), max_bytes);
      },
      [this, sid, re, result, status](Session& s, const Status&) {
        if (!status->ok()) {
          SendError(sid, re, *status);
          Unreserve(sid, s);
          return;
        }
        std::string out;
        size_t size = 64;
        for (const auto& m : result->messages) size += m->size() + 1;
        out.reserve(size);
        proto::JsonWriter w(&out);
        w.Begin().Str("type", "ok");
        if (!re.empty()) w.Raw("re", re);
        w.BeginArray("messages");
        for (const auto& m : result->messages) w.Raw(*m);
        w.EndArray().Bool("more", result->more).End();
        SendText(sid, std::move(out));
        Unreserve(sid, s);  // the answer is counted as queued now
      });
  if (!submitted) Unreserve(sid, session);
}

void ChatService::HandleRead(SessionId sid, Session& session, const proto::Request& req) {
  auto result = std::make_shared<store::ReadResult>();
  auto status = std::make_shared<Status>();
  store::UserInfo user = session.user;
  std::string with = req.with, room = req.room, re = req.id;
  store::Mid upto = req.upto;
  int64_t now = clock_->NowMs();
  SubmitFor(
      sid, session, re,
      [=](store::Engine& e) { *status = e.rooms().Read(user, with, room, upto, now, result.get()); },
      [this, sid, re, user, with, room, result, status](Session&, const Status& commit) {
        Status st = commit.ok() ? *status : commit;
        if (!st.ok()) {
          SendError(sid, re, st);
          return;
        }
        if (!re.empty()) SendText(sid, proto::EncodeOk(re));
        // The user's other devices move their marker too.
        std::string mine;
        proto::JsonWriter w(&mine);
        w.Begin().Str("type", "read");
        if (room.empty()) {
          w.Str("with", result->peer.name);
        } else {
          w.Str("room", room);
        }
        w.Int("upto", result->upto).End();
        DeliverEvent(user.id, MakeFrame(std::move(mine)), sid);
        if (result->kind == store::ConvKind::kDirect && result->peer.id != user.id) {
          std::string receipt;
          proto::JsonWriter(&receipt)
              .Begin()
              .Str("type", "receipt")
              .Str("from", user.name)
              .Str("with", result->peer.name)
              .Int("upto", result->upto)
              .End();
          DeliverEvent(result->peer.id, MakeFrame(std::move(receipt)), 0);
        }
      });
}

}  // namespace chatd::core
