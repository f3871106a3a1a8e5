// Reads the Kafka key of a JSON message being replayed: the string value of
// one top-level field (user_id for events, item_id for items).
//
// Replay sends every line as it is, malformed or not, so this never fails:
// a message that is not a JSON object, or whose field is missing or not a
// string, has no key (""). Not thread-safe: one KeyReader per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace streamrec {

class KeyReader {
 public:
  explicit KeyReader(std::string field);
  ~KeyReader();
  KeyReader(KeyReader&&) noexcept;
  KeyReader& operator=(KeyReader&&) noexcept;

  // The field's value in `message`, or "" when it cannot be read.
  std::string read(std::string_view message);

 private:
  struct Parser;
  std::string field_;
  std::unique_ptr<Parser> parser_;
};

}  // namespace streamrec
