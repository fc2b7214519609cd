// SPDX-License-Identifier: MIT
#include "chat.h"

#include <algorithm>

#include "line_scan.h"

namespace chatd::bench {

namespace {

constexpr size_t kIdWidth = 12;
constexpr size_t kTsWidth = 16;
constexpr size_t kStepWidth = 6;
constexpr size_t kStampBytes = 2 + kTsWidth + 3 + kStepWidth + 1;  // t=…;s=…;

}  // namespace

Chat::Chat(const Conn& c, bool room, std::string_view target, size_t target_digits, size_t window, size_t text_bytes) {
  send_.Lit(R"({"type":"send","id":)");
  f_id_ = send_.Field(kIdWidth, ' ');
  send_.Lit(R"(,"cid":"c)");
  f_cid_ = send_.Field(kIdWidth, '0');
  send_.Lit(room ? R"(","room":")" : R"(","to":")");
  send_.Lit(target);
  if (target_digits > 0) f_target_ = send_.Field(target_digits, '0');
  send_.Lit(R"(","text":"t=)");
  f_ts_ = send_.Field(kTsWidth, '0');
  send_.Lit(";s=");
  f_step_ = send_.Field(kStepWidth, '0');
  send_.Lit(";");
  if (text_bytes > kStampBytes) send_.Lit(std::string(text_bytes - kStampBytes, 'x'));
  send_.Lit(R"("})");
  send_.Seal(c.mask);

  ack_.Lit(R"({"type":"ack","upto":)");
  f_upto_ = ack_.Field(17, ' ');
  ack_.Lit("}");
  ack_.Seal(c.mask);

  window_ = static_cast<uint32_t>(std::max<size_t>(window, 1));
  sent_at_.assign(window_, 0);
}

void Chat::Send(Loop& loop, Conn& c, int64_t now, uint32_t step, ChatStats* stats, uint64_t target_n) {
  uint64_t id = next_id_++;
  if (f_target_ >= 0) send_.SetDigits(f_target_, target_n);
  send_.SetNumber(f_id_, id);
  send_.SetDigits(f_cid_, id);
  send_.SetDigits(f_ts_, static_cast<uint64_t>(now));
  send_.SetDigits(f_step_, step % 1000000);
  sent_at_[id % window_] = now;
  ++outstanding_;
  ++stats->sent;
  loop.Queue(c, send_.data(), send_.size());
}

Chat::Kind Chat::OnLine(std::string_view line, std::string_view type, int64_t now, uint32_t step, ChatStats* stats,
                        int64_t* re) {
  if (type == "message") {
    int64_t mid = 0;
    if (IntField(line, "\"mid\":", &mid)) {
      if (mid <= last_mid_) in_order_ = false;
      last_mid_ = std::max(last_mid_, mid);
    }
    ++received_;
    int64_t sent_ns = 0, msg_step = 0;
    if (TextStamp(line, &sent_ns, &msg_step) && static_cast<uint32_t>(msg_step) == step % 1000000) {
      stats->deliver.Record(now - sent_ns);
      ++stats->delivered;
      stats->last_deliver_ns = now;
    } else {
      ++stats->delivered_other;
    }
    return Kind::kMessage;
  }
  bool ok = type == "ok";
  if (!ok && type != "error") return Kind::kOther;
  int64_t id = 0;
  if (!IntField(line, "\"re\":", &id)) return Kind::kOther;
  if (id < kFirstSendId) {
    *re = id;
    return ok ? Kind::kReplyOk : Kind::kReplyError;
  }
  if (outstanding_ > 0) --outstanding_;
  if (ok) {
    stats->ok.Record(now - sent_at_[static_cast<uint64_t>(id) % window_]);
    ++stats->oks;
    stats->last_ok_ns = now;
    int64_t mid = 0;
    if (IntField(line, "\"mid\":", &mid)) last_ok_mid_ = std::max(last_ok_mid_, mid);
    return Kind::kSendOk;
  }
  ++stats->errors;
  if (stats->first_error.empty()) {
    stats->first_error = std::string(StrField(line, "\"code\":\""));
    if (stats->first_error.empty()) stats->first_error = "error";
  }
  return Kind::kSendError;
}

void Chat::AckIfNeeded(Loop& loop, Conn& c) {
  if (last_mid_ <= acked_) return;
  acked_ = last_mid_;
  ack_.SetNumber(f_upto_, static_cast<uint64_t>(acked_));
  loop.Queue(c, ack_.data(), ack_.size());
}

void AckTimer::OnFrame(Loop& loop, Conn& c, Chat& chat, int64_t now) {
  if (interval_ < 0 || !chat.HasUnacked()) return;
  if (interval_ == 0) {
    chat.AckIfNeeded(loop, c);
    return;
  }
  if (chat.ack_scheduled_) return;
  chat.ack_scheduled_ = true;
  ring_[tail_] = Due{now + interval_, &c, &chat};
  tail_ = (tail_ + 1) % ring_.size();
}

void AckTimer::OnTurn(Loop& loop, int64_t now) {
  while (head_ != tail_ && ring_[head_].at <= now) {
    Due& d = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
    d.chat->ack_scheduled_ = false;
    d.chat->AckIfNeeded(loop, *d.conn);
  }
}

}  // namespace chatd::bench
