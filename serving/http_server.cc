#include "serving/http_server.h"

#include <pthread.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "core/event.h"

namespace streamrec::serving {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

HttpResponse json_response(http::status status, std::string body, unsigned version) {
  HttpResponse response(status, version);
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  return response;
}

HttpResponse error_response(http::status status, std::string_view code, std::string_view message, unsigned version) {
  std::string body = "{\"error\":";
  append_json_string(body, code);
  body += ",\"message\":";
  append_json_string(body, message);
  body += "}";
  return json_response(status, std::move(body), version);
}

namespace {

// One connection: read a request, hand it to the handler, write its answer,
// and again while the client keeps the connection alive. Lives as long as
// an operation or a pending Respond holds it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const HttpServerOptions& options, const Handler& handler)
      : stream_(std::move(socket)), options_(options), handler_(handler) {}

  void start() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read, shared_from_this()));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(options_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return write(error_response(http::status::payload_too_large, "body_too_large",
                                  "request body larger than serving.max_body_bytes (" +
                                      std::to_string(options_.max_body_bytes) + " bytes)"),
                   /*close_after=*/true);
    }
    if (ec) {
      return write(error_response(http::status::bad_request, "bad_request", "malformed HTTP request: " + ec.message()),
                   /*close_after=*/true);
    }
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    stream_.expires_never();  // the handler may take its time (a Kafka acknowledgement)
    auto self = shared_from_this();
    handler_(std::move(request), [self](HttpResponse response) {
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response), !self->keep_alive_);
      });
    });
  }

  void write(HttpResponse response, bool close_after) {
    response.version(version_);
    response.keep_alive(!close_after);
    response.set(http::field::server, "streamrec");
    response.prepare_payload();
    response_ = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(options_.idle_timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this(), close_after](beast::error_code ec, size_t) {
                        self->response_.reset();
                        if (ec || close_after) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  const HttpServerOptions& options_;
  const Handler& handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

// One thread: its io_context (single-threaded, so no locks inside Asio),
// its connections and its handler.
struct Worker {
  net::io_context io{1};
  // run() returns when it has nothing to do: a thread whose connections all
  // closed (or that got none yet) keeps waiting for the next one.
  net::executor_work_guard<net::io_context::executor_type> keep_running = net::make_work_guard(io);
  Handler handler;
  std::thread thread;
};

struct HttpServer::State {
  HttpServerOptions options;
  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<tcp::acceptor> acceptor;  // on the first worker's io_context
  size_t next_worker = 0;
  std::atomic<bool> stopped{false};

  explicit State(HttpServerOptions o) : options(std::move(o)) {}

  void accept() {
    Worker& worker = *workers[next_worker];
    next_worker = (next_worker + 1) % workers.size();
    acceptor->async_accept(worker.io, [this, &worker](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), options, worker.handler)->start();
      } else {
        spdlog::warn("http: accept failed: {}", ec.message());
      }
      accept();
    });
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options, Handler handler) {
  return start(options, [handler = std::move(handler)](net::io_context&) { return handler; });
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options, HandlerFactory make_handler) {
  auto state = std::make_unique<State>(options);
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    auto worker = std::make_unique<Worker>();
    worker->handler = make_handler(worker->io);
    state->workers.push_back(std::move(worker));
  }
  const std::string where = options.address + ":" + std::to_string(options.port);
  beast::error_code ec;
  auto address = net::ip::make_address(options.address, ec);
  if (ec) return Error{"serving.listen: not an IP address: \"" + options.address + "\""};
  tcp::endpoint endpoint(address, options.port);
  state->acceptor.emplace(state->workers.front()->io);
  state->acceptor->open(endpoint.protocol(), ec);
  if (!ec) state->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor->bind(endpoint, ec);
  if (!ec) state->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error{"http: cannot listen on " + where + ": " + ec.message()};
  state->accept();
  for (auto& worker : state->workers) {
    worker->thread = std::thread([io = &worker->io] {
      pthread_setname_np(pthread_self(), "streamrec-http");
      io->run();
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto endpoint = state_->acceptor->local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void HttpServer::stop() {
  if (state_->stopped.exchange(true)) return;
  net::post(state_->workers.front()->io, [s = state_.get()] {
    beast::error_code ignored;
    s->acceptor->close(ignored);
  });
  for (auto& worker : state_->workers) worker->io.stop();
  for (auto& worker : state_->workers)
    if (worker->thread.joinable()) worker->thread.join();
  // The handlers' per-thread state (its callbacks answer into the stopped
  // io_contexts, which drop those answers) goes before the io_contexts.
  for (auto& worker : state_->workers) worker->handler = nullptr;
}

}  // namespace streamrec::serving
