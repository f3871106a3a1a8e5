// streamrec: one binary, one subcommand per job (see DESIGN.md, "CLI").
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "apps/commands.h"

int main(int argc, char** argv) {
  // hiredis writes with plain write(): a Redis that closed the connection
  // must give an error to retry on, not a SIGPIPE that kills the learner.
  std::signal(SIGPIPE, SIG_IGN);
  // Likewise a file-size limit (RLIMIT_FSIZE) reached while checkpointing:
  // an EFBIG to report, with the previous checkpoint kept, not a SIGXFSZ
  // that kills the learner.
  std::signal(SIGXFSZ, SIG_IGN);
  // Logs go to stderr so that stdout stays machine-readable (the broker
  // prints its bootstrap address there, `config` its settings).
  spdlog::set_default_logger(spdlog::stderr_color_mt("streamrec"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"streamrec: a stream-processing real-time recommender"};
  app.require_subcommand(1);
  int exit_code = 0;
  streamrec::add_broker_command(app, exit_code);
  streamrec::add_learn_command(app, exit_code);
  streamrec::add_config_command(app, exit_code);
  streamrec::add_produce_command(app, exit_code);
  streamrec::add_train_command(app, exit_code);
  streamrec::add_serve_command(app, exit_code);
  streamrec::add_evaluate_command(app, exit_code);
  streamrec::add_forget_command(app, exit_code);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string commands;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == argv[1];
      commands += (commands.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "streamrec: unknown command \"%s\" (commands: %s; see --help)\n", argv[1], commands.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}
