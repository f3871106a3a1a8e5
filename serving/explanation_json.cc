#include "serving/explanation_json.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <vector>

#include "core/event.h"
#include "serving/api.h"

namespace streamrec::serving {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// A number field: empty is null (NaN when written); anything else must parse whole.
std::optional<std::string> number(std::string_view field) {
  if (field.empty()) return "null";
  double v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return std::isfinite(v) ? fmt::format("{}", v) : "null";
}

}  // namespace

std::optional<std::string> explanation_json(std::string_view encoded) {
  const std::vector<std::string_view> f = split(encoded, '|');
  if (f.size() != 9 || f[0].empty()) return std::nullopt;
  std::string out = "{\"source\":";
  append_json_string(out, f[0]);
  out += ",\"because\":[";
  if (!f[1].empty()) {
    bool first = true;
    for (std::string_view id : split(f[1], ',')) {
      auto decoded = percent_decode(id);
      if (!decoded || decoded->empty()) return std::nullopt;
      if (!first) out += ',';
      first = false;
      append_json_string(out, *decoded);
    }
  }
  out += "],\"category\":";
  if (f[2].empty()) {
    out += "null";
  } else {
    auto category = percent_decode(f[2]);
    if (!category) return std::nullopt;
    append_json_string(out, *category);
  }
  const char* names[] = {"category_share", "pctr", "pcvr", "model_score", "category_factor", "history_factor"};
  for (size_t i = 0; i < 6; ++i) {
    auto value = number(f[3 + i]);
    if (!value) return std::nullopt;
    out += fmt::format(",\"{}\":{}", names[i], *value);
  }
  out += "}";
  return out;
}

}  // namespace streamrec::serving
