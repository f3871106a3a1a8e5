#include "serving/event_intake.h"

#include <simdjson.h>

#include <variant>

namespace streamrec::serving {

void EventIntake::check(size_t line, std::string message, Intake& out) {
  auto decoded = decoder_.decode_event(message);
  if (auto* error = std::get_if<DecodeError>(&decoded)) {
    out.rejected.push_back({line, std::string(to_string(error->code)), error->message});
    return;
  }
  out.accepted.push_back({line, std::move(std::get<Event>(decoded).user_id), std::move(message)});
}

Result<Intake> EventIntake::split(std::string_view body) {
  Intake out;
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return out;
  if (body[first] == '[') {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(body);
    simdjson::dom::element root;
    if (auto error = parser.parse(padded).get(root); error)
      return Error{std::string("the body starts with '[' but is not a JSON array: ") + simdjson::error_message(error)};
    simdjson::dom::array events;
    if (root.get_array().get(events))
      return Error{"the body starts with '[' but is not a JSON array"};
    size_t position = 0;
    for (simdjson::dom::element event : events) check(++position, simdjson::minify(event), out);
    return out;
  }
  size_t line = 0, start = 0;
  while (start <= body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    ++line;
    std::string_view text = body.substr(start, end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") != std::string_view::npos) check(line, std::string(text), out);
    start = end + 1;
  }
  return out;
}

}  // namespace streamrec::serving
