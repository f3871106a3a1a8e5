// One asynchronous Redis connection (hiredis's async API) run by one
// Boost.Asio io_context: command() never blocks; every command sent while
// others are in flight goes out in the same write, behind them (pipelining),
// and each reply comes back to its own callback, in order.
//
// Threads: not thread-safe. Construct it anywhere, call command() only on
// the one thread that runs `io`, and destroy it after io.run() returned
// (HttpServer destroys its handlers after joining its threads); callbacks
// run on that thread, from within io.run(), or from the destructor.
// Ownership: owns its hiredis context (and the socket in it); borrows `io`,
// which must outlive it. The reply handed to a callback belongs to hiredis
// and lives only until the callback returns: copy what you keep.
// Errors: the connection is made on the first command and again on the first
// command after it broke (Redis restarted, killed the client, an I/O error),
// so it gets over a Redis restart by itself. A command that cannot be
// answered (no connection, the connection broke before its reply, AUTH or
// SELECT of the URL refused, no reply within `timeout_ms`: then the
// connection is dropped) gets an Error naming the endpoint. A Redis error
// reply is a reply (type REDIS_REPLY_ERROR), not an Error.
#pragma once

#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_url.h"

struct redisAsyncContext;

namespace streamrec::serving {

class AsyncRedis {
 public:
  using Callback = std::function<void(Result<const redisReply*> reply)>;

  AsyncRedis(boost::asio::io_context& io, std::string url, int timeout_ms);
  // Pending callbacks get an Error ("connection closed") before it returns.
  ~AsyncRedis();
  AsyncRedis(const AsyncRedis&) = delete;
  AsyncRedis& operator=(const AsyncRedis&) = delete;

  // Queues `args` as one command; `done` is called exactly once, later (or
  // at once with an Error when no connection can be made).
  void command(const std::vector<std::string_view>& args, Callback done);

  // Commands sent and not answered yet.
  size_t in_flight() const { return in_flight_; }

 private:
  struct Context;  // one hiredis context and its Asio watch; replaced on reconnect
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);

  Context* connect(std::string& error);
  void drop(const std::string& why);
  void watch_deadline();

  boost::asio::io_context& io_;
  const std::string url_;
  const std::chrono::milliseconds timeout_;
  Result<RedisEndpoint> endpoint_;
  std::shared_ptr<Context> context_;  // its hiredis context is freed by drop() or by hiredis when it breaks
  size_t in_flight_ = 0;
  std::chrono::steady_clock::time_point last_progress_;
  boost::asio::steady_timer deadline_;
  bool deadline_armed_ = false;
};

}  // namespace streamrec::serving
