// SPDX-License-Identifier: MIT
//
// chatd's entry point and the one composition root (STYLE L5): the command line is parsed by
// admin::RunCli, and `serve` builds the concrete objects here, in dependency order, and tears
// them down in reverse: the network loop first, then the storage thread (finishing queued
// work), the hashing pool, and last the completions those left behind.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "admin/cli.h"
#include "auth/crypto.h"
#include "auth/hash_pool.h"
#include "core/auth_service.h"
#include "core/chat_service.h"
#include "net/http_api.h"
#include "net/lws_server.h"
#include "net/outbox_switch.h"
#include "net/site_api.h"
#include "net/socketio_endpoint.h"
#include "net/ws_endpoint.h"
#include "store/data_dir.h"
#include "store/engine.h"
#include "store/engine_chat_store.h"
#include "store/storage_thread.h"
#include "util/clock.h"
#include "util/completion_queue.h"
#include "util/log.h"
#include "webhook/sender.h"

namespace {

chatd::net::LwsServer* g_server = nullptr;

void OnSignal(int) {
  if (g_server) g_server->RequestStop();
}

int Serve(chatd::config::Config& cfg) {
  using namespace chatd;
  if (!auth::InitCrypto()) {
    std::fprintf(stderr, "chatd: cannot initialise libsodium\n");
    return 1;
  }
  auto t_start = std::chrono::steady_clock::now();
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  std::unique_ptr<store::DataDir> dir;
  util::Status s = store::DataDir::Open(cfg.data_dir, true, &dir);
  if (!s.ok()) {
    std::fprintf(stderr, "chatd: %s\n", s.message().c_str());
    return 1;
  }
  util::SystemClock clock;
  store::EngineOptions eo;
  eo.db_path = dir->DbPath();
  eo.history_path = dir->HistoryPath();
  eo.clock = &clock;
  eo.history_max_messages = cfg.history_max_messages;
  eo.history_max_days = cfg.history_max_days;
  eo.dedupe_days = cfg.dedupe_days;
  eo.dedupe_max_entries = static_cast<size_t>(cfg.dedupe_max);
  eo.pool_max_messages = cfg.pool_max_messages;
  eo.pool_max_bytes = cfg.pool_max_bytes;
  eo.max_rooms_per_user = cfg.max_rooms_per_user;
  eo.webhooks = !cfg.webhook_url.empty();
  eo.undelivered_after_ms = static_cast<int64_t>(cfg.webhook_undelivered_after) * 1000;
  std::unique_ptr<store::Engine> engine;
  store::OpenReport report;
  s = store::Engine::Open(eo, &engine, &report);
  if (!s.ok()) {
    std::fprintf(stderr, "chatd: cannot open the data in %s: %s\n", cfg.data_dir.c_str(), s.message().c_str());
    return 1;
  }
  double t_data = ms_since(t_start);
  if (report.schema_from != report.schema_to) {
    LOG_NOTICE("database schema upgraded from version %d to %d", report.schema_from, report.schema_to);
  }
  if (report.history_caught_up > 0) {
    LOG_NOTICE("history cache: copied %lld message(s) from the database", static_cast<long long>(report.history_caught_up));
  }

  std::unique_ptr<webhook::Sender> webhooks;
  if (eo.webhooks) {
    webhook::SenderOptions wo;
    wo.url = cfg.webhook_url;
    wo.secret = cfg.webhook_secret;
    wo.db_path = eo.db_path;
    wo.queue_max = cfg.webhook_queue_max;
    if (!(s = webhook::Sender::Start(wo, &clock, &webhooks)).ok()) {
      std::fprintf(stderr, "chatd: cannot start webhooks: %s\n", s.message().c_str());
      return 1;
    }
    LOG_NOTICE("webhooks: events go to %s", cfg.webhook_url.c_str());
  }

  util::CompletionQueue completions;
  store::StorageThread::Options so;
  so.free_space_path = dir->path();
  so.min_free_bytes = cfg.min_free_space;
  store::StorageThread storage(engine.get(), &completions, so);
  store::EngineChatStore chat_store(&storage);
  auto hashes = std::make_unique<auth::HashPool>(&completions, 2);
  core::AuthOptions ao;
  ao.registration_open = cfg.registration_open;
  ao.session_days = cfg.session_days;
  ao.site_secret = cfg.site_secret;
  ao.site_users_may_be_local = cfg.site_users_may_be_local;
  core::AuthService auth_service(ao, &chat_store, hashes.get(), &clock);

  core::ServiceOptions co;
  co.auth_timeout_ms = static_cast<int64_t>(cfg.auth_timeout) * 1000;
  co.max_text = cfg.max_text;
  co.rate = cfg.rate;
  co.burst = cfg.burst;
  co.room_rate = cfg.room_rate;
  co.room_burst = cfg.room_burst;
  co.sync_pause_bytes = static_cast<size_t>(cfg.outbound_limit / 4);
  co.outbound_limit = static_cast<size_t>(cfg.outbound_limit);
  co.presence_grace_ms = cfg.presence_grace_ms;
  co.large_room = static_cast<size_t>(cfg.large_room);
  co.publish_rate = cfg.publish_rate;
  co.publish_burst = cfg.publish_burst;
  co.webhooks = eo.webhooks;
  co.user_directory = cfg.user_directory;
  // The connections first (the core writes to them), then the core, then what feeds it.
  net::WsEndpoint ws(cfg);
  net::SocketIoEndpoint socketio(cfg, &ws, &clock);
  net::SocketIoEndpoint* sio = cfg.socketio ? &socketio : nullptr;
  net::OutboxSwitch outbox(&ws, sio);
  core::ChatService service(co, &auth_service, &chat_store, &outbox, &clock, &chat_store);
  net::SiteApi site_api(cfg, service.publisher(), &chat_store);
  net::HttpApi http(cfg, &auth_service, &chat_store, &service, &site_api, sio);
  socketio.Attach(&service, &http);
  net::LwsServer server(cfg, &completions, &chat_store, &ws, &http, &service, sio);
  s = server.Start();
  if (!s.ok()) {
    storage.Stop();
    std::fprintf(stderr, "chatd: %s\n", s.message().c_str());
    return 1;
  }

  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string push = server.push_url().empty() ? "" : ", push on " + server.push_url();
  if (!server.socketio_url().empty()) push += ", socket.io on " + server.socketio_url();
  for (const auto& w : cfg.Warnings()) LOG_WARN("%s", w.c_str());
  std::printf("chatd serving on %s (data in %s, registration %s%s)\n", server.url().c_str(), dir->path().c_str(),
              cfg.registration_open ? "open" : "closed", push.c_str());
  std::fflush(stdout);
  LOG_NOTICE("listening on %s", server.url().c_str());
  LOG_INFO("start-up took %.1f ms (%.1f ms opening the data)", ms_since(t_start), t_data);
  server.Run();
  g_server = nullptr;

  storage.Stop();
  if (webhooks) webhooks->Stop();
  hashes.reset();
  completions.Drain();
  LOG_NOTICE("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return chatd::admin::RunCli(argc, argv, Serve, std::cout, std::cerr);
}
