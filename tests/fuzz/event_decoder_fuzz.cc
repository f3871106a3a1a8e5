// The event and item decoders take whatever the `events` and `items` topics
// hold. Any input either decodes or is a DecodeError (never a crash, a leak
// or undefined behaviour), and what decodes survives a round trip:
// decode(encode(x)) encodes to the same bytes as x.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "core/event.h"

namespace {

// One decoder with the clock check on, as `streamrec learn` runs it.
streamrec::EventDecoder& decoder() {
  static streamrec::EventDecoder d(streamrec::DecodeLimits{.max_future_skew_ms = 3'600'000});
  return d;
}

template <typename T, typename Decode, typename Encode>
void check_round_trip(std::string_view input, Decode decode, Encode encode) {
  auto first = decode(input);
  if (!std::holds_alternative<T>(first)) return;
  std::string encoded = encode(std::get<T>(first));
  auto second = decode(encoded);
  if (!std::holds_alternative<T>(second) || encode(std::get<T>(second)) != encoded) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto& d = decoder();
  check_round_trip<streamrec::Event>(
      input, [&](std::string_view m) { return d.decode_event(m); },
      [](const streamrec::Event& e) { return streamrec::encode_event(e); });
  check_round_trip<streamrec::Item>(
      input, [&](std::string_view m) { return d.decode_item(m); },
      [](const streamrec::Item& i) { return streamrec::encode_item(i); });
  return 0;
}
