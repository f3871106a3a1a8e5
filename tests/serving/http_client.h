// Test support: a blocking HTTP/1.1 client on Boost.Beast, keeping its
// connection alive between requests, and a JSON reader for the answers.
// Not thread-safe: one client per thread.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>

#include <map>
#include <string>

namespace streamrec::testing {

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  bool keep_alive = false;
  // The body parsed as JSON (a test fails on ASSERT if it is not).
  simdjson::dom::element json() {
    padded_ = simdjson::padded_string(body);
    return parser_.parse(padded_).value();
  }

 private:
  simdjson::dom::parser parser_;
  simdjson::padded_string padded_;
};

class HttpClient {
 public:
  explicit HttpClient(int port) : port_(port), stream_(io_) {}

  HttpAnswer request(boost::beast::http::verb method, const std::string& target, const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {}) {
    namespace http = boost::beast::http;
    if (!stream_.socket().is_open()) {
      boost::asio::ip::tcp::resolver resolver(io_);
      stream_.connect(resolver.resolve("127.0.0.1", std::to_string(port_)));
    }
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1");
    for (auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream_, buffer, res);
    HttpAnswer answer;
    answer.status = static_cast<int>(res.result_int());
    answer.body = res.body();
    answer.keep_alive = res.keep_alive();
    for (auto& field : res) answer.headers[std::string(field.name_string())] = std::string(field.value());
    if (!res.keep_alive()) {
      boost::beast::error_code ignored;
      stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
      stream_.close();
    }
    ++requests_;
    return answer;
  }
  HttpAnswer get(const std::string& target) { return request(boost::beast::http::verb::get, target); }

  // The local port of the connection: the same across requests when kept alive.
  int local_port() { return stream_.socket().local_endpoint().port(); }

 private:
  int port_;
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  int requests_ = 0;
};

}  // namespace streamrec::testing
