// hiredis's async API does the protocol (formatting, the reply parser, the
// queue of callbacks); it asks an event loop to tell it when its socket is
// readable or writable through five hooks (ev.addRead ... ev.cleanup).
// Debian's hiredis 0.14 ships such adapters for libevent, libuv and others,
// not for Asio: Context is that adapter, a stream_descriptor over hiredis's
// socket whose async_wait calls redisAsyncHandleRead/Write.
//
// Pipelining comes from waiting: a command only appends to hiredis's output
// buffer and asks for a write; the write happens when the io_context next
// polls, so every command the thread's handlers queued meanwhile leaves in
// one write(), and one read() brings back all the replies that have arrived.
#include "serving/async_redis.h"

#include <hiredis/async.h>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>

namespace streamrec::serving {

namespace net = boost::asio;

// One hiredis async context and the watch on its socket. Shared by the
// owner and the pending waits, so a wait that completes after hiredis freed
// the context finds `gone` instead of freed memory.
struct AsyncRedis::Context : std::enable_shared_from_this<AsyncRedis::Context> {
  Context(net::io_context& io, redisAsyncContext* context, AsyncRedis* owner)
      : ac(context), socket(io), owner(owner) {
    boost::system::error_code ignored;
    socket.assign(ac->c.fd, ignored);
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = [](void* self) { static_cast<Context*>(self)->want_read(); };
    ac->ev.delRead = [](void* self) { static_cast<Context*>(self)->reading = false; };
    ac->ev.addWrite = [](void* self) { static_cast<Context*>(self)->want_write(); };
    ac->ev.delWrite = [](void* self) { static_cast<Context*>(self)->writing = false; };
    ac->ev.cleanup = [](void* self) { static_cast<Context*>(self)->forget(); };
  }

  void want_read() {
    reading = true;
    if (read_waiting || gone) return;
    read_waiting = true;
    socket.async_wait(net::posix::descriptor_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      self->read_waiting = false;
      if (ec || self->gone || !self->reading) return;
      redisAsyncHandleRead(self->ac);  // may free the context: then forget() ran
      if (!self->gone && self->reading) self->want_read();
    });
  }

  void want_write() {
    writing = true;
    if (write_waiting || gone) return;
    write_waiting = true;
    socket.async_wait(net::posix::descriptor_base::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
      self->write_waiting = false;
      if (ec || self->gone || !self->writing) return;
      redisAsyncHandleWrite(self->ac);  // also completes the connect
      if (!self->gone && self->writing) self->want_write();
    });
  }

  // hiredis is freeing the context and will close the socket itself.
  void forget() {
    gone = true;
    ac = nullptr;
    boost::system::error_code ignored;
    socket.cancel(ignored);
    socket.release();
  }

  redisAsyncContext* ac;
  net::posix::stream_descriptor socket;
  AsyncRedis* owner;
  std::string failure;  // why the owner dropped it, for the callbacks still waiting
  bool reading = false, writing = false, read_waiting = false, write_waiting = false, gone = false;
};

namespace {

struct Pending {
  AsyncRedis::Callback done;
};

std::string where(const Result<RedisEndpoint>& endpoint) {
  return endpoint.ok() ? "redis " + endpoint->host + ":" + std::to_string(endpoint->port) : "redis";
}

}  // namespace

AsyncRedis::AsyncRedis(net::io_context& io, std::string url, int timeout_ms)
    : io_(io),
      url_(std::move(url)),
      timeout_(std::max(1, timeout_ms)),
      endpoint_(parse_redis_url(url_)),
      deadline_(io) {}

AsyncRedis::~AsyncRedis() {
  drop("connection closed (server stopping)");
  deadline_.cancel();
}

void AsyncRedis::command(const std::vector<std::string_view>& args, Callback done) {
  if (!context_ || context_->gone) {
    std::string error;
    if (!connect(error)) return done(Error{error});
  }
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  auto pending = std::make_unique<Pending>(Pending{std::move(done)});
  if (redisAsyncCommandArgv(context_->ac, &AsyncRedis::on_reply, pending.get(), static_cast<int>(argv.size()),
                            argv.data(), argvlen.data()) != REDIS_OK) {
    return pending->done(Error{where(endpoint_) + ": the connection is closing"});
  }
  pending.release();  // on_reply owns it now
  if (in_flight_++ == 0) last_progress_ = std::chrono::steady_clock::now();
  watch_deadline();
}

void AsyncRedis::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
  auto* context = static_cast<Context*>(ac->data);
  AsyncRedis* self = context->owner;
  --self->in_flight_;
  self->last_progress_ = std::chrono::steady_clock::now();
  if (reply) return pending->done(static_cast<const redisReply*>(reply));
  // hiredis is dropping the connection: every command still waiting ends here.
  std::string why = !context->failure.empty()       ? context->failure
                    : !(ac->c.flags & REDIS_CONNECTED) ? std::string("cannot connect: ") + (ac->err ? ac->errstr : "closed")
                    : ac->err                          ? std::string("connection lost: ") + ac->errstr
                                                       : std::string("connection closed");
  pending->done(Error{where(self->endpoint_) + ": " + why});
}

AsyncRedis::Context* AsyncRedis::connect(std::string& error) {
  if (!endpoint_.ok()) {
    error = endpoint_.error().message;
    return nullptr;
  }
  redisAsyncContext* ac = redisAsyncConnect(endpoint_->host.c_str(), endpoint_->port);
  if (!ac) {
    error = where(endpoint_) + ": out of memory connecting";
    return nullptr;
  }
  if (ac->err) {
    error = where(endpoint_) + ": cannot connect: " + ac->errstr;
    redisAsyncFree(ac);
    return nullptr;
  }
  context_ = std::make_shared<Context>(io_, ac, this);
  // The URL's AUTH and SELECT go first on the connection; the commands queued
  // behind them run only if they succeed (a refusal drops the connection).
  auto handshake = [this, context = context_.get()](std::string what) {
    return [this, context, what](Result<const redisReply*> reply) {
      std::string failure;
      if (!reply.ok()) return;  // the commands behind it fail with the same Error
      if ((*reply)->type == REDIS_REPLY_ERROR) failure = what + " failed: " + std::string((*reply)->str, (*reply)->len);
      if (failure.empty() || context->gone) return;
      context->failure = failure;
      redisAsyncFree(context->ac);  // deferred by hiredis until this callback returns
    };
  };
  if (!endpoint_->password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!endpoint_->user.empty()) auth.push_back(endpoint_->user);
    auth.push_back(endpoint_->password);
    command(auth, handshake("AUTH"));
  }
  if (endpoint_->db != 0) {
    const std::string db = std::to_string(endpoint_->db);
    command({"SELECT", db}, handshake("SELECT " + db));
  }
  return context_.get();
}

void AsyncRedis::drop(const std::string& why) {
  if (!context_ || context_->gone) return;
  context_->failure = why;
  redisAsyncFree(context_->ac);  // calls every pending callback with no reply, then forget()
}

void AsyncRedis::watch_deadline() {
  if (deadline_armed_) return;
  deadline_armed_ = true;
  deadline_.expires_after(timeout_);
  deadline_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the owner is going away
    deadline_armed_ = false;
    if (in_flight_ == 0) return;
    if (std::chrono::steady_clock::now() - last_progress_ >= timeout_) {
      return drop("no reply within " + std::to_string(timeout_.count()) + " ms (redis.timeout_ms)");
    }
    watch_deadline();
  });
}

}  // namespace streamrec::serving
