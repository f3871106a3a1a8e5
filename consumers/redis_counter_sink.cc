#include "consumers/redis_counter_sink.h"

namespace streamrec {

RedisCounterSink::RedisCounterSink(const Config& config)
    : redis_config_(config.redis), effects_(RedisKeys(config.redis.prefix), config.popularity) {}

Status RedisCounterSink::apply(const ConsumedBatch& consumed) {
  if (!redis_ || redis_->broken()) {
    redis_.reset();
    auto conn = RedisConnection::connect(redis_config_.url, static_cast<int>(redis_config_.timeout_ms));
    if (!conn.ok()) return Error{conn.error().message};
    redis_.emplace(std::move(conn).value());
  }
  batch_.clear();
  for (const ConsumedItem& i : consumed.items) effects_.add(i.item, i.origin.source, i.origin.offset, batch_);
  for (const ConsumedEvent& e : consumed.events) effects_.add(e.event, e.origin.source, e.origin.offset, batch_);
  return writer_.apply(*redis_, batch_);
}

}  // namespace streamrec
