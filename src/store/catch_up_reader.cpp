// SPDX-License-Identifier: MIT
#include "store/catch_up_reader.h"

#include <algorithm>
#include <limits>

#include "store/directory.h"
#include "store/history_cache.h"
#include "store/message_rows.h"
#include "store/message_store.h"

namespace chatd::store {

using util::Status;

namespace {

// --- SQL (STYLE S2) ---------------------------------------------------------------------------
// Each takes (user, after, limit).
constexpr const char* kPendingDirect =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM deliveries d JOIN messages m ON m.mid = d.mid "
    "WHERE d.user_id = ?1 AND d.mid > ?2 ORDER BY d.mid LIMIT ?3";
constexpr const char* kPendingRooms =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM members mb "
    "JOIN conversations c ON c.id = mb.conv_id AND c.kind = 2 "
    "JOIN messages m ON m.conv_id = mb.conv_id AND m.mid > max(?2, mb.joined_mid) "
    "WHERE mb.user_id = ?1 AND m.sender_id != ?1 ORDER BY m.mid LIMIT ?3";
constexpr const char* kPendingBroadcast =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM messages m "
    "WHERE m.conv_id = 1 AND m.mid > max(?2, (SELECT joined_mid FROM users WHERE id = ?1)) AND m.sender_id != ?1 "
    "ORDER BY m.mid LIMIT ?3";
// A user's conversations with the mid their view of each starts after (rooms: where they
// joined; 1:1: the beginning).
constexpr const char* kUserConvs =
    "SELECT mb.conv_id, CASE WHEN c.kind = 2 THEN mb.joined_mid ELSE 0 END FROM members mb "
    "JOIN conversations c ON c.id = mb.conv_id WHERE mb.user_id = ?1";
constexpr const char* kConvAfter =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM messages m WHERE m.conv_id = ?1 AND m.mid > ?2 AND m.mid < ?3 "
    "ORDER BY m.mid LIMIT ?4";
// A user's notifications (deliveries_notices) after ?2 and below ?3, for ?1.
constexpr const char* kNoticesAfter =
    "SELECT " CHATD_MESSAGE_COLUMNS " FROM deliveries d JOIN messages m ON m.mid = d.mid "
    "WHERE d.user_id = ?1 AND d.notice = 1 AND d.mid > ?2 AND d.mid < ?3 ORDER BY d.mid LIMIT ?4";

// Sorts `items` by mid and puts the first of them (at most `limit`, and about `max_bytes`,
// always at least one) into `out`, each made into a StoredMessage by `take`; what is left out
// makes the page incomplete. A truncated page holds at least one message (a source returned
// `limit`, or bytes cut after the first), so its `next` lies past where it started.
template <typename Item, typename Take>
Status FillPage(std::vector<Item>* items, int limit, size_t max_bytes, bool truncated, const Take& take,
                FetchResult* out) {
  std::sort(items->begin(), items->end(), [](const Item& a, const Item& b) { return a.mid < b.mid; });
  if (static_cast<int>(items->size()) > limit) {
    items->resize(static_cast<size_t>(limit));
    truncated = true;
  }
  size_t bytes = 0;
  for (auto& item : *items) {
    if (bytes >= max_bytes) {
      truncated = true;  // the next page continues from here
      break;
    }
    StoredMessage m;
    Status s = take(item, &m);
    if (!s.ok()) return s;
    bytes += m.json->size();
    out->messages.push_back(std::move(m));
  }
  out->complete = !truncated;
  out->next = out->complete || out->messages.empty() ? out->high_water : out->messages.back().mid;
  return Status::Ok();
}

}  // namespace

Status CatchUpReader::Open(SqliteDb* db, Directory* directory, HistoryCache* history, MessageStore* messages,
                           std::unique_ptr<CatchUpReader>* out) {
  std::unique_ptr<CatchUpReader> r(new CatchUpReader(db, directory, history, messages));
  Status s = db->PrepareAll({{&r->pending_direct_, kPendingDirect},
                             {&r->pending_rooms_, kPendingRooms},
                             {&r->pending_broadcast_, kPendingBroadcast},
                             {&r->user_convs_, kUserConvs},
                             {&r->conv_after_, kConvAfter},
                             {&r->notices_after_, kNoticesAfter}});
  if (!s.ok()) return s;
  *out = std::move(r);
  return Status::Ok();
}

Status CatchUpReader::FetchPending(UserId user, Mid after, int limit, FetchResult* out, size_t max_bytes) {
  out->messages.clear();
  out->high_water = messages_->last_mid();
  Status s = messages_->FoldPoolFor(user);  // the user's deliveries rows, all of them
  if (!s.ok()) return s;
  Mid acked = 0, joined = 0;
  if (!(s = messages_->Marks(user, &acked, &joined)).ok()) return s;
  Mid from = std::max(after, acked);
  std::vector<MessageRow> rows;
  bool truncated = false;
  for (SqliteStmt* st : {pending_direct_.get(), pending_rooms_.get(), pending_broadcast_.get()}) {
    StmtScope scope(st);
    st->Bind(1, user).Bind(2, from).Bind(3, limit);
    int n = 0;
    if (!(s = ReadMessageRows(st, &rows, &n)).ok()) return s;
    truncated = truncated || n >= limit;  // that source may have more
  }
  return FillPage(&rows, limit, max_bytes, truncated,
                  [this](const MessageRow& r, StoredMessage* m) {
                    *m = StoredMessage{r.mid, r.ts, r.conv, r.sender, nullptr};
                    return directory_->EncodeRow(r, &m->json);
                  },
                  out);
}

Status CatchUpReader::FetchSince(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes) {
  if (history_->usable()) {
    bool covered = false;
    Status s = FetchSinceFromCache(user, cursor, limit, out, max_bytes, &covered);
    if (s.ok() && covered) return s;
    if (!s.ok() && history_->usable()) return s;  // not the cache's fault
  }
  return FetchSinceFromDb(user, cursor, limit, out, max_bytes);
}

Status CatchUpReader::SinceRanges(UserId user, Mid cursor, std::vector<std::pair<ConvId, Mid>>* out) {
  SqliteStmt* st = user_convs_.get();
  Status s;
  {
    StmtScope scope(st);
    st->Bind(1, user);
    while (st->Step(&s)) out->emplace_back(st->Int(0), std::max(cursor, st->Int(1)));
  }
  if (!s.ok()) return s;
  Mid acked = 0, joined = 0;
  if (!(s = messages_->Marks(user, &acked, &joined)).ok() && s.code() != util::Code::kNotFound) return s;
  out->emplace_back(kBroadcastConv, std::max(cursor, joined));
  return Status::Ok();
}

Status CatchUpReader::Notices(UserId user, Mid after, Mid below, int limit, std::vector<MessageRow>* rows, int* n) {
  StmtScope scope(notices_after_.get());
  notices_after_->Bind(1, user).Bind(2, after).Bind(3, below).Bind(4, limit);
  return ReadMessageRows(notices_after_.get(), rows, n);
}

Status CatchUpReader::FetchSinceFromDb(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes) {
  out->messages.clear();
  out->high_water = messages_->last_mid();
  std::vector<std::pair<ConvId, Mid>> ranges;
  Status s = SinceRanges(user, cursor, &ranges);
  if (!s.ok()) return s;
  // One indexed range per conversation (messages_conv), each at most `limit` rows and, once
  // `limit` rows are in hand, only rows below the limit-th: a device far behind costs a page,
  // not a scan of everything it missed.
  std::vector<MessageRow> rows;
  bool truncated = false;
  Mid bound = std::numeric_limits<Mid>::max();
  auto by_mid = [](const MessageRow& a, const MessageRow& b) { return a.mid < b.mid; };
  for (const auto& [conv, from] : ranges) {
    if (from + 1 >= bound) continue;
    StmtScope scope(conv_after_.get());
    conv_after_->Bind(1, conv).Bind(2, from).Bind(3, bound).Bind(4, limit);
    int n = 0;
    if (!(s = ReadMessageRows(conv_after_.get(), &rows, &n)).ok()) return s;
    truncated = truncated || n >= limit;
    if (static_cast<int>(rows.size()) > limit) {
      std::nth_element(rows.begin(), rows.begin() + limit, rows.end(), by_mid);
      rows.resize(static_cast<size_t>(limit));
      truncated = true;
      // Rows below the limit-th may still displace ones we hold; at it or above, never.
      bound = std::max_element(rows.begin(), rows.end(), by_mid)->mid + 1;
    }
  }
  // The site's notifications to the user: their own indexed range.
  int n = 0;
  if (!(s = Notices(user, cursor, bound, limit, &rows, &n)).ok()) return s;
  truncated = truncated || n >= limit;
  return FillPage(&rows, limit, max_bytes, truncated,
                  [this](const MessageRow& r, StoredMessage* m) {
                    *m = StoredMessage{r.mid, r.ts, r.conv, r.sender, nullptr};
                    return directory_->EncodeRow(r, &m->json);
                  },
                  out);
}

Status CatchUpReader::FetchSinceFromCache(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes,
                                          bool* covered) {
  // See the header: the cache answers only a page it provably holds all of; later pages, past
  // the floors, come from it again.
  *covered = false;
  out->messages.clear();
  out->high_water = messages_->last_mid();
  if (history_->high_water() < messages_->last_mid()) return Status::Ok();  // this batch's sends are still staged
  bool truncated = false;
  std::vector<StoredMessage> found;
  // Each conversation (1:1, rooms, the broadcast feed) through its range.
  Mid floor = 0;
  std::vector<std::pair<ConvId, Mid>> ranges;
  Status s = SinceRanges(user, cursor, &ranges);
  if (!s.ok()) return s;
  for (const auto& [conv, from] : ranges) {
    if (!(s = history_->Floor(conv, &floor)).ok()) return s;
    if (from + 1 < floor) return Status::Ok();
    std::vector<HistoryCache::Entry> entries;
    if (!(s = history_->Range(conv, from, limit, &entries)).ok()) return s;
    truncated = truncated || static_cast<int>(entries.size()) >= limit;
    for (auto& e : entries) {
      found.push_back(StoredMessage{e.mid, e.ts, conv, 0, std::make_shared<const std::string>(std::move(e.json))});
    }
  }
  // The site's notifications are never cached (they are per user): SQLite has them.
  std::vector<MessageRow> notices;
  int n = 0;
  if (!(s = Notices(user, cursor, std::numeric_limits<Mid>::max(), limit, &notices, &n)).ok()) return s;
  truncated = truncated || n >= limit;
  for (const auto& r : notices) {
    StoredMessage m{r.mid, r.ts, r.conv, r.sender, nullptr};
    if (!(s = directory_->EncodeRow(r, &m.json)).ok()) return s;
    found.push_back(std::move(m));
  }
  s = FillPage(&found, limit, max_bytes, truncated,
               [](StoredMessage& m, StoredMessage* into) {
                 *into = std::move(m);
                 return Status::Ok();
               },
               out);
  *covered = s.ok();
  return s;
}

}  // namespace chatd::store
