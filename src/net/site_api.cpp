// SPDX-License-Identifier: MIT
#include "net/site_api.h"

#include <cstdlib>

#include "auth/crypto.h"
#include "net/lws_helpers.h"
#include "proto/codec.h"
#include "proto/frames.h"
#include "proto/messages.h"
#include "proto/names.h"
#include "util/log.h"

namespace chatd::net {

using util::Status;

namespace {

constexpr std::string_view kUsersPrefix = "/api/users/";
constexpr std::string_view kUnreadSuffix = "/unread";
constexpr std::string_view kMessagesPrefix = "/api/messages/";
constexpr size_t kMaxPresenceUsers = 1000;

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

std::vector<std::string> JsonHeaders(std::vector<std::string> extra = {}) {
  extra.push_back("cache-control: no-store");
  return extra;
}

void ReplyJson(const SiteReply& reply, int status, std::string body, std::vector<std::string> headers = {}) {
  reply(status, "application/json", std::move(body), JsonHeaders(std::move(headers)));
}

// The headers that go with an error: when to retry, and how to authenticate.
std::vector<std::string> ErrorHeaders(const Status& status, int64_t retry_ms) {
  std::vector<std::string> headers;
  if (retry_ms > 0) headers.push_back("retry-after: " + std::to_string((retry_ms + 999) / 1000));
  if (status.code() == util::Code::kUnauthorized) headers.push_back("www-authenticate: Bearer");
  return headers;
}

void ReplyError(const SiteReply& reply, const Status& status, int64_t retry_ms = 0) {
  ReplyJson(reply, HttpStatusFor(status.code()), proto::EncodeHttpError(status), ErrorHeaders(status, retry_ms));
}

Status NeedKey(const std::string& bearer) {
  return bearer.empty() ? Status::Unauthorized("this call needs an API key: Authorization: Bearer <key> "
                                               "(chatd apikey add NAME makes one)")
                        : Status::Ok();
}

}  // namespace

bool SiteApi::Handles(std::string_view method, std::string_view path) {
  if (path == "/push") return method == "GET" || method == "POST";
  if (method == "POST") return path == "/api/publish";
  if (method != "GET" && method != "HEAD") return false;
  return path == "/api/presence" || StartsWith(path, kMessagesPrefix) ||
         (StartsWith(path, kUsersPrefix) && EndsWith(path, kUnreadSuffix));
}

void SiteApi::Handle(SiteCall call, SiteReply reply) {
  if (call.push_listener && call.path != "/push") {
    return reply(404, "text/plain; charset=utf-8", "this listener serves /push only\n", {});
  }
  if (call.path == "/push") return Push(call, std::move(reply));
  if (call.path == "/api/publish") return Publish(call, std::move(reply));
  if (call.path == "/api/presence") return Presence(call, std::move(reply));
  if (StartsWith(call.path, kMessagesPrefix)) return MessageStatus(call, std::move(reply));
  return Unread(call, std::move(reply));
}

void SiteApi::Publish(const SiteCall& call, SiteReply reply) {
  Status s = NeedKey(call.bearer);
  if (!s.ok()) return ReplyError(reply, s);
  proto::Publish p;
  if (!(s = proto::DecodePublish(call.body, &p)).ok()) return ReplyError(reply, s);
  if (p.text.size() > static_cast<size_t>(config_.max_text)) {
    return ReplyError(reply, Status::TooLarge("text is over max-text (" + std::to_string(config_.max_text) + " bytes)"));
  }
  store::PublishRequest req;
  req.key_hash = auth::TokenHash(call.bearer);
  req.to = std::move(p.to);
  req.everyone = p.everyone;
  req.room = std::move(p.room);
  req.title = std::move(p.title);
  req.text = std::move(p.text);
  req.data = std::move(p.data);
  req.cid = std::move(p.cid);
  req.create = p.create;
  publisher_->Publish(std::move(req), [reply = std::move(reply)](core::PublishOutcome&& out) {
    if (!out.status.ok()) {
      if (!out.result.unknown.empty()) {
        return ReplyJson(reply, 404, proto::EncodeUnknownUsers(out.status, out.result.unknown));
      }
      return ReplyError(reply, out.status, out.retry_ms);
    }
    const store::PublishResult& r = out.result;
    ReplyJson(reply, 200,
              r.everyone ? proto::EncodePublishedToEveryone(r.mid, r.dup, out.online)
                         : proto::EncodePublished(r.mid, r.dup, out.delivered, out.queued, r.refused));
  });
}

void SiteApi::Push(const SiteCall& call, SiteReply reply) {
  // web-msg-sender read the POST body's fields, or the query string's when there were none,
  // and answered ok / error / fail as the whole body. Errors of chatd's own (the key, the rate,
  // the disk) answer their code name with a fitting status.
  auto text = [reply](int status, std::string body, std::vector<std::string> headers = {}) {
    reply(status, "text/plain; charset=utf-8", std::move(body), JsonHeaders(std::move(headers)));
  };
  std::vector<std::pair<std::string, std::string>> fields;
  if (call.method == "POST" && !call.body.empty()) {
    Status s = proto::DecodeForm(call.body, &fields);
    if (!s.ok()) return text(400, "bad_request");
  }
  if (fields.empty()) fields = call.query;
  if (proto::FormValue(fields, "type") != "publish") return text(200, "fail");
  std::string key = proto::FormValue(fields, "key");
  if (key.empty()) key = call.bearer;
  bool open = call.push_listener && config_.push_open;
  if (key.empty() && !open) {
    return text(401, "unauthorized", ErrorHeaders(Status::Unauthorized(""), 0));
  }
  std::string to = proto::FormValue(fields, "to");
  std::string content = proto::FormValue(fields, "content");
  if (!to.empty() && !proto::ValidSiteUserName(to)) return text(400, "bad_request");
  if (content.size() > static_cast<size_t>(config_.max_text)) return text(413, "too_large");
  store::PublishRequest req;
  req.open_push = open && key.empty();
  if (!req.open_push) req.key_hash = auth::TokenHash(key);
  if (to.empty()) {
    req.everyone = true;
  } else {
    req.to.push_back(to);
    req.create = true;  // a site's uids are its users: chatd keeps it for their first login
  }
  req.text = std::move(content);
  publisher_->Publish(std::move(req), [text](core::PublishOutcome&& out) {
    if (!out.status.ok()) {
      Status st = out.status;
      return text(HttpStatusFor(st.code()), std::string(Status::CodeName(st.code())), ErrorHeaders(st, out.retry_ms));
    }
    text(200, out.result.everyone || !out.delivered.empty() ? "ok" : "error");
  });
}

void SiteApi::MessageStatus(const SiteCall& call, SiteReply reply) {
  Status s = NeedKey(call.bearer);
  if (!s.ok()) return ReplyError(reply, s);
  std::string_view digits = std::string_view(call.path).substr(kMessagesPrefix.size());
  if (digits.empty() || digits.size() > 16 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return ReplyError(reply, Status::NotFound("no such message: " + std::string(digits.substr(0, 32))));
  }
  store::Mid mid = std::strtoll(std::string(digits).c_str(), nullptr, 10);
  store_->DeliveryStatus(auth::TokenHash(call.bearer), mid, [reply = std::move(reply)](store::Result<store::DeliveryReport>&& r) {
    if (!r.status.ok()) return ReplyError(reply, r.status);
    std::vector<proto::Recipient> recipients;
    for (auto& x : r.value.recipients) {
      recipients.push_back(proto::Recipient{std::move(x.user), x.delivered_at, x.read_at, x.delivered, x.read});
    }
    ReplyJson(reply, 200, proto::EncodeDeliveryStatus(r.value.mid, recipients));
  });
}

void SiteApi::Presence(const SiteCall& call, SiteReply reply) {
  Status s = NeedKey(call.bearer);
  if (!s.ok()) return ReplyError(reply, s);
  std::string users = proto::FormValue(call.query, "users");
  bool counts = proto::FormValue(call.query, "devices") == "1";
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= users.size() && !users.empty()) {
    size_t comma = users.find(',', start);
    std::string name = users.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!name.empty()) {
      if (!proto::ValidSiteUserName(name)) {
        return ReplyError(reply, Status::BadRequest("users: '" + name.substr(0, 64) + "' is not a valid user name"));
      }
      names.push_back(std::move(name));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (names.empty()) return ReplyError(reply, Status::BadRequest("give users=name1,name2,..."));
  if (names.size() > kMaxPresenceUsers) {
    return ReplyError(reply, Status::BadRequest("at most " + std::to_string(kMaxPresenceUsers) + " users per call"));
  }
  publisher_->Presence(auth::TokenHash(call.bearer), std::move(names),
                       [reply = std::move(reply), counts](const Status& st,
                                                          std::vector<std::pair<std::string, int64_t>> devices) {
                         if (!st.ok()) return ReplyError(reply, st);
                         ReplyJson(reply, 200, proto::EncodePresenceMap(devices, counts));
                       });
}

void SiteApi::Unread(const SiteCall& call, SiteReply reply) {
  Status s = NeedKey(call.bearer);
  if (!s.ok()) return ReplyError(reply, s);
  std::string_view path = call.path;
  std::string name(path.substr(kUsersPrefix.size(), path.size() - kUsersPrefix.size() - kUnreadSuffix.size()));
  if (!proto::ValidSiteUserName(name)) return ReplyError(reply, Status::BadRequest("not a valid user name"));
  store_->UnreadOf(auth::TokenHash(call.bearer), std::move(name), [reply = std::move(reply)](store::Result<store::UserUnread>&& r) {
    if (!r.status.ok()) return ReplyError(reply, r.status);
    ReplyJson(reply, 200, proto::EncodeUserUnread(r.value.user.name, r.value.unread));
  });
}

}  // namespace chatd::net
