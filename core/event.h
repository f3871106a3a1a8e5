// The event contract (DESIGN.md, "Events"): typed events and items, and the
// decoder that turns one Kafka message into one of them or a DecodeError.
//
// EventDecoder is not thread-safe: use one per thread. It never throws; every
// malformed input yields a DecodeError with a stable code (for metrics and the
// dead-letter `error` header) and a message naming the offending field.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace streamrec {

// The input rules' bounds (docs/events.md, "Dead letters"). Each keeps what
// one message can cost the learner small: every pending impression keeps
// its request_id and context, and every id lives in maps for a while.
inline constexpr size_t kMaxMessageBytes = 64 * 1024;
inline constexpr size_t kMaxIdBytes = 128;           // ids, request_id, an item's category
inline constexpr size_t kMaxContextKeys = 32;
inline constexpr size_t kMaxContextKeyBytes = 64;
inline constexpr size_t kMaxContextValueBytes = 128;
inline constexpr size_t kMaxJsonDepth = 8;           // the root object is 1, `context` 2
inline constexpr double kMaxAmount = 1e9;            // `value`, `price`
// 9999-12-31T23:59:59.999Z. With every window the config allows (at most
// ten years, core/config.h) ts + window stays far from INT64_MAX.
inline constexpr int64_t kMaxTimestampMs = 253402300799999;

// kForget is a tombstone (docs/events.md, "Forgetting a user"): the user
// asked to be forgotten, so every learner drops what it keeps of them and
// their keys in Redis are deleted. It has no item; it is never a sample.
enum class EventType : uint8_t { kImpression = 0, kClick = 1, kPurchase = 2, kForget = 3 };
std::string_view to_string(EventType type);

// One `context` entry. Each key is a categorical feature; a number keeps its
// JSON spelling so that "hour": 7 and "hour": "7" stay distinguishable.
struct ContextFeature {
  std::string key;
  std::string value;
  bool numeric = false;
  bool operator==(const ContextFeature&) const = default;
};

struct Event {
  std::string event_id;
  EventType type = EventType::kImpression;
  std::string user_id;
  std::string item_id;  // "" for a kForget tombstone
  int64_t ts_ms = 0;
  std::string request_id;  // any string; empty when absent
  std::vector<ContextFeature> context;  // in message order
  std::optional<double> value;  // purchase amount, >= 0
};

struct Item {
  std::string item_id;
  std::string category;  // any string; "" when absent
  double price = 0;      // >= 0
  bool available = true;
  int64_t ts_ms = 0;
  std::string brand{};  // any string; "" when absent (last, with an initializer: aggregates without it stay valid)
};

enum class DecodeErrorCode : uint8_t {
  kTooLarge,
  kNotUtf8,
  kBadJson,
  kNotObject,
  kMissingField,
  kWrongType,
  kEmptyId,
  kIdTooLong,
  kUnknownEventType,
  kNegativeValue,
  kNegativeTimestamp,
  kFutureTimestamp,
  kValueOutOfRange,
  kTooLong,
  kTooManyContextKeys,
  kTooDeep,
};
inline constexpr int kDecodeErrorCodeCount = 16;
std::string_view to_string(DecodeErrorCode code);  // e.g. "missing_field"

struct DecodeError {
  DecodeErrorCode code;
  std::string message;  // e.g. "missing_field: user_id is required"
};

struct DecodeLimits {
  // An event or item whose ts is beyond the wall clock's now plus this is a
  // dead letter (future_timestamp): one such event would move every
  // event-time watermark. 0: no check against the clock (files, offline).
  int64_t max_future_skew_ms = 0;
};

class EventDecoder {
 public:
  explicit EventDecoder(DecodeLimits limits = {});
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  std::variant<Event, DecodeError> decode_event(std::string_view message);
  std::variant<Item, DecodeError> decode_item(std::string_view message);

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
  DecodeLimits limits_;
};

// Renders events and items back to the wire format (one JSON object, no
// newline). decode(encode(x)) == x for every valid x.
std::string encode_event(const Event& event);
// The tombstone that forgets `user_id` (a kForget event), as produced by
// `DELETE /v1/users/{id}` and `streamrec forget`.
Event forget_event(std::string event_id, std::string user_id, int64_t ts_ms);
std::string encode_item(const Item& item);
// Appends `s` as a JSON string literal (quoted, escaped).
void append_json_string(std::string& out, std::string_view s);

}  // namespace streamrec
