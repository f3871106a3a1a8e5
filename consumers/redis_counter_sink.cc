#include "consumers/redis_counter_sink.h"

namespace streamrec {

RedisCounterSink::RedisCounterSink(const Config& config)
    : redis_config_(config.redis), counters_(RedisKeys(config.redis.prefix), config.popularity) {}

Status RedisCounterSink::apply(const std::vector<ConsumedEvent>& events) {
  if (!redis_ || redis_->broken()) {
    redis_.reset();
    auto conn = RedisConnection::connect(redis_config_.url, static_cast<int>(redis_config_.timeout_ms));
    if (!conn.ok()) return Error{conn.error().message};
    redis_.emplace(std::move(conn).value());
  }
  batch_.clear();
  for (const ConsumedEvent& e : events) counters_.add(e.event, e.source, e.offset, batch_);
  return writer_.apply(*redis_, batch_);
}

}  // namespace streamrec
