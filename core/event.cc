#include "core/event.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/wall_clock.h"

namespace streamrec {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

DecodeError fail(DecodeErrorCode code, std::string detail) {
  return DecodeError{code, std::string(to_string(code)) + ": " + detail};
}

std::string_view type_name(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "array";
    case element_type::OBJECT: return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "number";
    case element_type::STRING: return "string";
    case element_type::BOOL: return "bool";
    case element_type::NULL_VALUE: return "null";
  }
  return "unknown";
}

DecodeError wrong_type(std::string_view field, std::string_view expected, element e) {
  return fail(DecodeErrorCode::kWrongType, std::string(field) + " must be " +
                                               std::string(expected) + ", got " +
                                               std::string(type_name(e.type())));
}

// The shortest text that reads back as `v`. Beyond 1e18 in scientific
// notation: the shortest form of 1.7e21 may be 22 digits without a point,
// which JSON parsers (simdjson among them) reject as an integer too big.
// Found by tests/fuzz/event_decoder_fuzz.
void append_number(std::string& out, double v) {
  // -0 would read back as the integer 0 and encode as "0" (found by the
  // fuzzer, too): one zero, written "0".
  if (v == 0) v = 0;
  char buf[32];
  auto format = std::fabs(v) >= 1e18 ? std::chars_format::scientific : std::chars_format{};
  auto [end, ec] = format == std::chars_format{} ? std::to_chars(buf, buf + sizeof buf, v)
                                                  : std::to_chars(buf, buf + sizeof buf, v, format);
  out.append(buf, end);
}

std::string number_text(element e) {
  int64_t i;
  if (e.get(i) == simdjson::SUCCESS) return std::to_string(i);
  uint64_t u;
  if (e.get(u) == simdjson::SUCCESS) return std::to_string(u);
  std::string text;
  append_number(text, double(e));
  return text;
}

// Reads an id field: a string of 1..kMaxIdBytes bytes.
std::optional<DecodeError> read_id(object obj, std::string_view field, bool required,
                                   std::string& out) {
  element e;
  if (obj[field].get(e) != simdjson::SUCCESS) {
    if (required) return fail(DecodeErrorCode::kMissingField, std::string(field) + " is required");
    return std::nullopt;
  }
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) return wrong_type(field, "a string", e);
  if (s.empty()) return fail(DecodeErrorCode::kEmptyId, std::string(field) + " is empty");
  if (s.size() > kMaxIdBytes)
    return fail(DecodeErrorCode::kIdTooLong, std::string(field) + " is " + std::to_string(s.size()) +
                                                 " bytes, the limit is " + std::to_string(kMaxIdBytes));
  out.assign(s);
  return std::nullopt;
}

DecodeError too_long(std::string_view what, size_t bytes, size_t limit) {
  return fail(DecodeErrorCode::kTooLong, std::string(what) + " is " + std::to_string(bytes) +
                                             " bytes, the limit is " + std::to_string(limit));
}

// Reads an optional string of at most `limit` bytes.
std::optional<DecodeError> read_text(object obj, std::string_view field, size_t limit, std::string& out) {
  element e;
  if (obj[field].get(e) != simdjson::SUCCESS) return std::nullopt;
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) return wrong_type(field, "a string", e);
  if (s.size() > limit) return too_long(field, s.size(), limit);
  out.assign(s);
  return std::nullopt;
}

