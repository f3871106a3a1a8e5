// The EventSink of the consumer slice: per-user and per-item counters and
// sr:pop popularity in Redis (feature_store/feature_effects.h), written
// exactly once per event through the IdempotentWriter in one pipelined round
// trip per batch. Reconnects on the next apply() after a connection failure.
// Not thread-safe.
#pragma once

#include <optional>

#include "consumers/consume_loop.h"
#include "feature_store/feature_effects.h"
#include "feature_store/idempotent_writer.h"
#include "feature_store/redis_connection.h"

namespace streamrec {

class RedisCounterSink : public EventSink {
 public:
  explicit RedisCounterSink(const Config& config);
  Status apply(const ConsumedBatch& consumed) override;

 private:
  RedisConfig redis_config_;
  FeatureEffects effects_;
  IdempotentWriter writer_;
  std::optional<RedisConnection> redis_;
  EffectBatch batch_;
};

}  // namespace streamrec
