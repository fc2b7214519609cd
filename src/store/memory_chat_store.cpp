// SPDX-License-Identifier: MIT
//
// Over 400 lines: it is the memory twin of the whole store (messages, pool, rooms, markers,
// accounts) and reads best next to the contract it mirrors, in one place.
#include "store/memory_chat_store.h"

#include <algorithm>

#include "proto/frames.h"
#include "proto/names.h"

namespace chatd::store {

using util::Status;

namespace {
constexpr int64_t kUnreadCap = 1000;
Status OutOfSpace() { return Status::StorageFull("the server is out of disk space; try again later"); }
}  // namespace

MemoryChatStore::MemoryChatStore(util::CompletionQueue* completions, MessageLimits limits)
    : completions_(completions), limits_(limits), pending_(std::make_shared<size_t>(0)) {
  convs_[kBroadcastConv].kind = ConvKind::kBroadcast;
}

MemoryChatStore::~MemoryChatStore() = default;

template <typename T>
void MemoryChatStore::Answer(Callback<T> done, Status status, T value) {
  ++*pending_;
  auto result = std::make_shared<Result<T>>(Result<T>{std::move(status), std::move(value)});
  completions_->Post([pending = pending_, result, done = std::move(done)] {
    --*pending;
    done(std::move(*result));
  });
}

void MemoryChatStore::Answer(StatusCallback done, Status status) {
  ++*pending_;
  completions_->Post([pending = pending_, status = std::move(status), done = std::move(done)] {
    --*pending;
    done(status);
  });
}

// --- lookups ---------------------------------------------------------------------------------

std::string MemoryChatStore::NameOf(UserId id) const {
  auto it = users_.find(id);
  return it == users_.end() ? "(deleted)" : it->second.rec.info.name;
}

Status MemoryChatStore::FindUserByName(const std::string& name, User** out) {
  auto it = user_names_.find(proto::FoldName(name));
  if (it == user_names_.end()) return Status::NotFound("no user '" + name + "'");
  *out = &users_.at(it->second);
  return Status::Ok();
}

Status MemoryChatStore::FindRoom(const std::string& name, ConvId* id, Conv** out) {
  auto it = room_names_.find(proto::FoldName(name));
  if (it == room_names_.end()) return Status::NotFound("no room #" + name);
  *id = it->second;
  *out = &convs_.at(it->second);
  return Status::Ok();
}

ConvId MemoryChatStore::DirectConv(UserId a, UserId b, bool create) {
  if (a > b) std::swap(a, b);
  auto it = direct_.find({a, b});
  if (it != direct_.end()) return it->second;
  if (!create) return 0;
  ConvId id = next_conv_++;
  Conv& c = convs_[id];
  c.kind = ConvKind::kDirect;
  c.a = a;
  c.b = b;
  c.members[a] = Member{};
  c.members[b] = Member{};
  direct_[{a, b}] = id;
  return id;
}

RoomInfo MemoryChatStore::InfoOf(ConvId id, const Conv& conv) const {
  auto members = std::make_shared<std::vector<UserId>>();
  for (const auto& m : conv.members) members->push_back(m.first);
  return RoomInfo{id, conv.name, conv.is_private, std::move(members)};
}

UserInfo MemoryChatStore::Create(const std::string& name, const std::string& hash, bool admin, bool site,
                                 int64_t now_ms) {
  User u;
  u.rec.info = UserInfo{next_user_++, name, admin};
  u.rec.password_hash = hash;
  u.rec.created_at = now_ms;
  u.rec.site_user = site;
  u.joined_mid = last_mid_;
  user_names_[proto::FoldName(name)] = u.rec.info.id;
  UserInfo info = u.rec.info;
  users_[info.id] = std::move(u);
  return info;
}

// --- messages --------------------------------------------------------------------------------

Status MemoryChatStore::DoSend(const SendRequest& req, SendResult* out) {
  if (auto dup = cids_.find({req.sender.id, req.cid}); dup != cids_.end()) {
    out->mid = dup->second;
    out->ts = messages_.at(dup->second).ts;
    out->dup = true;
    return Status::Ok();
  }
  ConvId conv = kBroadcastConv;
  std::string to, room;
  if (!req.room.empty()) {
    Conv* c = nullptr;
    Status s = FindRoom(req.room, &conv, &c);
    if (!s.ok()) return s;
    if (!c->members.count(req.sender.id)) return Status::Forbidden("join #" + c->name + " first");
    if (storage_full_) return OutOfSpace();
    room = c->name;
    out->kind = ConvKind::kRoom;
    out->room = InfoOf(conv, *c);
  } else if (req.to == "*") {
    if (!MayBroadcast(req.sender)) return BroadcastRefused();
    if (storage_full_) return OutOfSpace();
    to = "*";
    out->kind = ConvKind::kBroadcast;
  } else {
    User* r = nullptr;
    Status s = FindUserByName(req.to, &r);
    if (!s.ok()) return s;
    int64_t count = 0, bytes = 0;
    for (auto it = deliveries_.lower_bound({r->rec.info.id, r->acked_upto + 1});
         it != deliveries_.end() && it->first.first == r->rec.info.id; ++it) {
      ++count;
      bytes += static_cast<int64_t>(messages_.at(it->first.second).text.size());
    }
    if (count + 1 > limits_.pool_max_messages ||
        bytes + static_cast<int64_t>(req.text.size()) > limits_.pool_max_bytes) {
      return Status::QuotaExceeded(r->rec.info.name + " has too many undelivered messages waiting; try again later");
    }
    if (storage_full_) return OutOfSpace();
    conv = DirectConv(req.sender.id, r->rec.info.id, true);
    to = r->rec.info.name;
    out->kind = ConvKind::kDirect;
    out->recipient = r->rec.info;
  }
  Mid mid = ++last_mid_;
  auto json = std::make_shared<const std::string>(proto::EncodeMessage({mid, req.sender.name, to, room, req.text, req.ts}));
  messages_[mid] = Message{conv, req.sender.id, req.text, req.ts, json};
  convs_[conv].mids.push_back(mid);
  cids_[{req.sender.id, req.cid}] = mid;
  if (out->kind == ConvKind::kDirect) deliveries_[{out->recipient.id, mid}] = false;
  out->mid = mid;
  out->ts = req.ts;
  out->conv = conv;
  out->json = json;
  return Status::Ok();
}

void MemoryChatStore::Send(SendRequest req, Callback<SendResult> done) {
  SendResult out;
  Status s = DoSend(req, &out);
  Answer(std::move(done), s, s.ok() ? std::move(out) : SendResult{});
}

void MemoryChatStore::Ack(AckRequest req, Callback<AckResult> done) {
  auto it = users_.find(req.user);
  if (it == users_.end()) return Answer(std::move(done), Status::NotFound("no such user"), AckResult{});
  User& u = it->second;
  Mid upto = std::min(req.upto, last_mid_);
  std::map<UserId, Mid> senders;
  if (upto > u.acked_upto) {
    for (auto d = deliveries_.lower_bound({req.user, u.acked_upto + 1});
         d != deliveries_.end() && d->first.first == req.user && d->first.second <= upto; ++d) {
      if (!d->second) senders[messages_.at(d->first.second).sender] = d->first.second;
      d->second = true;
    }
    u.acked_upto = upto;
  }
  AckResult out;
  out.delivered.assign(senders.begin(), senders.end());
  Answer(std::move(done), Status::Ok(), std::move(out));
}

Status MemoryChatStore::DoFetch(const PageRequest& req, FetchResult* out) {
  out->high_water = last_mid_;
  auto user = users_.find(req.user);
  if (user == users_.end()) return req.with_cursor ? Status::Ok() : Status::NotFound("no such user");
  const User& u = user->second;
  // The sources the engine reads, each bounded by `limit` as its queries are: a source is a
  // set of (conversation, after) ranges read as one query.
  std::vector<Mid> found;
  bool truncated = false;
  auto source = [&](const std::vector<std::pair<ConvId, Mid>>& ranges, bool others_only) {
    std::vector<Mid> mids;
    for (const auto& [conv, after] : ranges) {
      const auto& all = convs_.at(conv).mids;
      for (auto it = std::upper_bound(all.begin(), all.end(), after); it != all.end(); ++it) {
        if (!others_only || messages_.at(*it).sender != req.user) mids.push_back(*it);
      }
    }
    std::sort(mids.begin(), mids.end());
    if (static_cast<int>(mids.size()) >= req.limit) {
      mids.resize(static_cast<size_t>(req.limit));
      truncated = true;  // that source may have more
    }
    found.insert(found.end(), mids.begin(), mids.end());
  };
  if (req.with_cursor) {
    for (const auto& [id, c] : convs_) {  // one range per conversation, as the engine's SQLite path
      auto m = c.members.find(req.user);
      if (id == kBroadcastConv || m == c.members.end()) continue;
      source({{id, std::max(req.after, c.kind == ConvKind::kRoom ? m->second.joined : 0)}}, false);
    }
    source({{kBroadcastConv, std::max(req.after, u.joined_mid)}}, false);
  } else {
    Mid from = std::max(req.after, u.acked_upto);
    std::vector<Mid> direct;
    for (auto d = deliveries_.upper_bound({req.user, from}); d != deliveries_.end() && d->first.first == req.user;
         ++d) {
      direct.push_back(d->first.second);
      if (static_cast<int>(direct.size()) >= req.limit) {
        truncated = true;
        break;
      }
    }
    found.insert(found.end(), direct.begin(), direct.end());
    std::vector<std::pair<ConvId, Mid>> rooms;
    for (const auto& [id, c] : convs_) {
      auto m = c.members.find(req.user);
      if (c.kind == ConvKind::kRoom && m != c.members.end()) rooms.emplace_back(id, std::max(from, m->second.joined));
    }
    source(rooms, true);
    source({{kBroadcastConv, std::max(from, u.joined_mid)}}, true);
  }
  std::sort(found.begin(), found.end());
  if (static_cast<int>(found.size()) > req.limit) {
    found.resize(static_cast<size_t>(req.limit));
    truncated = true;
  }
  size_t bytes = 0;
  for (Mid mid : found) {
    if (bytes >= req.max_bytes) {
      truncated = true;
      break;
    }
    const Message& m = messages_.at(mid);
    out->messages.push_back(StoredMessage{mid, m.ts, m.conv, m.sender, m.json});
    bytes += m.json->size();
  }
  out->complete = !truncated;
  out->next = out->complete || out->messages.empty() ? out->high_water : out->messages.back().mid;
  return Status::Ok();
}

void MemoryChatStore::FetchPage(PageRequest req, Callback<FetchResult> done) {
  FetchResult out;
  Status s = DoFetch(req, &out);
  Answer(std::move(done), s, std::move(out));
}

Status MemoryChatStore::DoHistory(const HistoryRequest& req, HistoryResult* out) {
  ConvId conv = kBroadcastConv;
  if (req.room == proto::kNotificationFeed) {
    // The feed: broadcasts (this store keeps no site notifications).
  } else if (!req.room.empty()) {
    Conv* c = nullptr;
    Status s = FindRoom(req.room, &conv, &c);
    if (!s.ok()) return s;
    if (!c->members.count(req.user.id)) return Status::Forbidden("join #" + c->name + " to read its history");
  } else if (req.with != "*") {
    User* peer = nullptr;
    Status s = FindUserByName(req.with, &peer);
    if (!s.ok()) return s;
    conv = DirectConv(req.user.id, peer->rec.info.id, false);
    if (conv == 0) return Status::Ok();  // never talked: empty history
  }
  const auto& mids = convs_.at(conv).mids;
  auto end = req.before > 0 ? std::lower_bound(mids.begin(), mids.end(), req.before) : mids.end();
  std::vector<std::shared_ptr<const std::string>> newest_first;
  size_t bytes = 0;
  for (auto it = end; it != mids.begin();) {
    --it;
    if (static_cast<int>(newest_first.size()) == req.limit || (bytes >= req.max_bytes && !newest_first.empty())) {
      out->more = true;
      break;
    }
    newest_first.push_back(messages_.at(*it).json);
    bytes += newest_first.back()->size();
  }
  out->messages.assign(newest_first.rbegin(), newest_first.rend());
  return Status::Ok();
}

void MemoryChatStore::History(HistoryRequest req, Callback<HistoryResult> done) {
  HistoryResult out;
  Status s = DoHistory(req, &out);
  Answer(std::move(done), s, s.ok() ? std::move(out) : HistoryResult{});
}

Status MemoryChatStore::DoRead(const ReadRequest& req, ReadResult* out) {
  Mid upto = std::min(req.upto, last_mid_);
  Mid* marker = nullptr;
  ConvId conv = 0;
  if (req.room == proto::kNotificationFeed) {
    auto it = users_.find(req.user.id);
    if (it == users_.end()) return Status::NotFound("no such user");
    out->kind = ConvKind::kBroadcast;
    marker = &it->second.broadcast_read;
  } else if (!req.room.empty()) {
    Conv* c = nullptr;
    Status s = FindRoom(req.room, &conv, &c);
    if (!s.ok()) return s;
    if (!c->members.count(req.user.id)) return Status::Forbidden("you are not in #" + c->name);
    out->kind = ConvKind::kRoom;
    marker = &c->members[req.user.id].read;
  } else {
    User* peer = nullptr;
    Status s = FindUserByName(req.with, &peer);
    if (!s.ok()) return s;
    out->peer = peer->rec.info;
    conv = DirectConv(req.user.id, peer->rec.info.id, false);
    if (conv == 0) return Status::NotFound("no conversation with " + out->peer.name);
    marker = &convs_.at(conv).members[req.user.id].read;
  }
  out->upto = std::max(*marker, upto);
  *marker = out->upto;
  return Status::Ok();
}

void MemoryChatStore::Read(ReadRequest req, Callback<ReadResult> done) {
  ReadResult out;
  Status s = DoRead(req, &out);
  Answer(std::move(done), s, s.ok() ? std::move(out) : ReadResult{});
}

// --- rooms -----------------------------------------------------------------------------------

Status MemoryChatStore::DoJoin(const JoinRequest& req, JoinResult* out) {
  if (storage_full_) return OutOfSpace();
  ConvId id = 0;
  Conv* c = nullptr;
  Status s = FindRoom(req.room, &id, &c);
  if (s.code() == util::Code::kNotFound) {
    if (limits_.max_rooms_per_user > 0 && !req.user.admin) {
      int64_t owned = std::count_if(convs_.begin(), convs_.end(), [&](const auto& p) {
        return p.second.kind == ConvKind::kRoom && p.second.owner == req.user.id;
      });
      if (owned >= limits_.max_rooms_per_user) {
        return Status::QuotaExceeded("you have created " + std::to_string(owned) +
                                     " rooms, the most allowed here; join an existing one or ask an admin");
      }
    }
    id = next_conv_++;
    c = &convs_[id];
    c->kind = ConvKind::kRoom;
    c->name = req.room;
    c->is_private = req.make_private;
    c->owner = req.user.id;
    room_names_[proto::FoldName(req.room)] = id;
    out->created = true;
  } else if (!s.ok()) {
    return s;
  }
  if (c->members.count(req.user.id)) {
    out->already_member = true;
  } else {
    if (c->is_private && !out->created && !c->invited.count(req.user.id)) {
      return Status::Forbidden("#" + c->name + " is private: a member has to invite you");
    }
    c->members[req.user.id] = Member{last_mid_, 0};
  }
  out->room = InfoOf(id, *c);
  return Status::Ok();
}

void MemoryChatStore::Join(JoinRequest req, Callback<JoinResult> done) {
  JoinResult out;
  Status s = DoJoin(req, &out);
  Answer(std::move(done), s, s.ok() ? std::move(out) : JoinResult{});
}

void MemoryChatStore::Leave(LeaveRequest req, Callback<RoomInfo> done) {
  ConvId id = 0;
  Conv* c = nullptr;
  Status s = FindRoom(req.room, &id, &c);
  if (s.ok() && !c->members.count(req.user.id)) s = Status::NotFound("you are not in #" + c->name);
  if (!s.ok()) return Answer(std::move(done), s, RoomInfo{});
  c->members.erase(req.user.id);
  Answer(std::move(done), Status::Ok(), InfoOf(id, *c));
}

void MemoryChatStore::Invite(InviteRequest req, Callback<InviteResult> done) {
  InviteResult out;
  ConvId id = 0;
  Conv* c = nullptr;
  User* invitee = nullptr;
  Status s = FindRoom(req.room, &id, &c);
  if (s.ok() && !c->members.count(req.inviter.id)) s = Status::Forbidden("only members of #" + c->name + " may invite");
  if (s.ok()) s = FindUserByName(req.invitee, &invitee);
  if (s.ok() && c->members.count(invitee->rec.info.id)) {
    s = Status::Conflict(invitee->rec.info.name + " is already in #" + c->name);
  }
  if (s.ok()) {
    c->invited.insert(invitee->rec.info.id);
    out = InviteResult{invitee->rec.info, InfoOf(id, *c)};
  }
  Answer(std::move(done), s, std::move(out));
}

Status MemoryChatStore::DoUserState(UserId user, UserState* out) {
  auto unread = [&](const Conv& c, Mid after) {
    int64_t n = 0;
    for (auto it = std::upper_bound(c.mids.begin(), c.mids.end(), after); it != c.mids.end() && n < kUnreadCap; ++it) {
      n += messages_.at(*it).sender != user;
    }
    return n;
  };
  for (const auto& [id, c] : convs_) {  // in conversation order, as the engine reads them
    auto m = c.members.find(user);
    if (id == kBroadcastConv || m == c.members.end()) continue;
    int64_t n = unread(c, std::max(m->second.read, m->second.joined));
    if (c.kind == ConvKind::kDirect) {
      UserInfo peer{c.a == user ? c.b : c.a, NameOf(c.a == user ? c.b : c.a), false};
      if (n > 0) out->unread.emplace_back(peer.name, n);
      if (peer.id != user) out->partners.push_back(std::move(peer));
    } else {
      if (n > 0) out->unread.emplace_back("#" + c.name, n);
      out->rooms.push_back(InfoOf(id, c));
    }
  }
  auto u = users_.find(user);
  if (u != users_.end()) {
    int64_t n = unread(convs_.at(kBroadcastConv), std::max(u->second.broadcast_read, u->second.joined_mid));
    if (n > 0) out->unread.emplace_back(std::string(proto::kNotificationFeed), n);
  }
  std::sort(out->rooms.begin(), out->rooms.end(), [](const RoomInfo& x, const RoomInfo& y) {
    return proto::FoldName(x.name) < proto::FoldName(y.name);
  });
  return Status::Ok();
}

void MemoryChatStore::LoadUserState(UserId user, Callback<UserState> done) {
  UserState out;
  Status s = DoUserState(user, &out);
  Answer(std::move(done), s, std::move(out));
}

// --- accounts --------------------------------------------------------------------------------

void MemoryChatStore::CreateUser(NewUser req, Callback<UserInfo> done) {
  if (storage_full_) return Answer(std::move(done), OutOfSpace(), UserInfo{});
  if (user_names_.count(proto::FoldName(req.name))) {
    return Answer(std::move(done), Status::Conflict("the name '" + req.name + "' is taken"), UserInfo{});
  }
  Answer(std::move(done), Status::Ok(), Create(req.name, req.password_hash, req.admin, false, req.now_ms));
}

void MemoryChatStore::FindUser(std::string name, Callback<UserRecord> done) {
  User* u = nullptr;
  Status s = FindUserByName(name, &u);
  Answer(std::move(done), s, s.ok() ? u->rec : UserRecord{});
}

void MemoryChatStore::Members(MembersRequest req, Callback<std::vector<UserInfo>> done) {
  ConvId id = 0;
  Conv* c = nullptr;
  Status s = FindRoom(req.room, &id, &c);
  if (s.ok() && !c->members.count(req.user.id)) s = Status::Forbidden("join #" + c->name + " to see its members");
  std::vector<UserInfo> out;
  if (s.ok()) {
    for (const auto& [uid, m] : c->members) out.push_back(users_.at(uid).rec.info);
    std::sort(out.begin(), out.end(), [](const UserInfo& a, const UserInfo& b) { return a.name < b.name; });
  }
  Answer(std::move(done), s, std::move(out));
}

void MemoryChatStore::Conversations(ConversationsRequest req, Callback<std::vector<ConversationSummary>> done) {
  std::vector<ConversationSummary> out;
  for (const auto& [id, c] : convs_) {
    auto me = c.members.find(req.user);
    if (me == c.members.end() || (c.kind != ConvKind::kDirect && c.kind != ConvKind::kRoom)) continue;
    ConversationSummary s;
    if (c.kind == ConvKind::kRoom) {
      s.room = c.name;
      s.is_private = c.is_private;
    } else {
      s.with = NameOf(c.a == req.user ? c.b : c.a);
    }
    if (!c.mids.empty() && c.mids.back() > me->second.joined) {
      s.last_mid = c.mids.back();
      s.last = messages_.at(s.last_mid).json;
    }
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    if ((x.last_mid == 0) != (y.last_mid == 0)) return x.last_mid != 0;
    return x.last_mid > y.last_mid;
  });
  if (out.size() > static_cast<size_t>(req.limit)) out.resize(static_cast<size_t>(req.limit));
  Answer(std::move(done), Status::Ok(), std::move(out));
}

