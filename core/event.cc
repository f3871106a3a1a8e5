#include "core/event.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdio>

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

std::optional<DecodeError> read_ts(object obj, int64_t& out) {
  element e;
  if (obj["ts"].get(e) != simdjson::SUCCESS)
    return fail(DecodeErrorCode::kMissingField, "ts is required");
  if (e.get(out) != simdjson::SUCCESS) return wrong_type("ts", "an integer (ms since epoch)", e);
  if (out < 0) return fail(DecodeErrorCode::kNegativeTimestamp, "ts must be >= 0");
  return std::nullopt;
}

// Reads an optional non-negative number.
std::optional<DecodeError> read_amount(object obj, std::string_view field, std::optional<double>& out) {
  element e;
  if (obj[field].get(e) != simdjson::SUCCESS) return std::nullopt;
  double v;
  if (e.get(v) != simdjson::SUCCESS) return wrong_type(field, "a number", e);
  if (!(v >= 0)) return fail(DecodeErrorCode::kNegativeValue, std::string(field) + " must be >= 0");
  out = v;
  return std::nullopt;
}

std::string number_text(element e) {
  int64_t i;
  if (e.get(i) == simdjson::SUCCESS) return std::to_string(i);
  uint64_t u;
  if (e.get(u) == simdjson::SUCCESS) return std::to_string(u);
  double d = double(e);
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

std::optional<DecodeError> read_context(object obj, std::vector<ContextFeature>& out) {
  element e;
  if (obj["context"].get(e) != simdjson::SUCCESS) return std::nullopt;
  object ctx;
  if (e.get(ctx) != simdjson::SUCCESS) return wrong_type("context", "an object", e);
  out.reserve(ctx.size());
  for (auto [key, value] : ctx) {
    if (value.is_string()) {
      out.push_back({std::string(key), std::string(std::string_view(value)), false});
    } else if (value.is_number()) {
      out.push_back({std::string(key), number_text(value), true});
    } else {
      return wrong_type("context." + std::string(key), "a string or a number", value);
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
  }
  return "unknown";
}

struct EventDecoder::Parser {
  simdjson::dom::parser dom;

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
      return fail(DecodeErrorCode::kBadJson, std::string("invalid JSON (") + simdjson::error_message(err) + ")");
    }
    object obj;
    if (root.get(obj) != simdjson::SUCCESS)
      return fail(DecodeErrorCode::kNotObject, "message must be a JSON object, got " +
                                                   std::string(type_name(root.type())));
    return obj;
  }
};

EventDecoder::EventDecoder() : parser_(std::make_unique<Parser>()) {}
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
    else
      return fail(DecodeErrorCode::kUnknownEventType,
                  "type must be impression, click or purchase, got \"" + std::string(s.substr(0, 32)) + "\"");
  }
  if (auto e = read_id(obj, "user_id", true, ev.user_id)) return *e;
  if (auto e = read_id(obj, "item_id", true, ev.item_id)) return *e;
  if (auto e = read_ts(obj, ev.ts_ms)) return *e;
  {
    // Any string; "" is the same as no request_id.
    element r;
    if (obj["request_id"].get(r) == simdjson::SUCCESS) {
      std::string_view s;
      if (r.get(s) != simdjson::SUCCESS) return wrong_type("request_id", "a string", r);
      ev.request_id.assign(s);
    }
  }
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
  if (auto e = read_ts(obj, item.ts_ms)) return *e;
  element e;
  if (obj["category"].get(e) == simdjson::SUCCESS) {
    std::string_view s;
    if (e.get(s) != simdjson::SUCCESS) return wrong_type("category", "a string", e);
    item.category.assign(s);
  }
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

namespace {
void append_number(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}
}  // namespace

std::string encode_event(const Event& ev) {
  std::string out;
  out.reserve(160);
  out += "{\"event_id\":";
  append_json_string(out, ev.event_id);
  out += ",\"type\":\"";
  out += to_string(ev.type);
  out += "\",\"user_id\":";
  append_json_string(out, ev.user_id);
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

std::string encode_item(const Item& item) {
  std::string out = "{\"item_id\":";
  append_json_string(out, item.item_id);
  out += ",\"category\":";
  append_json_string(out, item.category);
  out += ",\"price\":";
  append_number(out, item.price);
  out += item.available ? ",\"available\":true" : ",\"available\":false";
  out += ",\"ts\":" + std::to_string(item.ts_ms) + "}";
  return out;
}

}  // namespace streamrec
