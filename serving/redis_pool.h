// A pool of Redis connections (feature_store/RedisConnection) shared by the
// HTTP threads: a request leases one, uses it alone, and gives it back when
// the lease goes away.
//
// Threads: lease() may be called from any thread; a Lease is used by one
// thread at a time. Ownership: the pool owns the idle connections, a Lease
// the leased one; a connection that broke (an I/O error) is dropped when its
// lease ends, and the next lease() connects afresh, so the pool gets over a
// Redis restart by itself. At most `size` connections exist: a lease()
// beyond that waits for one to come back.
// Errors: lease() returns an Error (Redis unreachable, bad AUTH) as a value.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_connection.h"

namespace streamrec::serving {

class RedisPool {
 public:
  RedisPool(std::string url, int timeout_ms, size_t size);
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), connection_(std::move(other.connection_)) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_) pool_->give_back(std::move(connection_));
    }
    RedisConnection& operator*() { return connection_; }
    RedisConnection* operator->() { return &connection_; }

   private:
    friend class RedisPool;
    Lease(RedisPool* pool, RedisConnection connection) : pool_(pool), connection_(std::move(connection)) {}
    RedisPool* pool_;
    RedisConnection connection_;
  };

  Result<Lease> lease();

 private:
  void give_back(RedisConnection connection);

  const std::string url_;
  const int timeout_ms_;
  const size_t size_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<RedisConnection> idle_;
  size_t open_ = 0;  // idle + leased
};

}  // namespace streamrec::serving
