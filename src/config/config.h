// SPDX-License-Identifier: MIT
//
// config::Config: every setting chatd has, with its default. This struct is the only place
// defaults live; the command line (src/admin/cli.cpp) binds one flag per field, and the same name
// is the config-file key and, upper-cased with '_' for '-', the CHATD_* environment variable.
// Validate() is what `chatd serve` and `chatd check-config` both run.
// A Config is a plain value: built on the main thread, then read-only and shared by all threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace chatd::config {

struct Config {
  // --- network ---------------------------------------------------------------------------
  std::string listen = "127.0.0.1:8080";   // ADDR:PORT ([::1]:PORT for IPv6); port 0 picks one
  std::vector<std::string> allowed_origins;  // extra Origins allowed to open /ws and /socket.io/ (same-origin always is)
  int max_connections_per_ip = 256;        // open sockets per client address; 0 = no limit
  int max_frame = 64 * 1024;               // largest WebSocket message a client may send (bytes)
  int ws_rx_buffer = 4096;                 // per-connection receive buffer; also the most read from one connection per loop turn
  int auth_timeout = 10;                   // seconds to send a valid hello
  int ping_interval = 30;                  // seconds of silence before the server pings
  int idle_timeout = 75;                   // seconds without a pong/frame before hang-up
  int64_t outbound_limit = 8 * 1024 * 1024;  // bytes queued for one connection before 4008
  std::string www;                         // serve the page from this folder instead of the embedded copy

  // --- storage ----------------------------------------------------------------------------
  std::string data_dir = "./chatd-data";
  int64_t min_free_space = 64LL * 1024 * 1024;  // bytes; below it sends get storage_full

  // --- accounts ---------------------------------------------------------------------------
  std::string registration = "auto";       // open | closed | auto (open only on loopback)
  int session_days = 30;                   // lifetime of a login token
  std::string site_secret;                 // HS256 secret for site-signed tokens (empty = off)
  bool user_directory = true;              // logged-in users may list and search every user's name
  bool site_users_may_be_local = false;    // a site token may log in as a local (password) account

  // --- messages ---------------------------------------------------------------------------
  int max_text = 16 * 1024;                // bytes of UTF-8 in one message
  int rate = 20;                           // messages per second per user (sustained)
  int burst = 100;                         // messages a user may send at once
  int room_rate = 1;                       // joins, leaves and invites per second per user (sustained)
  int room_burst = 20;                     // ... and at once
  int max_rooms_per_user = 100;            // rooms one user may create (admins: no limit); 0 = no limit
  int pool_max_messages = 10000;           // undelivered 1:1 messages one user may have waiting
  int64_t pool_max_bytes = 64LL * 1024 * 1024;  // ... and their bytes
  int history_max_messages = 10000;        // RocksDB history kept per conversation
  int history_max_days = 365;              // ... and its age; 0 = forever
  int dedupe_days = 7;                     // a resend is recognised for this long (0 = any age) ...
  int64_t dedupe_max = 2'000'000;          // ... among at most this many newest messages
  int presence_grace_ms = 5000;            // a reconnect within this sends no presence change
  int large_room = 500;                    // rooms with more members: counts, not join/presence events

  // --- a web site's backend (docs/http-api.md) -------------------------------------------------
  std::string push_listen;                 // ADDR:PORT of a second listener for /push only (empty = off)
  bool push_open = false;                  // /push on that listener needs no key (loopback addresses only)
  int publish_rate = 200;                  // publishes per second one API key may make (sustained)
  int publish_burst = 1000;                // ... and at once
  std::string webhook_url;                 // where events are POSTed (empty = no webhooks)
  std::string webhook_secret;              // HMAC-SHA256 key of the X-Chatd-Signature header
  int webhook_undelivered_after = 60;      // seconds a message may stay unacked before message.undelivered
  int webhook_queue_max = 10000;           // events waiting to be sent; past it the oldest are dropped

  // --- web-msg-sender's socket.io clients (docs/migrating-from-web-msg-sender.md) ----------------
  bool socketio = true;                    // serve /socket.io/ (Engine.IO 3 and 4) on the main port
  std::string socketio_listen;             // ADDR:PORT of a second listener for /socket.io/ only (empty = off)
  bool socketio_trust_uid = false;         // `login` with a plain uid is believed: anyone may pose as anyone
  int socketio_ping_interval = 25;         // seconds between heartbeats (Engine.IO pingInterval)
  int socketio_ping_timeout = 20;          // seconds a heartbeat may be late (pingTimeout)
  std::string socketio_online_text = "当前<b>{users}</b>人在线，共打开<b>{pages}</b>个页面";  // update_online_count, as web-msg-sender says it

  // --- logging ----------------------------------------------------------------------------
  std::string log_level = "notice";        // err | warn | notice | info | debug

  // Filled by Validate() from `listen`.
  std::string listen_host;
  int listen_port = 0;
  bool registration_open = false;
  std::string push_host;  // from `push-listen`; push_port 0 with an empty host: off
  int push_port = 0;
  std::string socketio_host;  // from `socketio-listen`
  int socketio_port = 0;

  // Checks every field; on success fills the derived fields above.
  // Returns BadRequest naming the key and the problem ("listen: ...").
  util::Status Validate();
  // Settings that are valid but unsafe, one sentence each (check-config prints them, serve logs them).
  std::vector<std::string> Warnings() const;
};

// "127.0.0.1:8080" -> host "127.0.0.1", port 8080; "[::1]:0" -> "::1", 0.
util::Status ParseListen(const std::string& text, std::string* host, int* port);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

}  // namespace chatd::config
