// Errors at boundaries are values. A Result<T> holds either a T or an Error
// whose message a user can act on ("redis.url: expected redis://host:port/db").
// Results are cheap to move; neither type is thread-safe to mutate concurrently.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace streamrec {

struct Error {
  std::string message;
  // Trying again cannot help (e.g. Redis lost data the stream relied on):
  // whoever retries failures stops instead.
  bool fatal = false;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<T>(state_); }
  const T& value() const& { assert(ok()); return std::get<T>(state_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error.message)), failed_(true), fatal_(error.fatal) {}
  static Status Ok() { return Status(); }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& message() const { return error_; }
  bool fatal() const { return fatal_; }

 private:
  std::string error_;
  bool failed_ = false;
  bool fatal_ = false;
};

}  // namespace streamrec
