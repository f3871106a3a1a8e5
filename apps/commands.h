// The `streamrec` subcommands. Each add_*_command registers one subcommand on
// the CLI11 app, with the options it owns, and arranges for it to run when
// chosen. Every subcommand takes --config FILE and --set key=value (see
// add_config_options); a bad option or setting stops with a message naming it
// and exit status 2.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "core/config.h"

namespace streamrec {

struct ConfigOptions {
  std::string file;
  std::vector<std::string> sets;
};

// Adds --config and --set to `cmd`.
void add_config_options(CLI::App* cmd, ConfigOptions& options);

// Loads the layered Config (file, STREAMREC_* environment, --set) and sets
// the log level; on error prints it and exits with status 2.
Config load_config_or_exit(const ConfigOptions& options);

// The exit status of the chosen subcommand is written to `exit_code`.
void add_broker_command(CLI::App& app, int& exit_code);
void add_learn_command(CLI::App& app, int& exit_code);
void add_config_command(CLI::App& app, int& exit_code);
void add_produce_command(CLI::App& app, int& exit_code);
void add_train_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);
void add_evaluate_command(CLI::App& app, int& exit_code);
void add_forget_command(CLI::App& app, int& exit_code);

}  // namespace streamrec
