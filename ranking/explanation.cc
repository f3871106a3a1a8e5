#include "ranking/explanation.h"

#include <fmt/format.h>

#include <cmath>

namespace streamrec::ranking {

namespace {

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : ""; }

void append_escaped(std::string& out, const std::string& text) {
  for (char c : text) {
    if (c == '%') out += "%25";
    else if (c == '|') out += "%7C";
    else if (c == ',') out += "%2C";
    else out += c;
  }
}

}  // namespace

std::string encode(const Explanation& why) {
  std::string out = why.source;
  out += '|';
  for (size_t i = 0; i < why.because.size(); ++i) {
    if (i) out += ',';
    append_escaped(out, why.because[i]);
  }
  out += '|';
  if (why.category_share > 0) append_escaped(out, why.category);
  fmt::format_to(std::back_inserter(out), "|{}|{}|{}|{}|{}|{}", number(why.category_share), number(why.pctr),
                 number(why.pcvr), number(why.model_score), number(why.category_factor), number(why.history_factor));
  return out;
}

}  // namespace streamrec::ranking