void MemoryChatStore::SearchUsers(UserSearch req, Callback<std::vector<UserInfo>> done) {
  std::string prefix = proto::FoldName(req.prefix);
  std::vector<std::pair<std::string, UserInfo>> found;
  for (const auto& [id, u] : users_) {
    std::string key = proto::FoldName(u.rec.info.name);
    if (key.compare(0, prefix.size(), prefix) == 0) found.emplace_back(std::move(key), u.rec.info);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<UserInfo> out;
  for (auto& [key, info] : found) {
    if (out.size() > static_cast<size_t>(req.limit)) break;
    out.push_back(std::move(info));
  }
  Answer(std::move(done), Status::Ok(), std::move(out));
}

void MemoryChatStore::EnsureSiteUser(SiteLogin req, Callback<UserInfo> done) {
  User* u = nullptr;
  if (FindUserByName(req.name, &u).ok()) {
    if (!u->rec.site_user && !req.allow_local) {
      return Answer(std::move(done),
                    Status::Unauthorized("'" + u->rec.info.name + "' is a local account here; a site token cannot log in as it"),
                    UserInfo{});
    }
    return Answer(std::move(done), Status::Ok(), u->rec.info);
  }
  if (storage_full_) return Answer(std::move(done), OutOfSpace(), UserInfo{});
  Answer(std::move(done), Status::Ok(), Create(req.name, "", false, true, 0));
}

void MemoryChatStore::CreateSession(NewSession req, StatusCallback done) {
  sessions_[req.token_hash] = Session{req.user, req.expires_ms};
  Answer(std::move(done), Status::Ok());
}

void MemoryChatStore::ResolveSession(SessionLookup req, Callback<UserInfo> done) {
  auto it = sessions_.find(req.token_hash);
  if (it == sessions_.end() || it->second.expires_ms <= req.now_ms || !users_.count(it->second.user)) {
    return Answer(std::move(done), Status::Unauthorized("unknown or expired token"), UserInfo{});
  }
  Answer(std::move(done), Status::Ok(), users_.at(it->second.user).rec.info);
}

void MemoryChatStore::DeleteSession(std::string token_hash, StatusCallback done) {
  sessions_.erase(token_hash);
  Answer(std::move(done), Status::Ok());
}

void MemoryChatStore::Ping(StatusCallback done) { Answer(std::move(done), Status::Ok()); }

}  // namespace chatd::store