// ts: an integer in [0, kMaxTimestampMs], and with a clock check no later
// than now + max_future_skew_ms.
std::optional<DecodeError> read_ts(object obj, const DecodeLimits& limits, int64_t& out) {
  element e;
  if (obj["ts"].get(e) != simdjson::SUCCESS)
    return fail(DecodeErrorCode::kMissingField, "ts is required");
  if (e.get(out) != simdjson::SUCCESS) return wrong_type("ts", "an integer (ms since epoch)", e);
  if (out < 0) return fail(DecodeErrorCode::kNegativeTimestamp, "ts must be >= 0");
  if (out > kMaxTimestampMs)
    return fail(DecodeErrorCode::kFutureTimestamp,
                "ts " + std::to_string(out) + " is after the year 9999 (" + std::to_string(kMaxTimestampMs) + ")");
  if (limits.max_future_skew_ms > 0) {
    const int64_t now = wall_clock_ms();  // now + the skew: both far below INT64_MAX / 2
    if (out > now + limits.max_future_skew_ms)
      return fail(DecodeErrorCode::kFutureTimestamp,
                  "ts " + std::to_string(out) + " is " + std::to_string((out - now) / 1000) +
                      " s ahead of this machine's clock, the limit is " +
                      std::to_string(limits.max_future_skew_ms / 1000) + " s (consumer.max_future_skew_s)");
  }
  return std::nullopt;
}

// Reads an optional number in [0, kMaxAmount].
std::optional<DecodeError> read_amount(object obj, std::string_view field, std::optional<double>& out) {
  element e;
  if (obj[field].get(e) != simdjson::SUCCESS) return std::nullopt;
  double v;
  if (e.get(v) != simdjson::SUCCESS) return wrong_type(field, "a number", e);
  if (!std::isfinite(v) || v > kMaxAmount)
    return fail(DecodeErrorCode::kValueOutOfRange, std::string(field) + " must be at most 1e9, got " + number_text(e));
  if (!(v >= 0)) return fail(DecodeErrorCode::kNegativeValue, std::string(field) + " must be >= 0");
  out = v;
  return std::nullopt;
}


