// SPDX-License-Identifier: MIT
//
// store::Inbox: the offline pool's hot path, appended instead of updated (docs/storage.md,
// "The offline pool: appended, then folded"). Accepting a 1:1 message writes only its
// `messages` row (which names its recipient); an ack writes only a `marks` row. What used to be
// updated at random places on every message is derived from those two in the background by
// Fold(), in sorted batches:
//   - the `deliveries` rows (the pool as readers see it) of every message up to the fold mark
//     (`meta.fold_log`), with delivered_at set from the marks that covered them;
//   - users.acked_upto, and delivered_at on older rows the marks covered.
// Read markers are marks too (with the conversation they read): the fold moves
// members.read_upto (users.broadcast_read for the notification feed) and sets read_at on the
// `deliveries` rows they cover.
// Above the fold mark the pool lives here, in memory: the tail's rows per recipient and the
// unfolded marks per user, both read back from SQLite by Reload() (at start and after a
// rolled-back batch), so a crash loses nothing: the rows and marks were committed before the
// ok that answered them.
// Readers that need the derived tables (anything reading `deliveries` or users.acked_upto on
// this connection) call Fold() first; the hot path (send, ack, the quota) never does.
// Storage thread only; borrows the SqliteDb and the BatchError.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "store/batch_error.h"
#include "store/sqlite_db.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::store {

// For readers of the tables on other connections (stats, the webhook thread): a user's ack
// cursor, users.acked_upto raised by their acks waiting for the fold (the marks without a
// conversation: those with one are read markers), for the users row aliased `u`.
#define CHATD_ACK_CURSOR                                                                                          \
  "max(coalesce(u.acked_upto, 0), coalesce((SELECT max(k.upto) FROM marks k WHERE k.user_id = u.id AND k.conv_id " \
  "IS NULL), 0))"

class Inbox {
 public:
  static util::Status Open(SqliteDb* db, BatchError* errors, std::unique_ptr<Inbox>* out);

  // Drops the in-memory tail and marks and reads them again from SQLite.
  util::Status Reload();

  // Every message up to here has its `deliveries` rows; every mark is folded up to here.
  Mid folded() const { return folded_; }
  // Rows and marks waiting for the fold.
  size_t waiting() const { return rows_ + marks_count_; }
  bool empty() const { return rows_ == 0 && marks_count_ == 0; }
  // Whether anything of `user`'s waits for the fold.
  bool Holds(UserId user) const { return tail_.count(user) > 0 || marks_.count(user) > 0; }

  // The 1:1 message `mid` of conversation `conv` to `recipient` (its `messages` row is
  // written): pending for them.
  void Add(UserId recipient, Mid mid, UserId sender, int64_t bytes, ConvId conv);

  // What an ack took out of the pool: the rows it covered, and per sender of those not yet
  // delivered the newest mid (their "delivered" receipt).
  struct Covered {
    int64_t count = 0, bytes = 0;
    std::map<UserId, Mid> newest;
  };
  // The user's devices have everything up to `upto` (> `acked`, their cursor so far): appends
  // the mark and says what it covered.
  util::Status Ack(UserId user, Mid acked, Mid upto, int64_t now_ms, Covered* out);
  // The user's ack cursor raised by their unfolded marks (`acked` is users.acked_upto).
  Mid Cursor(UserId user, Mid acked) const;
  // The user has read conversation `conv` (kBroadcastConv: the notification feed) up to
  // `upto`: appends the mark.
  // `from`: the marker so far (ReadCursor).
  util::Status Read(UserId user, ConvId conv, ConvKind kind, Mid from, Mid upto, int64_t now_ms);
  // The user's read marker of `conv` (kBroadcastConv: the notification feed): the table's,
  // raised by their unfolded marks. NotFound: the user or the membership is gone.
  util::Status ReadMarker(UserId user, ConvId conv, Mid* out);

  // Folds everything waiting into the derived tables and moves the fold mark to `last_mid`
  // (rooms and broadcasts have nothing to fold). Runs inside the caller's transaction; a
  // failure is recorded in the batch and Reload() restores the state after the rollback.
  util::Status Fold(Mid last_mid);
  // Moves the fold mark to `mid` when nothing is waiting (a publish wrote its rows itself).
  util::Status Advance(Mid mid);

 private:
  Inbox(SqliteDb* db, BatchError* errors) : db_(db), errors_(errors) {}
  util::Status Prepare();
  util::Status SetFoldMark(Mid mid);

  struct Row {
    Mid mid;
    UserId sender;
    int64_t bytes;
    ConvId conv;
  };
  struct Mark {
    Mid upto;
    int64_t ts;
    ConvId conv;  // 0: an ack; else the conversation read
    ConvKind kind;
    Mid from;  // the cursor (or marker) it moved from: it covers (from, upto]
  };
  // Sets each mark's `from` after they were read back: the previous mark's `upto`, or the
  // table's cursor for the first (none: the user or membership is gone, it covers nothing).
  util::Status ChainMarks(UserId user, std::vector<Mark>* marks);
  // A mark made (or read back): kept for the fold, and the user's cursor raised.
  void Remember(UserId user, const Mark& k);
  util::Status FoldUser(UserId user, const std::vector<Row>& rows, const std::vector<Mark>& marks);
  // The cursor in SQLite: users.acked_upto (conv 0), members.read_upto, users.broadcast_read
  // (kBroadcastConv, the feed). NotFound: the user or the membership is gone.
  util::Status FoldedCursor(UserId user, ConvId conv, Mid* out);

  SqliteDb* db_;
  BatchError* errors_;
  Mid folded_ = 0;
  std::unordered_map<UserId, std::vector<Row>> tail_;    // per recipient, by mid
  std::unordered_map<UserId, std::vector<Mark>> marks_;  // per user, in the order they were made
  std::unordered_map<UserId, Mid> acked_;                 // per user: the newest unfolded ack
  std::map<std::pair<UserId, ConvId>, Mid> read_;         // per user and conversation: the newest read
  size_t rows_ = 0, marks_count_ = 0;

  std::unique_ptr<SqliteStmt> fold_mark_, set_fold_mark_, tail_rows_, all_marks_, insert_mark_, covered_, acked_upto_,
      deliver_range_, set_acked_, insert_delivery_, clear_marks_, read_range_, read_notices_, member_read_,
      set_member_read_, feed_read_, set_feed_read_;
};

}  // namespace chatd::store
