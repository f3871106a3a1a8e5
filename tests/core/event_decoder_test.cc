// The event contract, one row per rule (DESIGN.md, "Events").
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "core/event.h"

namespace streamrec {
namespace {

const std::string kValid =
    R"({"event_id":"e1","type":"click","user_id":"u1","item_id":"i1","ts":1767225600000,)"
    R"("request_id":"r1","context":{"device":"ios","hour":7},"value":12.5})";

struct Row {
  const char* rule;
  std::string message;
  DecodeErrorCode code;
  const char* names;  // the message must name this (field or reason)
};

std::string with(const std::string& replace, const std::string& by) {
  std::string m = kValid;
  size_t at = m.find(replace);
  EXPECT_NE(at, std::string::npos) << replace;
  return m.replace(at, replace.size(), by);
}

std::vector<Row> rows() {
  return {
      {"larger than 64 KiB", with(R"("r1")", "\"" + std::string(70000, 'x') + "\""), DecodeErrorCode::kTooLarge,
       "65536"},
      {"not UTF-8", with("ios", "i\xff\xfeos"), DecodeErrorCode::kNotUtf8, "UTF-8"},
      {"UTF-16 surrogate in UTF-8", with("ios", "i\xed\xa0\x80os"), DecodeErrorCode::kNotUtf8, "UTF-8"},
      {"overlong UTF-8", with("ios", "i\xc0\xafos"), DecodeErrorCode::kNotUtf8, "UTF-8"},
      {"not UTF-8 and not JSON either", "{\"event_id\": \"e\xff", DecodeErrorCode::kNotUtf8, "UTF-8"},
      {"not JSON", "{\"event_id\": \"e1\",", DecodeErrorCode::kBadJson, "invalid JSON"},
      {"not an object", "[1,2,3]", DecodeErrorCode::kNotObject, "array"},
      {"missing event_id", with(R"("event_id":"e1",)", ""), DecodeErrorCode::kMissingField, "event_id"},
      {"missing type", with(R"("type":"click",)", ""), DecodeErrorCode::kMissingField, "type"},
      {"missing user_id", with(R"("user_id":"u1",)", ""), DecodeErrorCode::kMissingField, "user_id"},
      {"missing item_id", with(R"("item_id":"i1",)", ""), DecodeErrorCode::kMissingField, "item_id"},
      {"missing ts", with(R"("ts":1767225600000,)", ""), DecodeErrorCode::kMissingField, "ts"},
      {"id of wrong type", with(R"("user_id":"u1")", R"("user_id":42)"), DecodeErrorCode::kWrongType, "user_id"},
      {"ts not an integer", with("1767225600000", "\"yesterday\""), DecodeErrorCode::kWrongType, "ts"},
      {"ts fractional", with("1767225600000", "1767225600000.5"), DecodeErrorCode::kWrongType, "ts"},
      {"type not a string", with(R"("type":"click")", R"("type":1)"), DecodeErrorCode::kWrongType, "type"},
      {"context not an object", with(R"({"device":"ios","hour":7})", "[1]"), DecodeErrorCode::kWrongType,
       "context"},
      {"context value nested", with(R"("hour":7)", R"("hour":{"h":7})"), DecodeErrorCode::kWrongType,
       "context.hour"},
      {"value not a number", with("12.5", "\"12.5\""), DecodeErrorCode::kWrongType, "value"},
      {"empty id", with(R"("item_id":"i1")", R"("item_id":"")"), DecodeErrorCode::kEmptyId, "item_id"},
      {"id over 128 bytes", with(R"("event_id":"e1")", "\"event_id\":\"" + std::string(129, 'e') + "\""),
       DecodeErrorCode::kIdTooLong, "event_id"},
      {"unknown type", with(R"("type":"click")", R"("type":"view")"), DecodeErrorCode::kUnknownEventType, "view"},
      {"negative value", with("12.5", "-1"), DecodeErrorCode::kNegativeValue, "value"},
      {"negative ts", with("1767225600000", "-5"), DecodeErrorCode::kNegativeTimestamp, "ts"},
      {"ts after the year 9999", with("1767225600000", "253402300800000"), DecodeErrorCode::kFutureTimestamp,
       "9999"},
      {"ts near INT64_MAX", with("1767225600000", "9223372036854775000"), DecodeErrorCode::kFutureTimestamp, "ts"},
      {"ts beyond int64", with("1767225600000", "18446744073709551615"), DecodeErrorCode::kWrongType, "ts"},
      {"ts as a float", with("1767225600000", "1.7e12"), DecodeErrorCode::kWrongType, "ts"},
      {"value above 1e9", with("12.5", "1e300"), DecodeErrorCode::kValueOutOfRange, "value"},
      {"value overflows a double", with("12.5", "1e999"), DecodeErrorCode::kBadJson, "invalid JSON"},
      {"value NaN", with("12.5", "NaN"), DecodeErrorCode::kBadJson, "invalid JSON"},
      {"value Infinity", with("12.5", "-Infinity"), DecodeErrorCode::kBadJson, "invalid JSON"},
      {"request_id over 128 bytes", with(R"("r1")", "\"" + std::string(129, 'r') + "\""), DecodeErrorCode::kTooLong,
       "request_id"},
      {"request_id not a string", with(R"("r1")", "5"), DecodeErrorCode::kWrongType, "request_id"},
      {"context key over 64 bytes", with(R"("device")", "\"" + std::string(65, 'k') + "\""),
       DecodeErrorCode::kTooLong, "context key"},
      {"context value over 128 bytes", with(R"("ios")", "\"" + std::string(129, 'v') + "\""),
       DecodeErrorCode::kTooLong, "context.device"},
      {"context number beyond a double", with(R"("hour":7)", R"("hour":1e999)"), DecodeErrorCode::kBadJson,
       "invalid JSON"},
      {"context with 33 keys", with(R"({"device":"ios","hour":7})", [] {
         std::string ctx = "{";
         for (int k = 0; k < 33; ++k) ctx += (k ? ",\"k" : "\"k") + std::to_string(k) + "\":1";
         return ctx + "}";
       }()),
       DecodeErrorCode::kTooManyContextKeys, "33 keys"},
      {"nested nine deep", with(R"("value":12.5})", R"("value":12.5,"x":[[[[[[[[1]]]]]]]]})"),
       DecodeErrorCode::kTooDeep, "8 levels"},
  };
}

TEST(EventDecoder, RejectsEachMalformedMessageWithItsReason) {
  EventDecoder decoder;
  for (const Row& row : rows()) {
    auto result = decoder.decode_event(row.message);
    ASSERT_TRUE(std::holds_alternative<DecodeError>(result)) << row.rule;
    const DecodeError& error = std::get<DecodeError>(result);
    EXPECT_EQ(error.code, row.code) << row.rule << ": " << error.message;
    EXPECT_NE(error.message.find(row.names), std::string::npos) << row.rule << ": " << error.message;
    EXPECT_EQ(error.message.rfind(std::string(to_string(row.code)) + ": ", 0), 0u) << error.message;
  }
}

TEST(EventDecoder, NestingUpToTheLimitAndManyContextKeysUpToTheLimitAreFine) {
  EventDecoder decoder;
  std::string ctx = "{";
  for (int k = 0; k < 32; ++k) ctx += (k ? ",\"k" : "\"k") + std::to_string(k) + "\":1";
  auto result = decoder.decode_event(with(R"({"device":"ios","hour":7})", ctx + "}"));
  ASSERT_TRUE(std::holds_alternative<Event>(result)) << std::get<DecodeError>(result).message;
  EXPECT_EQ(std::get<Event>(result).context.size(), 32u);
  // The root object is level 1: seven more levels of arrays are allowed.
  result = decoder.decode_event(with(R"("value":12.5})", R"("value":12.5,"x":[[[[[[[1]]]]]]]})"));
  EXPECT_TRUE(std::holds_alternative<Event>(result)) << std::get<DecodeError>(result).message;
}

TEST(EventDecoder, AnEventAheadOfTheClockByMoreThanTheSkewIsAFutureTimestamp) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  EventDecoder decoder(DecodeLimits{.max_future_skew_ms = 600000});
  auto at = [&](int64_t ts) { return decoder.decode_event(with("1767225600000", std::to_string(ts))); };
  EXPECT_TRUE(std::holds_alternative<Event>(at(now + 60000)));  // a producer's clock a minute ahead
  auto ahead = at(now + 86400000);
  ASSERT_TRUE(std::holds_alternative<DecodeError>(ahead));
  EXPECT_EQ(std::get<DecodeError>(ahead).code, DecodeErrorCode::kFutureTimestamp);
  EXPECT_NE(std::get<DecodeError>(ahead).message.find("consumer.max_future_skew_s"), std::string::npos);
  auto item = decoder.decode_item(R"({"item_id":"i","ts":)" + std::to_string(now + 86400000) + "}");
  ASSERT_TRUE(std::holds_alternative<DecodeError>(item));
  EXPECT_EQ(std::get<DecodeError>(item).code, DecodeErrorCode::kFutureTimestamp);
  // Without a skew (files, offline) only the year-9999 bound applies.
  EventDecoder offline;
  EXPECT_TRUE(std::holds_alternative<Event>(offline.decode_event(with("1767225600000", std::to_string(now + 86400000)))));
}

TEST(EventDecoder, CoversEveryErrorCode) {
  std::set<DecodeErrorCode> seen;
  for (const Row& row : rows()) seen.insert(row.code);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kDecodeErrorCodeCount));
}

