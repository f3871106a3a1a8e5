// `streamrec serve`: the HTTP API (serving/, docs/serving.md) on
// serving.listen:serving.port, reading Redis and producing posted events to
// Kafka, until SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "apps/commands.h"
#include "core/stop_signal.h"
#include "feature_store/redis_url.h"
#include "serving/api.h"

namespace streamrec {

void add_serve_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve recommendations, features and events over HTTP (docs/serving.md)");
  auto options = std::make_shared<ConfigOptions>();
  add_config_options(cmd, *options);
  cmd->callback([options, &exit_code] {
    Config config = load_config_or_exit(*options);
    if (auto endpoint = parse_redis_url(config.redis.url); !endpoint.ok()) {
      std::fprintf(stderr, "streamrec: bad configuration: %s\n", endpoint.error().message.c_str());
      exit_code = 2;
      return;
    }
    StopSignal stop;  // before any thread starts: they inherit its signal mask
    serving::ServingMetrics metrics;
    serving::RedisPool redis(config.redis.url, static_cast<int>(config.redis.timeout_ms),
                             static_cast<size_t>(config.serving.threads));
    auto publisher = serving::EventPublisher::create(config.kafka);
    if (!publisher.ok()) {
      spdlog::error("serve: {}", publisher.error().message);
      exit_code = 2;
      return;
    }
    serving::ServingApi api(config, redis, publisher->get(), metrics);
    serving::HttpServerOptions server_options;
    server_options.address = config.serving.listen;
    server_options.port = static_cast<uint16_t>(config.serving.port);
    server_options.threads = static_cast<int>(config.serving.threads);
    server_options.max_body_bytes = static_cast<uint64_t>(config.serving.max_body_bytes);
    server_options.idle_timeout = std::chrono::seconds(config.serving.idle_timeout_s);
    auto server = serving::HttpServer::start(
        server_options, [&api](boost::asio::io_context& thread_io) { return api.handler_for(thread_io); });
    if (!server.ok()) {
      spdlog::error("serve: {}", server.error().message);
      exit_code = 1;
      return;
    }
    const std::string url = "http://" + config.serving.listen + ":" + std::to_string((*server)->port());
    spdlog::info("serve: {} with {} threads, reading {}, events to {} at {}; writes {}", url, config.serving.threads,
                 redact_url(config.redis.url), config.kafka.events_topic, config.kafka.bootstrap_servers,
                 config.serving.auth_token.empty() ? "disabled (no serving.auth_token)" : "need the bearer token");
    std::printf("%s\n", url.c_str());
    std::fflush(stdout);
    while (!stop.wait_for(std::chrono::milliseconds(500))) {
    }
    // Stop reading requests, then let the broker answer those in flight
    // (their answers are dropped with the connections), then the rest.
    (*server)->stop();
    publisher->reset();
    spdlog::info("serve: stopped");
    exit_code = 0;
  });
}

}  // namespace streamrec
