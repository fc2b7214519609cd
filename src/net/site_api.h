// SPDX-License-Identifier: MIT
//
// net::SiteApi: the HTTP calls of a web site's backend (docs/http-api.md), each with an API key
// (Authorization: Bearer KEY; /push also takes a `key` field):
//   POST /api/publish              a notification to users, a room or everyone (JSON)
//   POST|GET /push                 the same, as web-msg-sender's call: type=publish&to=&content=
//   GET  /api/messages/<mid>       who got a message and who read it
//   GET  /api/presence?users=a,b   who is online (&devices=1: their connection counts)
//   GET  /api/users/<name>/unread  the unread counts the user's welcome would show
// HttpApi hands it the calls it recognises (Handles()) and a Reply for the answer, which may
// come later (storage). The push listener (push-listen) serves /push only; with push-open it
// needs no key there. lws service thread only; every pointer must outlive it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/publisher.h"
#include "store/site_store.h"
#include "util/status.h"

namespace chatd::net {

struct SiteCall {
  std::string method, path;  // path without the query
  std::vector<std::pair<std::string, std::string>> query;
  std::string body, content_type, bearer;
  bool push_listener = false;  // came in on push-listen
};

// status, content type, body, extra headers ("name: value").
using SiteReply = std::function<void(int, std::string, std::string, std::vector<std::string>)>;

class SiteApi {
 public:
  SiteApi(const config::Config& config, core::Publisher* publisher, store::SiteStore* store)
      : config_(config), publisher_(publisher), store_(store) {}

  // Whether `method` `path` is one of the calls above (else HttpApi answers it).
  static bool Handles(std::string_view method, std::string_view path);
  void Handle(SiteCall call, SiteReply reply);

 private:
  void Publish(const SiteCall& call, SiteReply reply);
  void Push(const SiteCall& call, SiteReply reply);
  void MessageStatus(const SiteCall& call, SiteReply reply);
  void Presence(const SiteCall& call, SiteReply reply);
  void Unread(const SiteCall& call, SiteReply reply);

  const config::Config& config_;
  core::Publisher* publisher_;
  store::SiteStore* store_;
};

}  // namespace chatd::net
