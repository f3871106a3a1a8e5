#include "serving/redis_pool.h"

namespace streamrec::serving {

RedisPool::RedisPool(std::string url, int timeout_ms, size_t size)
    : url_(std::move(url)), timeout_ms_(timeout_ms), size_(size == 0 ? 1 : size) {}

Result<RedisPool::Lease> RedisPool::lease() {
  {
    std::unique_lock lock(mutex_);
    returned_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      RedisConnection connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
    ++open_;  // a slot for the connection made below, outside the lock
  }
  auto connection = RedisConnection::connect(url_, timeout_ms_);
  if (!connection.ok()) {
    std::lock_guard lock(mutex_);
    --open_;
    returned_.notify_one();
    return connection.error();
  }
  return Lease(this, std::move(connection).value());
}

void RedisPool::give_back(RedisConnection connection) {
  std::lock_guard lock(mutex_);
  if (connection.broken() || connection.pending() > 0) --open_;  // dropped: the next lease reconnects
  else idle_.push_back(std::move(connection));
  returned_.notify_one();
}

}  // namespace streamrec::serving
