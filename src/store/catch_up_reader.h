// SPDX-License-Identifier: MIT
//
// store::CatchUpReader: the pages a device reads when it logs in, before `live`.
//   - Without a cursor (FetchPending): the user's undelivered messages: 1:1 pool rows above
//     their acknowledgement, and room and broadcast messages from others above it (and above
//     where they joined).
//   - With a cursor (FetchSince): every message of the user's conversations above it, their
//     own included (another device sent them), from the history cache when it provably holds
//     the whole page (nothing of this batch still staged, no range below a retention floor):
//     one range per conversation; else from SQLite: one bounded, indexed range per
//     conversation, never a scan of the whole backlog. The site's notifications to the user
//     (never cached: they are per user) always come from SQLite, one indexed range.
// Every page is oldest first, at most `limit` messages and about `max_bytes` of them (always at
// least one), and says where the next one starts (FetchResult::next) or that it is the last.
// Storage thread only; borrows everything it is given (all outlive it).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "store/message_rows.h"
#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

class Directory;
class HistoryCache;
class MessageStore;

class CatchUpReader {
 public:
  static util::Status Open(SqliteDb* db, Directory* directory, HistoryCache* history, MessageStore* messages,
                           std::unique_ptr<CatchUpReader>* out);

  // Undelivered messages for `user` with mid > after (hello without cursor).
  util::Status FetchPending(UserId user, Mid after, int limit, FetchResult* out, size_t max_bytes = 1 << 20);
  // Every message of `user`'s conversations with mid > cursor (hello with a cursor).
  util::Status FetchSince(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes = 1 << 20);

 private:
  CatchUpReader(SqliteDb* db, Directory* directory, HistoryCache* history, MessageStore* messages)
      : db_(db), directory_(directory), history_(history), messages_(messages) {}
  // *covered = false: the cache cannot prove it holds the whole page; SQLite must answer.
  util::Status FetchSinceFromCache(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes,
                                   bool* covered);
  util::Status FetchSinceFromDb(UserId user, Mid cursor, int limit, FetchResult* out, size_t max_bytes);
  // (conversation, mid its catch-up starts after) for every conversation of `user` (or only
  // its rooms), and the broadcast feed.
  util::Status SinceRanges(UserId user, Mid cursor, std::vector<std::pair<ConvId, Mid>>* out);

  // The user's notifications with after < mid < below, oldest first, at most `limit`.
  util::Status Notices(UserId user, Mid after, Mid below, int limit, std::vector<MessageRow>* rows, int* n);

  SqliteDb* db_;
  Directory* directory_;
  HistoryCache* history_;
  MessageStore* messages_;
  std::unique_ptr<SqliteStmt> pending_direct_, pending_rooms_, pending_broadcast_, user_convs_,
      conv_after_, notices_after_;
};

}  // namespace chatd::store
