// SPDX-License-Identifier: MIT
//
// Messaging on one connection, shared by the 1:1, fan-out, offline and fill scenarios.
//
// Each sending connection owns a pre-masked `send` frame aimed at one user ("to") or one room,
// with three fields patched per message: the request id (also used, zero-padded, as the cid),
// the send time in ns and the step number, both written into the text as "t=<ns>;s=<step>;"
// followed by padding up to the requested text size. The receiver computes the delivery latency
// from the text of the "message" it gets; the sender computes send->ok from the time it kept for
// that id in a ring of `window` slots (never more than `window` sends are unanswered, so a slot
// is free when it is reused). An ack frame is patched the same way.
//
// Request ids below kFirstSendId are left to the scenario (hello is 1, join 2, history 3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client.h"
#include "frame.h"
#include "histogram.h"

namespace chatd::bench {

constexpr int64_t kFirstSendId = 1000;

struct ChatStats {
  Histogram ok;       // send -> ok
  Histogram deliver;  // send -> message, messages of the current step only
  uint64_t sent = 0;
  uint64_t oks = 0;
  uint64_t errors = 0;
  uint64_t delivered = 0;        // messages of the current step
  uint64_t delivered_other = 0;  // late arrivals from an earlier step, or not ours
  int64_t last_deliver_ns = 0;
  int64_t last_ok_ns = 0;
  std::string first_error;  // code of the first error answer to a send

  void Reset() { *this = ChatStats(); }
};

class Chat {
 public:
  // `target` is a user name, or a room name when `room` is true. With target_digits > 0 the
  // name is `target` followed by that many digits, chosen per message (Send's target_n): one
  // template then reaches users p0000 .. p9999.
  Chat(const Conn& c, bool room, std::string_view target, size_t target_digits, size_t window, size_t text_bytes);

  bool CanSend() const { return outstanding_ < window_; }
  uint32_t outstanding() const { return outstanding_; }

  // REQUIRES: CanSend().
  void Send(Loop& loop, Conn& c, int64_t now, uint32_t step, ChatStats* stats, uint64_t target_n = 0);

  enum class Kind { kOther, kSendOk, kSendError, kMessage, kReplyOk, kReplyError };
  // Books answers to our sends and deliveries to us. For an answer to a request id below
  // kFirstSendId the id is stored in *re (kReplyOk / kReplyError).
  Kind OnLine(std::string_view line, std::string_view type, int64_t now, uint32_t step, ChatStats* stats, int64_t* re);

  // Sends {"type":"ack","upto":<largest mid received>} if there is something new to ack.
  void AckIfNeeded(Loop& loop, Conn& c);
  bool HasUnacked() const { return last_mid_ > acked_; }

  int64_t last_mid() const { return last_mid_; }
  int64_t last_ok_mid() const { return last_ok_mid_; }
  uint64_t received() const { return received_; }
  bool in_order() const { return in_order_; }

 private:
  FrameTemplate send_;
  int f_id_ = 0, f_cid_ = 0, f_ts_ = 0, f_step_ = 0, f_target_ = -1;
  FrameTemplate ack_;
  int f_upto_ = 0;
  uint32_t window_ = 0;
  uint32_t outstanding_ = 0;
  uint64_t next_id_ = kFirstSendId;
  std::vector<int64_t> sent_at_;
  int64_t last_mid_ = 0;
  int64_t acked_ = 0;
  int64_t last_ok_mid_ = 0;
  uint64_t received_ = 0;
  bool in_order_ = true;

  friend class AckTimer;
  bool ack_scheduled_ = false;
};

// Acks the way a client that keeps a cursor would: the largest mid received, at most once per
// `interval` per connection, sent `interval` after the first frame not yet acked (0: after every
// frame; a negative interval: never). One slot per connection, so the ring never grows.
class AckTimer {
 public:
  AckTimer(int64_t interval_ns, size_t connections) : interval_(interval_ns), ring_(connections + 1) {}

  void OnFrame(Loop& loop, Conn& c, Chat& chat, int64_t now);
  void OnTurn(Loop& loop, int64_t now);
  int64_t NextWake() const { return head_ == tail_ ? -1 : ring_[head_].at; }

 private:
  struct Due {
    int64_t at;
    Conn* conn;
    Chat* chat;
  };
  int64_t interval_;
  std::vector<Due> ring_;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace chatd::bench