TEST(EventDecoder, DecodesEveryFieldOfAValidEvent) {
  EventDecoder decoder;
  auto result = decoder.decode_event(kValid);
  ASSERT_TRUE(std::holds_alternative<Event>(result)) << std::get<DecodeError>(result).message;
  const Event& e = std::get<Event>(result);
  EXPECT_EQ(e.event_id, "e1");
  EXPECT_EQ(e.type, EventType::kClick);
  EXPECT_EQ(e.user_id, "u1");
  EXPECT_EQ(e.item_id, "i1");
  EXPECT_EQ(e.ts_ms, 1767225600000);
  EXPECT_EQ(e.request_id, "r1");
  ASSERT_EQ(e.context.size(), 2u);
  EXPECT_EQ(e.context[0], (ContextFeature{"device", "ios", false}));
  EXPECT_EQ(e.context[1], (ContextFeature{"hour", "7", true}));
  ASSERT_TRUE(e.value.has_value());
  EXPECT_DOUBLE_EQ(*e.value, 12.5);
}

TEST(EventDecoder, OptionalFieldsMayBeAbsentAndUnknownFieldsAreIgnored) {
  EventDecoder decoder;
  auto result = decoder.decode_event(
      R"({"event_id":"e","type":"impression","user_id":"u","item_id":"i","ts":0,"future_field":[1]})");
  ASSERT_TRUE(std::holds_alternative<Event>(result));
  const Event& e = std::get<Event>(result);
  EXPECT_TRUE(e.request_id.empty());
  EXPECT_TRUE(e.context.empty());
  EXPECT_FALSE(e.value.has_value());
}

