// `streamrec produce`: the synthetic stream (or a replayed file) to Kafka, or
// the synthetic stream to files with its ground truth.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "apps/commands.h"
#include "producers/synthetic_files.h"

namespace streamrec {

namespace {

struct ProduceOptions {
  ConfigOptions config;
  bool synthetic = false;
  std::string to_file;
  std::optional<int64_t> impressions, seed, users, items;
};

// The shorthands win over --config, STREAMREC_* and --set.
void apply_shorthands(const ProduceOptions& options, Config& config) {
  SyntheticConfig& s = config.producer.synthetic;
  if (options.impressions) s.impressions = *options.impressions;
  if (options.seed) s.seed = *options.seed;
  if (options.users) s.users = *options.users;
  if (options.items) s.items = *options.items;
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
               "produce: wrote %lld items and %lld events (%lld impressions, %lld clicks, %lld purchases) to %s "
               "in %.2f s (%.0f events/s)\n",
               static_cast<long long>(summary->items), static_cast<long long>(summary->events),
               static_cast<long long>(summary->impressions), static_cast<long long>(summary->clicks),
               static_cast<long long>(summary->purchases), dir.c_str(), seconds,
               seconds > 0 ? summary->events / seconds : 0.0);
  return 0;
}

}  // namespace

void add_produce_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("produce", "Produce the synthetic stream (or write it to files with its ground truth)");
  cmd->footer(
      "With --synthetic --to-file DIR, writes DIR/items.jsonl, DIR/events.jsonl and DIR/truth.csv\n"
      "(event_id,p_click,p_cvr,p_ctcvr,clicked,purchased per impression). See docs/producers.md.");
  auto options = std::make_shared<ProduceOptions>();
  add_config_options(cmd, options->config);
  cmd->add_flag("--synthetic", options->synthetic, "Generate the synthetic stream (producer.synthetic.*)");
  cmd->add_option("--to-file", options->to_file, "Write the stream to this directory instead of Kafka");
  cmd->add_option("--impressions", options->impressions, "Shorthand for producer.synthetic.impressions")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", options->seed, "Shorthand for producer.synthetic.seed");
  cmd->add_option("--users", options->users, "Shorthand for producer.synthetic.users")->check(CLI::PositiveNumber);
  cmd->add_option("--items", options->items, "Shorthand for producer.synthetic.items")->check(CLI::PositiveNumber);
  cmd->callback([options, &exit_code] {
    Config config = load_config_or_exit(options->config);
    apply_shorthands(*options, config);
    if (!options->synthetic) {
      std::fprintf(stderr, "streamrec produce: say what to produce: --synthetic\n");
      exit_code = 2;
      return;
    }
    if (!options->to_file.empty()) {
      exit_code = run_to_file(config, options->to_file);
      return;
    }
    std::fprintf(stderr, "streamrec produce: --synthetic needs --to-file DIR\n");
    exit_code = 2;
  });
}

}  // namespace streamrec
