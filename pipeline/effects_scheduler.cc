#include "pipeline/effects_scheduler.h"

#include <utility>

namespace streamrec::pipeline {
namespace {

// The effects' writer with the config's bounds on what they grow: the user
// keys' TTL, the co-visit keys' members.
IdempotentWriter effects_writer(const Config& config, std::string marks_key) {
  IdempotentWriter writer(std::move(marks_key));
  writer.expire_user_keys(RedisKeys(config.redis.prefix).user_key_start(), config.redis.user_ttl_s);
  writer.cap_zsets(RedisKeys::item_covisits_end(), config.rankings.covisit_redis_max_members);
  return writer;
}

}  // namespace

EffectsScheduler::EffectsScheduler(const Config& config)
    : write_interval_(config.redis.write_interval_ms),
      effects_(RedisKeys(config.redis.prefix), config.popularity),
      writer_(config.redis.url, static_cast<int>(config.redis.timeout_ms),
              effects_writer(config, effects_.marks_key())) {}

bool EffectsScheduler::write_due() const {
  // What a failed write holds is due as well: without new events it would
  // wait forever (and with it the commits).
  return summary_due() ||
         ((!pending_.empty() || !forgotten_.empty() || writer_.holding()) && Clock::now() - last_write_ >= write_interval_);
}

Status EffectsScheduler::submit(StateWrites& state, bool with_summary) {
  last_write_ = Clock::now();
  if (with_summary) last_summary_ = last_write_;
  if (!forgotten_.empty()) {
    forgotten_.append(std::move(state));
    state = std::move(forgotten_);
    forgotten_.clear();
  }
  return writer_.submit(pending_, state);
}

}  // namespace streamrec::pipeline
