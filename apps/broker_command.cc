// `streamrec broker`: the embedded Kafka cluster, until SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>

#include "apps/broker_control.h"
#include "apps/commands.h"
#include "core/embedded_broker.h"
#include "core/stop_signal.h"

namespace streamrec {

namespace {
struct BrokerOptions {
  ConfigOptions config;
  int brokers = 3;
  int events_partitions = 6;
  std::string address_file;
  std::string control;
};
}  // namespace

void add_broker_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "broker", "Run an embedded Kafka cluster (librdkafka mock) on 127.0.0.1 and print its bootstrap address");
  auto options = std::make_shared<BrokerOptions>();
  add_config_options(cmd, options->config);
  cmd->add_option("--brokers", options->brokers, "Number of brokers")->check(CLI::Range(1, 16));
  cmd->add_option("--events-partitions", options->events_partitions, "Partitions of the events topic")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--address-file", options->address_file, "Also write the bootstrap address to this file");
  cmd->add_option("--control", options->control,
                  "Make this named pipe and apply the faults written to it, one a line: down ID, up ID, "
                  "leader TOPIC PARTITION ID, coordinator GROUP ID (brokers numbered from 1)");
  cmd->callback([options, &exit_code] {
    Config config = load_config_or_exit(options->config);
    StopSignal stop;
    auto broker = EmbeddedBroker::start(options->brokers, {{config.kafka.events_topic, options->events_partitions},
                                                           {config.kafka.items_topic, 1},
                                                           {config.kafka.dlq_topic, 1}});
    if (!broker.ok()) {
      spdlog::error("{}", broker.error().message);
      exit_code = 1;
      return;
    }
    std::unique_ptr<BrokerControl> control;
    if (!options->control.empty()) {
      auto opened = BrokerControl::open(options->control, *broker);
      if (!opened.ok()) {
        spdlog::error("{}", opened.error().message);
        exit_code = 1;
        return;
      }
      control = std::move(opened).value();
    }
    std::printf("%s\n", broker->bootstrap_servers().c_str());
    std::fflush(stdout);
    if (!options->address_file.empty()) {
      // Written then renamed, so a reader never sees half an address.
      std::string tmp = options->address_file + ".tmp";
      std::ofstream(tmp) << broker->bootstrap_servers() << "\n";
      std::rename(tmp.c_str(), options->address_file.c_str());
    }
    spdlog::info("broker: {} brokers at {}; topics {} ({} partitions), {}, {}; Ctrl-C stops", options->brokers,
                 broker->bootstrap_servers(), config.kafka.events_topic, options->events_partitions,
                 config.kafka.items_topic, config.kafka.dlq_topic);
    if (control) {
      while (!stop.stop_requested()) control->poll(/*timeout_ms=*/200);
    } else {
      while (!stop.wait_for(std::chrono::seconds(1))) {
      }
    }
    spdlog::info("broker: stopping");
    exit_code = 0;
  });
}

}  // namespace streamrec
