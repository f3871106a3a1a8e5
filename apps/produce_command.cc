// `streamrec produce`: the synthetic stream or a replayed file to Kafka, or
// the synthetic stream to files together with its ground truth.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "apps/commands.h"
#include "core/stop_signal.h"
#include "apps/dataset_input.h"
#include "producers/datasets/dataset.h"
#include "producers/produce.h"
#include "producers/progress.h"
#include "producers/synthetic_files.h"

namespace streamrec {

namespace {

struct ProduceOptions {
  ConfigOptions config;
  bool synthetic = false;
  std::string to_file;
  std::string replay;
  std::string replay_items;
  std::string format = "jsonl";
  bool no_items = false;  // the learners load the catalog themselves (learn --catalog)
  std::optional<int64_t> impressions, seed, users, items;
  std::optional<double> rate;
};

// The shorthands win over --config, STREAMREC_* and --set.
void apply_shorthands(const ProduceOptions& options, Config& config) {
  SyntheticConfig& s = config.producer.synthetic;
  if (options.impressions) s.impressions = *options.impressions;
  if (options.seed) s.seed = *options.seed;
  if (options.users) s.users = *options.users;
  if (options.items) s.items = *options.items;
  if (options.rate) config.producer.rate = *options.rate;
}

int run_to_file(const Config& config, const std::string& dir) {
  auto start = std::chrono::steady_clock::now();
  auto summary = write_synthetic_files(config.producer.synthetic, dir);
  if (!summary.ok()) {
    std::fprintf(stderr, "streamrec produce: %s\n", summary.error().message.c_str());
    return 1;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr,
               "produce: wrote %lld items (+%lld launches and retirements) and %lld events (%lld impressions, "
               "%lld clicks, %lld purchases) to %s in %.2f s (%.0f events/s)\n",
               static_cast<long long>(summary->items), static_cast<long long>(summary->item_changes),
               static_cast<long long>(summary->events),
               static_cast<long long>(summary->impressions), static_cast<long long>(summary->clicks),
               static_cast<long long>(summary->purchases), dir.c_str(), seconds,
               seconds > 0 ? summary->events / seconds : 0.0);
  return 0;
}

int run_to_kafka(const Config& config, const ProduceOptions& options) {
  StopSignal stop;
  Progress bar(stderr, ::isatty(STDERR_FILENO) == 1, /*total=*/1000);  // in per mille
  ProduceHooks hooks;
  hooks.stop = [&stop] { return stop.stop_requested(); };
  hooks.progress = [&bar](int64_t done, int64_t total, int64_t events, int64_t failed) {
    bar.update(total > 0 ? done * 1000 / total : 0, events, failed);
  };
  Result<ProduceReport> report = Error{""};
  if (options.synthetic) {
    report = produce_synthetic(config, hooks);
  } else if (options.format == "jsonl") {
    report = produce_replay(config, options.replay, options.replay_items, hooks);
  } else {
    auto dataset =
        read_dataset_or_report("streamrec produce", options.replay, options.format, config, options.replay_items,
                               "--replay-items");
    if (!dataset) return 1;
    if (options.no_items) dataset->items.clear();
    report = produce_dataset(config, *dataset, hooks);
  }
  bar.finish();
  if (!report.ok()) {
    std::fprintf(stderr, "streamrec produce: %s\n", report.error().message.c_str());
    return 1;
  }
  const ProduceReport& r = *report;
  std::fprintf(stderr,
               "produce: %lld events (+%lld items) to %s at %s in %.2f s, %.0f events/s, %lld delivery failures%s\n",
               static_cast<long long>(r.events), static_cast<long long>(r.items), config.kafka.events_topic.c_str(),
               config.kafka.bootstrap_servers.c_str(), r.seconds, r.seconds > 0 ? r.events / r.seconds : 0.0,
               static_cast<long long>(r.failed), r.interrupted ? " (interrupted)" : "");
  if (r.failed > 0) {
    std::fprintf(stderr, "streamrec produce: last delivery error: %s\n", r.last_error.c_str());
    return 1;
  }
  return r.interrupted ? 130 : 0;
}

}  // namespace

void add_produce_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("produce", "Produce the synthetic stream or replay JSONL files to Kafka");
  cmd->footer(
      "Modes (choose one):\n"
      "  --synthetic              the synthetic stream (producer.synthetic.*) to Kafka: the item catalog\n"
      "                           to kafka.items_topic (key item_id), then events to kafka.events_topic\n"
      "                           (key user_id) at producer.rate events/s\n"
      "  --synthetic --to-file D  write D/items.jsonl, D/events.jsonl and D/truth.csv\n"
      "                           (event_id,p_click,p_cvr,p_ctcvr,clicked,purchased per impression)\n"
      "  --replay F [--replay-items I]\n"
      "                           send each line of I to the items topic, then each line of F to the\n"
      "                           events topic, unchanged (malformed lines too; the consumer dead-letters\n"
      "                           them), keyed by the line's item_id / user_id when readable\n"
      "  --replay F --format taobao|retailrocket|rees46|movielens|csv\n"
      "                           read a public behaviour log: its derived catalog to the items topic,\n"
      "                           then its events in event-time order; malformed rows are rejected and\n"
      "                           reported with their line numbers (docs/datasets.md); with --no-items\n"
      "                           the events only, for learners started with `learn --catalog F\n"
      "                           --catalog-format F` (a catalog bigger than the items topic keeps)\n"
      "Realistic label delays, taste drift and item churn: --set producer.synthetic.delays=realistic,\n"
      "  producer.synthetic.drift_share=..., producer.synthetic.churn_share=... (configs/default.yaml)\n"
      "A progress bar is drawn when stderr is a terminal; one summary line is printed at the end.\n"
      "Exit status: 0 all delivered, 1 a message was not delivered (or an error), 2 bad usage, 130 interrupted.\n"
      "See docs/producers.md.");
  auto options = std::make_shared<ProduceOptions>();
  add_config_options(cmd, options->config);
  auto* synthetic = cmd->add_flag("--synthetic", options->synthetic, "Generate the synthetic stream");
  cmd->add_option("--to-file", options->to_file, "With --synthetic: write files to this directory instead of Kafka")
      ->needs(synthetic);
  auto* replay = cmd->add_option("--replay", options->replay, "Replay this events JSONL file")->check(CLI::ExistingFile);
  auto* replay_items =
      cmd->add_option("--replay-items", options->replay_items,
                      "The file that describes the items: with --format jsonl an items JSONL, replayed before "
                      "--replay; retailrocket its item_properties.csv, movielens its movies.csv (categories)")
          ->check(CLI::ExistingFile);
  synthetic->excludes(replay)->excludes(replay_items);
  cmd->add_option("--format", options->format,
                  "With --replay: the file's format, one of " + std::string(dataset_format_names()) +
                      " (docs/datasets.md)")
      ->check([](const std::string& f) { return parse_dataset_format(f).ok() ? "" : parse_dataset_format(f).error().message; })
      ->needs(replay);
  cmd->add_flag("--no-items", options->no_items,
                "With --replay F --format F (not jsonl): send the events only, not the derived catalog; start the "
                "learners with --catalog F --catalog-format F")
      ->needs(replay);
  cmd->add_option("--impressions", options->impressions, "Shorthand for producer.synthetic.impressions")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", options->seed, "Shorthand for producer.synthetic.seed");
  cmd->add_option("--users", options->users, "Shorthand for producer.synthetic.users")->check(CLI::PositiveNumber);
  cmd->add_option("--items", options->items, "Shorthand for producer.synthetic.items")->check(CLI::PositiveNumber);
  cmd->add_option("--rate", options->rate, "Shorthand for producer.rate (events/s, 0 = as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([options, &exit_code] {
    Config config = load_config_or_exit(options->config);
    apply_shorthands(*options, config);
    if (options->no_items && options->format == "jsonl") {
      std::fprintf(stderr, "streamrec produce: --no-items is for --format taobao|retailrocket|rees46|movielens|csv; "
                           "with jsonl, leave out --replay-items\n");
      exit_code = 2;
      return;
    }
    if (!options->synthetic && options->replay.empty() && options->replay_items.empty()) {
      std::fprintf(stderr, "streamrec produce: say what to produce: --synthetic, or --replay FILE\n");
      exit_code = 2;
      return;
    }
    exit_code = options->to_file.empty() ? run_to_kafka(config, *options) : run_to_file(config, options->to_file);
  });
}

}  // namespace streamrec
