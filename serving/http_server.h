// An HTTP/1.1 server on Boost.Beast: asynchronous, keep-alive, one request
// at a time per connection, run by a fixed number of threads, each with its
// own io_context and its own connections.
//
// Threads: start() binds and returns a running server; its own threads
// (`threads` of them, named streamrec-http) accept connections (handed out
// round-robin, a connection stays on its thread), read requests and call
// the Handler of their thread. start() makes one Handler per thread with the
// HandlerFactory, giving it that thread's io_context: a handler may keep
// per-thread state driven by it (an asynchronous Redis connection) without
// locks. A handler may answer at once or later, from any thread, by calling
// its Respond exactly once; the connection waits for that answer before it
// reads the next request. stop() and the destructor close the listener and
// every connection, join the threads, and then destroy the handlers (while
// their io_contexts still exist); a Respond called after that is dropped.
//
// Limits: a request body larger than max_body_bytes gets 413, a request
// Beast cannot parse gets 400 (both as error JSON, then the connection is
// closed); a connection that sends nothing for idle_timeout is closed, so a
// slow client holds its own connection, never a thread.
//
// Errors: start() returns an Error naming the address when it cannot bind.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace streamrec::serving {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using Respond = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest&& request, Respond respond)>;
using HandlerFactory = std::function<Handler(boost::asio::io_context& thread_io)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see HttpServer::port())
  int threads = 2;
  uint64_t max_body_bytes = 1 << 20;
  std::chrono::seconds idle_timeout{30};
};

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options, HandlerFactory make_handler);
  // The same handler on every thread.
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port it listens on (the one picked when options.port was 0).
  uint16_t port() const;
  void stop();

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A JSON response: `body` is sent as it is, with Content-Type application/json.
HttpResponse json_response(boost::beast::http::status status, std::string body, unsigned version = 11);
// The error body every 4xx/5xx carries: {"error":"<code>","message":"<message>"}.
HttpResponse error_response(boost::beast::http::status status, std::string_view code, std::string_view message,
                            unsigned version = 11);

}  // namespace streamrec::serving