TEST(EventDecoder, AForgetTombstoneNeedsAUserAndATimeAndNoItem) {
  EventDecoder decoder;
  auto result = decoder.decode_event(
      R"({"event_id":"forget-1","type":"forget","user_id":"u42","ts":1767225600000,"item_id":"","context":{"a":1}})");
  ASSERT_TRUE(std::holds_alternative<Event>(result)) << std::get<DecodeError>(result).message;
  const Event& e = std::get<Event>(result);
  EXPECT_EQ(e.type, EventType::kForget);
  EXPECT_EQ(e.user_id, "u42");
  EXPECT_TRUE(e.item_id.empty());  // ignored, even an empty one
  EXPECT_TRUE(e.context.empty());
  EXPECT_EQ(encode_event(e), R"({"event_id":"forget-1","type":"forget","user_id":"u42","ts":1767225600000})");
  EXPECT_EQ(encode_event(forget_event("forget-1", "u42", 1767225600000)), encode_event(e));
  auto no_user = decoder.decode_event(R"({"event_id":"f","type":"forget","ts":1})");
  ASSERT_TRUE(std::holds_alternative<DecodeError>(no_user));
  EXPECT_EQ(std::get<DecodeError>(no_user).code, DecodeErrorCode::kMissingField);
  auto no_ts = decoder.decode_event(R"({"event_id":"f","type":"forget","user_id":"u"})");
  ASSERT_TRUE(std::holds_alternative<DecodeError>(no_ts));
  EXPECT_EQ(std::get<DecodeError>(no_ts).code, DecodeErrorCode::kMissingField);
}

TEST(EventDecoder, EncodeThenDecodeIsIdentity) {
  EventDecoder decoder;
  Event original = std::get<Event>(decoder.decode_event(kValid));
  original.user_id = "quote\" backslash\\ newline\n ünïcode";
  auto round = decoder.decode_event(encode_event(original));
  ASSERT_TRUE(std::holds_alternative<Event>(round)) << std::get<DecodeError>(round).message;
  const Event& e = std::get<Event>(round);
  EXPECT_EQ(e.user_id, original.user_id);
  EXPECT_EQ(e.context, original.context);
  EXPECT_EQ(e.value, original.value);
  EXPECT_EQ(encode_event(e), encode_event(original));
}

