// `streamrec forget USER`: forgets a user as `DELETE /v1/users/{id}` does
// (serving/user_forgetter.h): the user's tombstone to the events topic,
// keyed by the user, then their Redis keys deleted once the broker
// acknowledged it. Prints the outcome as the API's JSON answer; exit status
// 0 when the broker acknowledged the tombstone, 1 when not (nothing was
// deleted: run it again), 2 for a bad user id or configuration.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <future>

#include "apps/commands.h"
#include "core/event.h"
#include "serving/user_forgetter.h"

namespace streamrec {

void add_forget_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("forget", "Forget a user: tombstone to Kafka, keys out of Redis (docs/serving.md)");
  auto options = std::make_shared<ConfigOptions>();
  auto user_id = std::make_shared<std::string>();
  cmd->add_option("user", *user_id, "the user_id to forget")->required();
  add_config_options(cmd, *options);
  cmd->callback([options, user_id, &exit_code] {
    Config config = load_config_or_exit(*options);
    bool control = false;
    for (unsigned char c : *user_id) control = control || c < 0x20 || c == 0x7f;
    if (user_id->empty() || user_id->size() > kMaxIdBytes || control) {
      std::fprintf(stderr, "streamrec forget: a user id is 1 to %zu bytes without control characters\n", kMaxIdBytes);
      exit_code = 2;
      return;
    }
    auto publisher = serving::EventPublisher::create(config.kafka);
    if (!publisher.ok()) {
      std::fprintf(stderr, "streamrec forget: %s\n", publisher.error().message.c_str());
      exit_code = 2;
      return;
    }
    serving::RedisPool redis(config.redis.url, static_cast<int>(config.redis.timeout_ms), 1);
    serving::UserForgetter forgetter(config.kafka.events_topic, RedisKeys(config.redis.prefix), **publisher, redis);
    std::promise<serving::ForgetOutcome> answered;
    forgetter.forget(*user_id, [&answered](serving::ForgetOutcome outcome) { answered.set_value(std::move(outcome)); });
    serving::ForgetOutcome outcome = answered.get_future().get();
    if (!outcome.kafka_error.empty()) {
      std::fprintf(stderr, "streamrec forget: the broker did not acknowledge the tombstone, nothing was deleted: %s\n",
                   outcome.kafka_error.c_str());
      exit_code = 1;
      return;
    }
    if (!outcome.redis_error.empty())
      spdlog::warn("forget: Redis did not delete the keys now ({}); the learners delete them when they reach the "
                   "tombstone",
                   outcome.redis_error);
    std::string out = "{\"user_id\":";
    append_json_string(out, *user_id);
    out += ",\"event_id\":";
    append_json_string(out, outcome.event_id);
    out += ",\"keys_deleted\":" + (outcome.keys_deleted ? std::to_string(*outcome.keys_deleted) : std::string("null"));
    std::printf("%s}\n", out.c_str());
    exit_code = 0;
  });
}

}  // namespace streamrec
