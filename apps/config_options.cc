#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "apps/commands.h"

namespace streamrec {

void add_config_options(CLI::App* cmd, ConfigOptions& options) {
  cmd->add_option("--config", options.file, "YAML settings file (see configs/default.yaml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", options.sets, "Override one setting, key=value (repeatable)");
}

Config load_config_or_exit(const ConfigOptions& options) {
  std::vector<std::string> warnings;
  auto config = load_config({options.file, process_environment(), options.sets}, &warnings);
  if (!config.ok()) {
    std::fprintf(stderr, "streamrec: bad configuration: %s\n", config.error().message.c_str());
    std::exit(2);
  }
  spdlog::set_level(spdlog::level::from_str(config->log.level));
  for (const std::string& warning : warnings) spdlog::warn("{}", warning);
  return std::move(config).value();
}

// `streamrec config`: prints every effective setting, one key: value a line.
void add_config_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("config", "Print the effective settings after --config, STREAMREC_* and --set");
  auto options = std::make_shared<ConfigOptions>();
  add_config_options(cmd, *options);
  cmd->callback([options, &exit_code] {
    Config config = load_config_or_exit(*options);
    for (auto& [key, value] : describe(config)) std::printf("%s: %s\n", key.c_str(), redacted(key, value).c_str());
    exit_code = 0;
  });
}

}  // namespace streamrec
