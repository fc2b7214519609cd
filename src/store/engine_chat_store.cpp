// SPDX-License-Identifier: MIT
#include "store/engine_chat_store.h"

#include <memory>
#include <utility>

#include "store/accounts.h"
#include "store/api_keys.h"
#include "store/catch_up_reader.h"
#include "store/engine.h"
#include "store/message_store.h"
#include "store/room_store.h"
#include "store/webhook_queue.h"

namespace chatd::store {

using util::Status;

namespace {

// A job's status as its caller sees it: its own refusal first, else the commit's.
Status Merged(const Status& job, const Status& commit) { return job.ok() ? commit : job; }

Status OutOfSpace() { return Status::StorageFull("the server is out of disk space; try again later"); }

}  // namespace

template <typename T, typename Op>
void EngineChatStore::Run(Op op, Callback<T> done) {
  auto result = std::make_shared<Result<T>>();
  storage_->Submit([result, op = std::move(op)](Engine& e) { result->status = op(e, &result->value); },
                   [result, done = std::move(done)](const Status& commit) {
                     result->status = Merged(result->status, commit);
                     done(std::move(*result));
                   });
}

template <typename Op>
void EngineChatStore::RunStatus(Op op, StatusCallback done) {
  auto status = std::make_shared<Status>();
  storage_->Submit([status, op = std::move(op)](Engine& e) { *status = op(e); },
                   [status, done = std::move(done)](const Status& commit) { done(Merged(*status, commit)); });
}

void EngineChatStore::Send(SendRequest req, Callback<SendResult> done) {
  Run<SendResult>([req = std::move(req)](Engine& e, SendResult* out) {
    return e.messages().Send(req, e.storage_full(), req.ts, out);
  }, std::move(done));
}

void EngineChatStore::Ack(AckRequest req, Callback<AckResult> done) {
  Run<AckResult>([req](Engine& e, AckResult* out) {
    return e.messages().Ack(req.user, req.upto, req.now_ms, &out->delivered);
  }, std::move(done));
}

void EngineChatStore::FetchPage(PageRequest req, Callback<FetchResult> done) {
  Run<FetchResult>([req](Engine& e, FetchResult* out) {
    return req.with_cursor ? e.pages().FetchSince(req.user, req.after, req.limit, out, req.max_bytes)
                           : e.pages().FetchPending(req.user, req.after, req.limit, out, req.max_bytes);
  }, std::move(done));
}

void EngineChatStore::History(HistoryRequest req, Callback<HistoryResult> done) {
  Run<HistoryResult>([req = std::move(req)](Engine& e, HistoryResult* out) {
    return e.messages().History(req.user, req.with, req.room, req.before, req.limit, out, req.max_bytes);
  }, std::move(done));
}

void EngineChatStore::Read(ReadRequest req, Callback<ReadResult> done) {
  Run<ReadResult>([req = std::move(req)](Engine& e, ReadResult* out) {
    return e.rooms().Read(req.user, req.with, req.room, req.upto, req.now_ms, out);
  }, std::move(done));
}

void EngineChatStore::Join(JoinRequest req, Callback<JoinResult> done) {
  Run<JoinResult>([req = std::move(req)](Engine& e, JoinResult* out) {
    if (e.storage_full()) return OutOfSpace();
    return e.rooms().Join(req.user, req.room, req.make_private, req.now_ms, out);
  }, std::move(done));
}

void EngineChatStore::Leave(LeaveRequest req, Callback<RoomInfo> done) {
  Run<RoomInfo>([req = std::move(req)](Engine& e, RoomInfo* out) { return e.rooms().Leave(req.user, req.room, out); },
                std::move(done));
}

void EngineChatStore::Invite(InviteRequest req, Callback<InviteResult> done) {
  Run<InviteResult>([req = std::move(req)](Engine& e, InviteResult* out) {
    return e.rooms().Invite(req.inviter, req.room, req.invitee, req.now_ms, &out->invited, &out->room);
  }, std::move(done));
}

void EngineChatStore::LoadUserState(UserId user, Callback<UserState> done) {
  Run<UserState>([user](Engine& e, UserState* out) { return e.rooms().LoadUserState(user, out); }, std::move(done));
}

void EngineChatStore::CreateUser(NewUser req, Callback<UserInfo> done) {
  Run<UserInfo>([req = std::move(req)](Engine& e, UserInfo* out) {
    if (e.storage_full()) return OutOfSpace();
    return e.accounts().CreateUser(req.name, req.password_hash, req.admin, req.now_ms, out);
  }, std::move(done));
}

void EngineChatStore::FindUser(std::string name, Callback<UserRecord> done) {
  Run<UserRecord>([name = std::move(name)](Engine& e, UserRecord* out) { return e.accounts().FindUser(name, out); },
                  std::move(done));
}

void EngineChatStore::Members(MembersRequest req, Callback<std::vector<UserInfo>> done) {
  Run<std::vector<UserInfo>>([req = std::move(req)](Engine& e, std::vector<UserInfo>* out) {
    return e.rooms().Members(req.user, req.room, out);
  }, std::move(done));
}

void EngineChatStore::Conversations(ConversationsRequest req, Callback<std::vector<ConversationSummary>> done) {
  Run<std::vector<ConversationSummary>>([req](Engine& e, std::vector<ConversationSummary>* out) {
    return e.messages().Conversations(req.user, req.limit, out);
  }, std::move(done));
}

void EngineChatStore::SearchUsers(UserSearch req, Callback<std::vector<UserInfo>> done) {
  Run<std::vector<UserInfo>>([req = std::move(req)](Engine& e, std::vector<UserInfo>* out) {
    return e.accounts().SearchUsers(req.prefix, req.limit + 1, out);
  }, std::move(done));
}

void EngineChatStore::EnsureSiteUser(SiteLogin req, Callback<UserInfo> done) {
  Run<UserInfo>([req = std::move(req)](Engine& e, UserInfo* out) { return e.EnsureUser(req.name, req.allow_local, out); },
                std::move(done));
}

void EngineChatStore::CreateSession(NewSession req, StatusCallback done) {
  RunStatus([req = std::move(req)](Engine& e) {
    return e.accounts().CreateSession(req.user, req.token_hash, req.now_ms, req.expires_ms);
  }, std::move(done));
}

void EngineChatStore::ResolveSession(SessionLookup req, Callback<UserInfo> done) {
  Run<UserInfo>([req = std::move(req)](Engine& e, UserInfo* out) {
    return e.accounts().ResolveSession(req.token_hash, req.now_ms, out);
  }, std::move(done));
}

void EngineChatStore::DeleteSession(std::string token_hash, StatusCallback done) {
  RunStatus([token_hash = std::move(token_hash)](Engine& e) { return e.accounts().DeleteSession(token_hash); },
            std::move(done));
}

void EngineChatStore::Ping(StatusCallback done) {
  RunStatus([](Engine& e) { return e.Ping(); }, std::move(done));
}

void EngineChatStore::CheckApiKey(std::string key_hash, Callback<std::string> done) {
  Run<std::string>([key_hash = std::move(key_hash)](Engine& e, std::string* out) {
    return e.api_keys().Check(key_hash, out);
  }, std::move(done));
}

void EngineChatStore::Publish(PublishRequest req, Callback<PublishResult> done) {
  Run<PublishResult>([req = std::move(req)](Engine& e, PublishResult* out) {
    std::string key_name = "(push-open)";  // no key can have this name
    Status s = req.open_push ? Status::Ok() : e.api_keys().Check(req.key_hash, &key_name);
    if (!s.ok()) return s;
    if (req.create && !req.everyone && req.room.empty()) {
      // A site's ids are its users: the ones chatd has not seen yet become site users.
      for (const auto& name : req.to) {
        UserInfo user;
        if (!(s = e.EnsureUser(name, true, &user)).ok()) return s;
      }
    }
    return e.messages().Publish(req, key_name, e.storage_full(), out);
  }, std::move(done));
}

void EngineChatStore::DeliveryStatus(std::string key_hash, Mid mid, Callback<DeliveryReport> done) {
  Run<DeliveryReport>([key_hash = std::move(key_hash), mid](Engine& e, DeliveryReport* out) {
    std::string key_name;
    Status s = e.api_keys().Check(key_hash, &key_name);
    return s.ok() ? e.messages().DeliveryStatus(mid, out) : s;
  }, std::move(done));
}

void EngineChatStore::UnreadOf(std::string key_hash, std::string name, Callback<UserUnread> done) {
  Run<UserUnread>([key_hash = std::move(key_hash), name = std::move(name)](Engine& e, UserUnread* out) {
    std::string key_name;
    Status s = e.api_keys().Check(key_hash, &key_name);
    if (!s.ok()) return s;
    UserRecord rec;
    if (!(s = e.accounts().FindUser(name, &rec)).ok()) return s;
    out->user = rec.info;
    UserState state;
    if (!(s = e.rooms().LoadUserState(rec.info.id, &state)).ok()) return s;
    out->unread = std::move(state.unread);
    return Status::Ok();
  }, std::move(done));
}

void EngineChatStore::RecordEvent(std::string event, std::string data, int64_t now_ms, StatusCallback done) {
  RunStatus([event = std::move(event), data = std::move(data), now_ms](Engine& e) {
    if (!e.webhooks() || e.storage_full()) return Status::Ok();
    return e.webhooks()->Enqueue(event, data, now_ms);
  }, std::move(done));
}

}  // namespace chatd::store
