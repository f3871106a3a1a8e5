// One synchronous connection to Redis (hiredis), owned by RAII, with
// pipelining: queue many commands, then read all their replies in one round
// trip.
//
// Not thread-safe: one connection per thread. Every failure is a value; after
// an I/O error the connection is broken() and the caller reconnects (a new
// RedisConnection). Replies are owned by RedisReply and freed with it.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_url.h"

namespace streamrec {

struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisConnection {
 public:
  // Connects, authenticates and selects the database named by `url`.
  static Result<RedisConnection> connect(const std::string& url, int timeout_ms);

  RedisConnection(RedisConnection&&) = default;
  RedisConnection& operator=(RedisConnection&&) = default;

  // Runs one command and waits for its reply. A Redis error reply is an
  // Error, as is any I/O failure.
  Result<RedisReply> command(const std::vector<std::string_view>& args);

  // Pipelining: append() queues a command locally; read_replies() sends the
  // queue and returns one reply per appended command, in order. Error
  // replies are returned as replies (type REDIS_REPLY_ERROR), so the caller
  // sees which command failed; I/O failures are an Error.
  void append(const std::vector<std::string_view>& args);
  Result<std::vector<RedisReply>> read_replies();
  size_t pending() const { return pending_; }

  bool broken() const { return !context_ || context_->err != 0; }
  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  RedisConnection() = default;
  Error io_error(const std::string& what) const;

  std::unique_ptr<redisContext, ContextDeleter> context_;
  RedisEndpoint endpoint_;
  size_t pending_ = 0;
  std::vector<const char*> argv_;  // scratch for append()
  std::vector<size_t> argvlen_;
};

// Connects `conn` when it is empty or broken (after an I/O error), else
// keeps it: how a long-lived writer gets over a Redis restart.
Status connect_if_needed(std::optional<RedisConnection>& conn, const std::string& url, int timeout_ms);

// Reply helpers: the reply's text (status, string or error), or its integer.
std::string_view reply_text(const redisReply* reply);

}  // namespace streamrec