// Found by tests/fuzz/event_decoder_fuzz: the shortest text of 1.7e21 is 22
// digits without a point, which a JSON parser reads as an integer too big
// for 64 bits and rejects. A decoded event must encode to JSON that decodes.
TEST(EventDecoder, HugeContextNumbersEncodeToJsonThatDecodesAgain) {
  EventDecoder decoder;
  for (const char* number : {"1767225700057001767227.05", "-1e300", "1e18", "9.99e25", "-0e101", "-0.0"}) {
    std::string message = R"({"event_id":"e1","type":"click","user_id":"u1","item_id":"i1","ts":10,"context":{"x":)" +
                          std::string(number) + "}}";
    auto first = decoder.decode_event(message);
    ASSERT_TRUE(std::holds_alternative<Event>(first)) << number << ": " << std::get<DecodeError>(first).message;
    std::string encoded = encode_event(std::get<Event>(first));
    auto second = decoder.decode_event(encoded);
    ASSERT_TRUE(std::holds_alternative<Event>(second)) << encoded << ": " << std::get<DecodeError>(second).message;
    EXPECT_EQ(encode_event(std::get<Event>(second)), encoded);
  }
}

TEST(ItemDecoder, DecodesAnItemAndAppliesDefaults) {
  EventDecoder decoder;
  auto full = decoder.decode_item(R"({"item_id":"i9","category":"shoes","price":59.9,"available":false,"ts":5})");
  ASSERT_TRUE(std::holds_alternative<Item>(full));
  const Item& item = std::get<Item>(full);
  EXPECT_EQ(item.item_id, "i9");
  EXPECT_EQ(item.category, "shoes");
  EXPECT_DOUBLE_EQ(item.price, 59.9);
  EXPECT_FALSE(item.available);
  EXPECT_EQ(item.ts_ms, 5);

  auto minimal = decoder.decode_item(R"({"item_id":"i9","ts":5})");
  ASSERT_TRUE(std::holds_alternative<Item>(minimal));
  EXPECT_TRUE(std::get<Item>(minimal).available);
  EXPECT_EQ(std::get<Item>(minimal).category, "");
}

TEST(ItemDecoder, RejectsBadItems) {
  EventDecoder decoder;
  struct {
    const char* message;
    DecodeErrorCode code;
  } cases[] = {
      {R"({"category":"x","ts":1})", DecodeErrorCode::kMissingField},
      {R"({"item_id":"i","category":"x"})", DecodeErrorCode::kMissingField},
      {R"({"item_id":"i","ts":1,"price":-3})", DecodeErrorCode::kNegativeValue},
      {R"({"item_id":"i","ts":1,"available":"yes"})", DecodeErrorCode::kWrongType},
      {R"({"item_id":"i","ts":1,"category":7})", DecodeErrorCode::kWrongType},
      {R"({"item_id":"i","ts":1,"price":2e9})", DecodeErrorCode::kValueOutOfRange},
      {R"({"item_id":"i","ts":1,"price":1e999})", DecodeErrorCode::kBadJson},
      {R"({"item_id":"i","ts":9223372036854775000})", DecodeErrorCode::kFutureTimestamp},
      {R"({"item_id":"i","ts":1,"x":[[[[[[[[1]]]]]]]]})", DecodeErrorCode::kTooDeep},
  };
  for (auto& c : cases) {
    auto result = decoder.decode_item(c.message);
    ASSERT_TRUE(std::holds_alternative<DecodeError>(result)) << c.message;
    EXPECT_EQ(std::get<DecodeError>(result).code, c.code) << c.message;
  }
  auto long_category = decoder.decode_item(R"({"item_id":"i","ts":1,"category":")" + std::string(129, 'c') + "\"}");
  ASSERT_TRUE(std::holds_alternative<DecodeError>(long_category));
  EXPECT_EQ(std::get<DecodeError>(long_category).code, DecodeErrorCode::kTooLong);
  EXPECT_NE(std::get<DecodeError>(long_category).message.find("category"), std::string::npos);
}

}  // namespace
}  // namespace streamrec
