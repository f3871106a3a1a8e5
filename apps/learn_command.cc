// `streamrec learn`: consume events and items in consumer group
// kafka.group_id, send bad messages to the dead-letter topic, learn online,
// and keep features, popularity and rankings in Redis.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include "apps/commands.h"
#include "producers/datasets/dataset.h"
#include "consumers/consume_loop.h"
#include "pipeline/stream_pipeline.h"
#include "core/event.h"
#include "core/stop_signal.h"
#include "core/wall_clock.h"
#include "feature_store/redis_url.h"
#include "serving/http_server.h"
#include "serving/learner_metrics.h"

namespace streamrec {

namespace {

// The learner's last reported stats, kept for its /metrics (serving.listen:
// serving.learner_metrics_port): the consumer's thread stores, the HTTP
// thread renders.
class LearnerMetricsEndpoint {
 public:
  void store(const std::string& stats_json) {
    std::lock_guard lock(mutex_);
    stats_json_ = stats_json;
    reported_ = std::chrono::steady_clock::now();
  }
  void handle(serving::HttpRequest&& request, const serving::Respond& respond) {
    namespace http = boost::beast::http;
    const std::string_view target(request.target().data(), request.target().size());
    if (target != "/metrics") {
      return respond(serving::error_response(http::status::not_found, "unknown_route",
                                             "the learner serves GET /metrics only", request.version()));
    }
    serving::PrometheusText text;
    {
      std::lock_guard lock(mutex_);
      const double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - reported_).count();
      serving::expose_learner_metrics(stats_json_, age, text);
    }
    serving::HttpResponse response(http::status::ok, request.version());
    response.set(http::field::content_type, boost::beast::string_view(serving::kPrometheusContentType.data(),
                                                                        serving::kPrometheusContentType.size()));
    response.body() = text.text();
    respond(std::move(response));
  }

 private:
  std::mutex mutex_;
  std::string stats_json_;
  std::chrono::steady_clock::time_point reported_ = std::chrono::steady_clock::now();
};

// This learner's name on the dashboard: host:pid.
std::string learner_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "localhost") + ":" + std::to_string(getpid());
}

// A sample for sr:stats: the report with the wall-clock time and who took it.
std::string stats_sample(const std::string& learner, const std::string& report_json) {
  std::string sample = "{\"ts\":" + std::to_string(wall_clock_ms()) + ",\"learner\":";
  append_json_string(sample, learner);
  sample += ",";
  sample.append(report_json, 1);  // the report's fields after its opening brace
  return sample;
}

struct LearnOptions {
  ConfigOptions config;
  double stop_after_idle_s = 0;
  std::string stats_file;
  std::string checkpoint;
  double status_interval_s = 5;
  std::string catalog;
  std::string catalog_format = "jsonl";
  std::string catalog_items;
};
}  // namespace

