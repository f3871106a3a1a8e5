#include "core/popularity.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace streamrec {

double popularity_exponent(const PopularityConfig& popularity, EventType type, int64_t ts_ms) {
  double weight = type == EventType::kImpression ? popularity.impression_weight
                  : type == EventType::kClick    ? popularity.click_weight
                                                 : popularity.purchase_weight;
  if (weight <= 0) return -std::numeric_limits<double>::infinity();
  return std::log2(weight) + (static_cast<double>(ts_ms) / 1000.0) / popularity.half_life_s;
}

double log2_sum(double a, double b) {
  double hi = std::max(a, b), lo = std::min(a, b);
  if (!std::isfinite(lo)) return hi;
  return hi + std::log2(1 + std::exp2(lo - hi));
}

}  // namespace streamrec
