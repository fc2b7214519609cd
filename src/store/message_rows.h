// SPDX-License-Identifier: MIT
//
// store message rows: one `messages` row as the store's queries read it. Every query that reads
// messages selects (mid, conv_id, sender_id, text, ts, kind, title, data) in that order
// (kMessageColumns, for a table aliased m), so one reader serves them all. Storage thread only.
#pragma once

#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/types.h"

namespace chatd::store {

#define CHATD_MESSAGE_COLUMNS "m.mid, m.conv_id, m.sender_id, m.text, m.ts, m.kind, m.title, m.data"

// messages.kind: a chat message, or a site's notification (title and data; sender 0).
enum class MessageKind { kChat = 0, kNotification = 1 };

struct MessageRow {
  Mid mid = 0;
  ConvId conv = 0;
  UserId sender = 0;
  std::string text;
  int64_t ts = 0;
  MessageKind kind = MessageKind::kChat;
  std::string title, data;  // notifications
};

// Steps `st` to the end, appending its rows to `rows`; *n counts them.
inline util::Status ReadMessageRows(SqliteStmt* st, std::vector<MessageRow>* rows, int* n) {
  util::Status s;
  *n = 0;
  while (st->Step(&s)) {
    MessageRow r;
    r.mid = st->Int(0);
    r.conv = st->Int(1);
    r.sender = st->Int(2);
    r.text = std::string(st->Text(3));
    r.ts = st->Int(4);
    r.kind = st->Int(5) == 1 ? MessageKind::kNotification : MessageKind::kChat;
    r.title = std::string(st->Text(6));
    r.data = std::string(st->Text(7));
    rows->push_back(std::move(r));
    ++*n;
  }
  return s;
}

}  // namespace chatd::store