void add_learn_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("learn", "Consume events from Kafka, learn online, keep features and rankings in Redis");
  auto options = std::make_shared<LearnOptions>();
  add_config_options(cmd, options->config);
  cmd->add_option("--stop-after-idle", options->stop_after_idle_s,
                  "Stop after this many seconds without a message (default: run until SIGINT/SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--stats-file", options->stats_file,
                  "Write the consumer stats as JSON here with every status line and at exit");
  cmd->add_option("--checkpoint", options->checkpoint, "Shorthand for checkpoint.path");
  cmd->add_option("--status-interval", options->status_interval_s,
                  "Seconds between status lines (and stats-file updates)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--catalog", options->catalog,
                  "Load the whole catalog from this file before consuming (items JSONL, or a dataset file of "
                  "--catalog-format): every learner started with it holds every item, however big")
      ->check(CLI::ExistingFile);
  cmd->add_option("--catalog-items", options->catalog_items,
                  "With --catalog-format retailrocket or movielens: the file that describes the items "
                  "(item_properties.csv, movies.csv: categories)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--catalog-format", options->catalog_format,
                  "The --catalog file's format: jsonl (items), or a dataset format whose catalog is derived: " +
                      std::string(dataset_format_names()))
      ->check([](const std::string& f) { return parse_dataset_format(f).ok() ? "" : parse_dataset_format(f).error().message; });
  cmd->callback([options, &exit_code] {
    Config config = load_config_or_exit(options->config);
    if (!options->checkpoint.empty()) config.checkpoint.path = options->checkpoint;
    // A URL that cannot work stops start-up, not every write after it.
    if (auto endpoint = parse_redis_url(config.redis.url); !endpoint.ok()) {
      std::fprintf(stderr, "streamrec: bad configuration: %s\n", endpoint.error().message.c_str());
      exit_code = 2;
      return;
    }
    StopSignal stop;
    auto pipeline = pipeline::StreamPipeline::create(config);
    if (!pipeline.ok()) {
      spdlog::error("{}", pipeline.error().message);
      exit_code = 2;
      return;
    }
    if (!options->catalog_items.empty() && (options->catalog.empty() || options->catalog_format == "jsonl")) {
      spdlog::error("learn: --catalog-items describes the items of a --catalog of --catalog-format retailrocket or "
                    "movielens; a jsonl --catalog is the items themselves");
      exit_code = 2;
      return;
    }
    if (!options->catalog.empty()) {
      auto started = std::chrono::steady_clock::now();
      DatasetOptions dataset_options;
      dataset_options.items_path = options->catalog_items;
      const DatasetFormat format = *parse_dataset_format(options->catalog_format);
      if (const char* needed = needed_item_file(format); needed && options->catalog_items.empty())
        spdlog::warn("learn: {} files name items only: give --catalog-items {} for their categories "
                     "(docs/datasets.md, \"The catalog\")", options->catalog_format, needed);
      auto catalog = read_catalog(options->catalog, format, dataset_options);
      if (!catalog.ok()) {
        spdlog::error("learn: --catalog {}", catalog.error().message);
        exit_code = 1;
        return;
      }
      std::vector<Item> items;
      items.reserve(catalog->size());
      for (DatasetItem& i : *catalog) items.push_back(std::move(i.item));
      (*pipeline)->load_catalog(items, "catalog:" + options->catalog);
      spdlog::info("learn: loaded {} items from {} in {:.2f} s", items.size(), options->catalog,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    auto loop = ConsumeLoop::create(config, **pipeline);
    if (!loop.ok()) {
      spdlog::error("{}", loop.error().message);
      exit_code = 1;
      return;
    }
    LearnerMetricsEndpoint metrics;
    std::unique_ptr<serving::HttpServer> metrics_server;
    if (config.serving.learner_metrics_port > 0) {
      serving::HttpServerOptions server_options;
      server_options.address = config.serving.listen;
      server_options.port = static_cast<uint16_t>(config.serving.learner_metrics_port);
      server_options.threads = 1;
      auto server = serving::HttpServer::start(server_options, [&metrics](serving::HttpRequest&& r, serving::Respond respond) {
        metrics.handle(std::move(r), respond);
      });
      if (!server.ok()) {
        spdlog::error("learn: /metrics: {}", server.error().message);
        exit_code = 2;
        return;
      }
      metrics_server = std::move(server).value();
      spdlog::info("learn: metrics at http://{}:{}/metrics", config.serving.listen, metrics_server->port());
    }
    spdlog::info("learn: group {} on {} at {}, writing {}", config.kafka.group_id, config.kafka.events_topic,
                 config.kafka.bootstrap_servers, redact_url(config.redis.url));
    ConsumeOptions run_options;
    run_options.stats_file = options->stats_file;
    // Every report goes to /metrics and, for serve's dashboard, to sr:stats.
    run_options.on_report = [&metrics, &metrics_server, &pipeline, learner = learner_name()](const std::string& json) {
      if (metrics_server) metrics.store(json);
      (*pipeline)->publish_stats(stats_sample(learner, json));
    };
    run_options.status_interval =
        std::chrono::milliseconds(static_cast<int64_t>(options->status_interval_s * 1000));
    run_options.stop_after_idle = std::chrono::milliseconds(static_cast<int64_t>(options->stop_after_idle_s * 1000));
    Status status = (*loop)->run(stop, run_options);
    if (Status s = (*pipeline)->save_checkpoint(); !s.ok()) spdlog::error("learn: {}", s.message());
    if (!status.ok()) {
      spdlog::error("learn: {}", status.message());
      // 3: Redis lost data (docs/operations.md, "Redis losing data"):
      // restarting as is would not help.
      exit_code = status.fatal() ? 3 : 1;
      return;
    }
    exit_code = 0;
  });
}

}  // namespace streamrec
