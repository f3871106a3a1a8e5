// Splits the body of POST /v1/events into events and checks each with the
// consumer's own decoder (core/EventDecoder), so that what is accepted here
// is exactly what `streamrec learn` would accept from Kafka.
//
// A body whose first non-blank character is '[' is one JSON array of event
// objects; any other body is NDJSON, one event object per line (blank lines
// skipped). Each event is numbered by `line`: its line in NDJSON, its
// position (1-based) in an array.
//
// Threads: not thread-safe (the decoder): one EventIntake per thread or per
// request. Errors: a body that is no JSON array although it starts with '['
// is an Error (malformed_json), nothing of it is accepted; an event the
// decoder refuses is a Rejection with the decoder's code and message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace streamrec::serving {

struct AcceptedEvent {
  size_t line = 0;
  std::string user_id;  // the Kafka key
  std::string message;  // the event's JSON, as sent (NDJSON) or minified (array)
};

struct RejectedEvent {
  size_t line = 0;
  std::string reason;   // the decoder's code, e.g. "missing_field"
  std::string message;  // e.g. "missing_field: user_id is required"
};

struct Intake {
  std::vector<AcceptedEvent> accepted;
  std::vector<RejectedEvent> rejected;
};

class EventIntake {
 public:
  explicit EventIntake(DecodeLimits limits) : decoder_(limits) {}

  Result<Intake> split(std::string_view body);

 private:
  void check(size_t line, std::string message, Intake& out);
  EventDecoder decoder_;
};

}  // namespace streamrec::serving
