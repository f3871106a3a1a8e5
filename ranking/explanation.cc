#include "ranking/explanation.h"

#include <charconv>
#include <cmath>

namespace streamrec::ranking {

namespace {

// '|' and `v` as printf's "%.4g" writes it (std::to_chars with a precision
// is specified so), nothing for NaN. Appended in place: a ranking encodes
// 50 explanations of 6 numbers on the model's thread, and a string
// formatted per number (fmt) cost that thread ~10% of its time at 30k
// events/s (perf).
void append_number(std::string& out, double v) {
  out += '|';
  if (!std::isfinite(v)) return;
  char buffer[32];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::general, 4).ptr);
}

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
  std::string out;
  out.reserve(96);
  out += why.source;
  out += '|';
  for (size_t i = 0; i < why.because.size(); ++i) {
    if (i) out += ',';
    append_escaped(out, why.because[i]);
  }
  out += '|';
  if (why.category_share > 0) append_escaped(out, why.category);
  for (double v : {why.category_share, why.pctr, why.pcvr, why.model_score, why.category_factor, why.history_factor})
    append_number(out, v);
  return out;
}

}  // namespace streamrec::ranking