std::optional<DecodeError> read_context(object obj, std::vector<ContextFeature>& out) {
  element e;
  if (obj["context"].get(e) != simdjson::SUCCESS) return std::nullopt;
  object ctx;
  if (e.get(ctx) != simdjson::SUCCESS) return wrong_type("context", "an object", e);
  if (ctx.size() > kMaxContextKeys)
    return fail(DecodeErrorCode::kTooManyContextKeys, "context has " + std::to_string(ctx.size()) +
                                                          " keys, the limit is " + std::to_string(kMaxContextKeys));
  out.reserve(ctx.size());
  for (auto [key, value] : ctx) {
    if (key.size() > kMaxContextKeyBytes)
      return too_long("a context key", key.size(), kMaxContextKeyBytes);
    // The key in a message names at most kMaxContextKeyBytes bytes of it.
    const std::string name = "context." + std::string(key);
    if (value.is_string()) {
      std::string_view text(value);
      if (text.size() > kMaxContextValueBytes) return too_long(name, text.size(), kMaxContextValueBytes);
      out.push_back({std::string(key), std::string(text), false});
    } else if (value.is_number()) {
      std::string text = number_text(value);
      if (!std::isfinite(double(value)))
        return fail(DecodeErrorCode::kValueOutOfRange, name + " is not a finite number");
      out.push_back({std::string(key), std::move(text), true});
    } else {
      return wrong_type(name, "a string or a number", value);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(EventType type) {
  switch (type) {
    case EventType::kImpression: return "impression";
    case EventType::kClick: return "click";
    case EventType::kPurchase: return "purchase";
    case EventType::kForget: return "forget";
  }
  return "unknown";
}

std::string_view to_string(DecodeErrorCode code) {
  switch (code) {
    case DecodeErrorCode::kTooLarge: return "too_large";
    case DecodeErrorCode::kNotUtf8: return "not_utf8";
    case DecodeErrorCode::kBadJson: return "bad_json";
    case DecodeErrorCode::kNotObject: return "not_object";
    case DecodeErrorCode::kMissingField: return "missing_field";
    case DecodeErrorCode::kWrongType: return "wrong_type";
    case DecodeErrorCode::kEmptyId: return "empty_id";
    case DecodeErrorCode::kIdTooLong: return "id_too_long";
    case DecodeErrorCode::kUnknownEventType: return "unknown_event_type";
    case DecodeErrorCode::kNegativeValue: return "negative_value";
    case DecodeErrorCode::kNegativeTimestamp: return "negative_timestamp";
    case DecodeErrorCode::kFutureTimestamp: return "future_timestamp";
    case DecodeErrorCode::kValueOutOfRange: return "value_out_of_range";
    case DecodeErrorCode::kTooLong: return "too_long";
    case DecodeErrorCode::kTooManyContextKeys: return "too_many_context_keys";
    case DecodeErrorCode::kTooDeep: return "too_deep";
  }
  return "unknown";
}

struct EventDecoder::Parser {
  simdjson::dom::parser dom;

  // Room for the largest message allowed, and no deeper than kMaxJsonDepth:
  // a message nested deeper fails to parse (DEPTH_ERROR) instead of costing
  // a level of state per bracket.
  // (Out of memory here shows as MEMALLOC on the first parse: a bad_json dead letter with that reason.)
  Parser() {
    // simdjson counts the document itself as a level too: one more.
    if (dom.allocate(kMaxMessageBytes, kMaxJsonDepth + 1) != simdjson::SUCCESS) return;
  }

  // Parses `message` into a JSON object, or says why it cannot.
  std::variant<object, DecodeError> parse_object(std::string_view message) {
    if (message.size() > kMaxMessageBytes)
      return fail(DecodeErrorCode::kTooLarge, "message is " + std::to_string(message.size()) +
                                                  " bytes, the limit is " + std::to_string(kMaxMessageBytes));
    element root;
    auto err = dom.parse(message.data(), message.size(), /*realloc_if_needed=*/true).get(root);
    // The parser validates UTF-8 too, so only a failed parse needs telling
    // bad UTF-8 (which takes precedence) from bad JSON.
    if (err != simdjson::SUCCESS) {
      if (!simdjson::validate_utf8(message.data(), message.size()))
        return fail(DecodeErrorCode::kNotUtf8, "message is not valid UTF-8");
      if (err == simdjson::DEPTH_ERROR)
        return fail(DecodeErrorCode::kTooDeep,
                    "objects and arrays nest deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      return fail(DecodeErrorCode::kBadJson, std::string("invalid JSON (") + simdjson::error_message(err) + ")");
    }
    object obj;
    if (root.get(obj) != simdjson::SUCCESS)
      return fail(DecodeErrorCode::kNotObject, "message must be a JSON object, got " +
                                                   std::string(type_name(root.type())));
    return obj;
  }
};

EventDecoder::EventDecoder(DecodeLimits limits) : parser_(std::make_unique<Parser>()), limits_(limits) {}
EventDecoder::~EventDecoder() = default;

std::variant<Event, DecodeError> EventDecoder::decode_event(std::string_view message) {
  auto parsed = parser_->parse_object(message);
  if (auto* error = std::get_if<DecodeError>(&parsed)) return std::move(*error);
  object obj = std::get<object>(parsed);

  Event ev;
  if (auto e = read_id(obj, "event_id", true, ev.event_id)) return *e;
  {
    element t;
    if (obj["type"].get(t) != simdjson::SUCCESS) return fail(DecodeErrorCode::kMissingField, "type is required");
    std::string_view s;
    if (t.get(s) != simdjson::SUCCESS) return wrong_type("type", "a string", t);
    if (s == "impression") ev.type = EventType::kImpression;
    else if (s == "click") ev.type = EventType::kClick;
    else if (s == "purchase") ev.type = EventType::kPurchase;
    else if (s == "forget") ev.type = EventType::kForget;
    else
      return fail(DecodeErrorCode::kUnknownEventType,
                  "type must be impression, click, purchase or forget, got \"" + std::string(s.substr(0, 32)) + "\"");
  }
  if (auto e = read_id(obj, "user_id", true, ev.user_id)) return *e;
  if (ev.type == EventType::kForget) {
    // A tombstone names a user and when; its other fields mean nothing and
    // are ignored (an item_id too), so it can never become a sample.
    if (auto e = read_ts(obj, limits_, ev.ts_ms)) return *e;
    return ev;
  }
  if (auto e = read_id(obj, "item_id", true, ev.item_id)) return *e;
  if (auto e = read_ts(obj, limits_, ev.ts_ms)) return *e;
  // Any string up to kMaxIdBytes; "" is the same as no request_id.
  if (auto e = read_text(obj, "request_id", kMaxIdBytes, ev.request_id)) return *e;
  if (auto e = read_context(obj, ev.context)) return *e;
  if (auto e = read_amount(obj, "value", ev.value)) return *e;
  return ev;
}

std::variant<Item, DecodeError> EventDecoder::decode_item(std::string_view message) {
  auto parsed = parser_->parse_object(message);
  if (auto* error = std::get_if<DecodeError>(&parsed)) return std::move(*error);
  object obj = std::get<object>(parsed);

  Item item;
  if (auto e = read_id(obj, "item_id", true, item.item_id)) return *e;
  if (auto e = read_ts(obj, limits_, item.ts_ms)) return *e;
  if (auto e = read_text(obj, "category", kMaxIdBytes, item.category)) return *e;
  if (auto e = read_text(obj, "brand", kMaxIdBytes, item.brand)) return *e;
  element e;
  std::optional<double> price;
  if (auto err = read_amount(obj, "price", price)) return *err;
  item.price = price.value_or(0);
  if (obj["available"].get(e) == simdjson::SUCCESS) {
    if (e.get(item.available) != simdjson::SUCCESS) return wrong_type("available", "a bool", e);
  }
  return item;
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}


std::string encode_event(const Event& ev) {
  std::string out;
  out.reserve(160);
  out += "{\"event_id\":";
  append_json_string(out, ev.event_id);
  out += ",\"type\":\"";
  out += to_string(ev.type);
  out += "\",\"user_id\":";
  append_json_string(out, ev.user_id);
  if (ev.type == EventType::kForget) return out + ",\"ts\":" + std::to_string(ev.ts_ms) + "}";
  out += ",\"item_id\":";
  append_json_string(out, ev.item_id);
  out += ",\"ts\":" + std::to_string(ev.ts_ms);
  if (!ev.request_id.empty()) {
    out += ",\"request_id\":";
    append_json_string(out, ev.request_id);
  }
  if (!ev.context.empty()) {
    out += ",\"context\":{";
    for (size_t i = 0; i < ev.context.size(); ++i) {
      if (i) out.push_back(',');
      append_json_string(out, ev.context[i].key);
      out.push_back(':');
      if (ev.context[i].numeric) out += ev.context[i].value;
      else append_json_string(out, ev.context[i].value);
    }
    out.push_back('}');
  }
  if (ev.value) {
    out += ",\"value\":";
    append_number(out, *ev.value);
  }
  out.push_back('}');
  return out;
}

Event forget_event(std::string event_id, std::string user_id, int64_t ts_ms) {
  Event ev;
  ev.event_id = std::move(event_id);
  ev.type = EventType::kForget;
  ev.user_id = std::move(user_id);
  ev.ts_ms = ts_ms;
  return ev;
}

std::string encode_item(const Item& item) {
  std::string out = "{\"item_id\":";
  append_json_string(out, item.item_id);
  out += ",\"category\":";
  append_json_string(out, item.category);
  if (!item.brand.empty()) {  // optional: catalogs without brands encode as before
    out += ",\"brand\":";
    append_json_string(out, item.brand);
  }
  out += ",\"price\":";
  append_number(out, item.price);
  out += item.available ? ",\"available\":true" : ",\"available\":false";
  out += ",\"ts\":" + std::to_string(item.ts_ms) + "}";
  return out;
}

}  // namespace streamrec
