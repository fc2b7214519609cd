// SPDX-License-Identifier: MIT
//
// store::SiteStore: what a web site's backend asks of storage through the HTTP API (publish,
// delivery status, a user's unread counts), each behind its API key: every operation checks
// the key (store/api_keys.h) in the same job as its work, so a key revoked by `chatd apikey
// revoke` stops working at the next request. Same contract as ChatStore (store/chat_store.h):
// asynchronous, one Result per call on the thread that drains the CompletionQueue, in order,
// writes answered once durable. Refusals: unauthorized (no such key, or revoked).
// EngineChatStore implements it (the server's one store); network thread only.
#pragma once

#include <string>

#include "store/chat_store.h"
#include "store/types.h"

namespace chatd::store {

struct UserUnread {
  UserInfo user;
  std::vector<std::pair<std::string, int64_t>> unread;  // as UserState::unread
};

class SiteStore {
 public:
  virtual ~SiteStore() = default;

  // The key's name.
  virtual void CheckApiKey(std::string key_hash, Callback<std::string> done) = 0;
  // Stores a notification (see PublishRequest, PublishResult). With `create`, names that are
  // no users become site users first. not_found (unknown names, listed; a room), quota_exceeded
  // (every recipient's pool is full), storage_full.
  virtual void Publish(PublishRequest req, Callback<PublishResult> done) = 0;
  // Who got message `mid`, and who read it. not_found.
  virtual void DeliveryStatus(std::string key_hash, Mid mid, Callback<DeliveryReport> done) = 0;
  // The unread counts a welcome of user `name` would show. not_found.
  virtual void UnreadOf(std::string key_hash, std::string name, Callback<UserUnread> done) = 0;
  // Queues a webhook event (`data`: its JSON object) when webhooks are on; no key involved
  // (the core reports user.online and user.offline). Skipped while the disk is below the floor.
  virtual void RecordEvent(std::string event, std::string data, int64_t now_ms, StatusCallback done) = 0;
};

}  // namespace chatd::store
