#include "serving/prometheus_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace streamrec::serving {

std::string prometheus_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
  return fmt::format("{}", value);
}

namespace {
void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}
void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}
}  // namespace

void PrometheusText::family(std::string_view name, std::string_view help, std::string_view type) {
  if (std::find(families_.begin(), families_.end(), name) != families_.end()) return;
  families_.emplace_back(name);
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  append_help(text_, help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value, std::string_view extra_label,
                            std::string_view extra_value) {
  text_ += name;
  if (!labels.empty() || !extra_label.empty()) {
    text_ += '{';
    bool first = true;
    for (auto& [k, v] : labels) {
      if (!first) text_ += ',';
      first = false;
      text_ += k;
      text_ += "=\"";
      append_label_value(text_, v);
      text_ += '"';
    }
    if (!extra_label.empty()) {
      if (!first) text_ += ',';
      text_ += extra_label;
      text_ += "=\"";
      text_ += extra_value;
      text_ += '"';
    }
    text_ += '}';
  }
  text_ += ' ';
  text_ += prometheus_number(value);
  text_ += '\n';
}

void PrometheusText::counter(std::string_view name, std::string_view help, double value, const Labels& labels) {
  family(name, help, "counter");
  sample(name, labels, value);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, double value, const Labels& labels) {
  family(name, help, "gauge");
  sample(name, labels, value);
}

void PrometheusText::histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                               const std::vector<uint64_t>& cumulative, uint64_t count, double sum,
                               const Labels& labels) {
  family(name, help, "histogram");
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i)
    sample(bucket, labels, static_cast<double>(cumulative[i]), "le", prometheus_number(bounds[i]));
  sample(bucket, labels, static_cast<double>(count), "le", "+Inf");
  sample(std::string(name) + "_sum", labels, sum);
  sample(std::string(name) + "_count", labels, static_cast<double>(count));
}

void PrometheusText::summary(std::string_view name, std::string_view help,
                             const std::vector<std::pair<double, double>>& quantiles, uint64_t count, double sum,
                             const Labels& labels) {
  family(name, help, "summary");
  for (auto& [q, v] : quantiles) sample(name, labels, v, "quantile", prometheus_number(q));
  sample(std::string(name) + "_sum", labels, sum);
  sample(std::string(name) + "_count", labels, static_cast<double>(count));
}

}  // namespace streamrec::serving
