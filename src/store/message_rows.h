// SPDX-License-Identifier: MIT
//
// store message rows: one `messages` row as the store's queries read it. Every query that reads
// messages selects (mid, conv_id, sender_id, text, ts) in that order, so one reader serves them
// all. Storage thread only.
#pragma once

#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/types.h"

namespace chatd::store {

struct MessageRow {
  Mid mid;
  ConvId conv;
  UserId sender;
  std::string text;
  int64_t ts;
};

// Steps `st` to the end, appending its rows to `rows`; *n counts them.
inline util::Status ReadMessageRows(SqliteStmt* st, std::vector<MessageRow>* rows, int* n) {
  util::Status s;
  *n = 0;
  while (st->Step(&s)) {
    rows->push_back(MessageRow{st->Int(0), st->Int(1), st->Int(2), std::string(st->Text(3)), st->Int(4)});
    ++*n;
  }
  return s;
}

}  // namespace chatd::store
