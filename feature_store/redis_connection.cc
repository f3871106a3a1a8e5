#include "feature_store/redis_connection.h"

#include <sys/time.h>

namespace streamrec {

Status connect_if_needed(std::optional<RedisConnection>& conn, const std::string& url, int timeout_ms) {
  if (conn && !conn->broken()) return {};
  conn.reset();
  auto fresh = RedisConnection::connect(url, timeout_ms);
  if (!fresh.ok()) return Error{fresh.error().message};
  conn.emplace(std::move(fresh).value());
  return {};
}

Result<RedisConnection> RedisConnection::connect(const std::string& url, int timeout_ms) {
  auto ep = parse_redis_url(url);
  if (!ep.ok()) return ep.error();
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};

  RedisConnection conn;
  conn.endpoint_ = *ep;
  conn.context_.reset(redisConnectWithTimeout(ep->host.c_str(), ep->port, tv));
  if (!conn.context_) return Error{"redis: out of memory connecting to " + ep->host};
  if (conn.context_->err) return conn.io_error("cannot connect");
  redisSetTimeout(conn.context_.get(), tv);

  if (!ep->password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!ep->user.empty()) auth.push_back(ep->user);
    auth.push_back(ep->password);
    if (auto r = conn.command(auth); !r.ok()) return Error{"redis: AUTH failed: " + r.error().message};
  }
  if (ep->db != 0) {
    std::string db = std::to_string(ep->db);
    if (auto r = conn.command({"SELECT", db}); !r.ok()) return Error{"redis: SELECT " + db + ": " + r.error().message};
  }
  return conn;
}

Error RedisConnection::io_error(const std::string& what) const {
  std::string detail = context_ ? context_->errstr : "no connection";
  return Error{"redis " + endpoint_.host + ":" + std::to_string(endpoint_.port) + ": " + what + ": " + detail};
}

void RedisConnection::append(const std::vector<std::string_view>& args) {
  argv_.clear();
  argvlen_.clear();
  for (std::string_view a : args) {
    argv_.push_back(a.data());
    argvlen_.push_back(a.size());
  }
  redisAppendCommandArgv(context_.get(), static_cast<int>(argv_.size()), argv_.data(), argvlen_.data());
  ++pending_;
}

Result<std::vector<RedisReply>> RedisConnection::read_replies() {
  std::vector<RedisReply> replies;
  replies.reserve(pending_);
  while (pending_ > 0) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || !raw) {
      pending_ = 0;
      return io_error("pipeline failed");
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
    --pending_;
  }
  return replies;
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string_view>& args) {
  append(args);
  auto replies = read_replies();
  if (!replies.ok()) return replies.error();
  RedisReply reply = std::move(replies->front());
  if (reply->type == REDIS_REPLY_ERROR) return Error{std::string(reply_text(reply.get()))};
  return reply;
}

std::string_view reply_text(const redisReply* reply) {
  if (!reply || !reply->str) return {};
  return std::string_view(reply->str, reply->len);
}

}  // namespace streamrec
