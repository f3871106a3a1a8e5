// Item popularity, decayed in event time (DESIGN.md, "Redis keys": sr:pop).
//
// Popularity decays in event time with half-life h. A popularity score is
// log2 of the item's decayed weight sum measured in "weight now at t = 0":
// score = log2(sum_i w_i * 2^(t_i / h)). Ranking by it ranks by popularity at
// any fixed time; the decayed popularity at time T is 2^(score - T / h). Kept
// in log space because 2^(t/h) itself overflows a double after ~1000 h.
//
// Shared by the Redis writer (sr:pop) and the ranker (its popular and
// category candidates), so both rank by the same numbers. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>

#include "core/config.h"
#include "core/event.h"

namespace streamrec {

// The score increment (log2 space) of one event of `type` at `ts_ms`;
// -infinity when the type's weight is 0 (no effect).
double popularity_exponent(const PopularityConfig& popularity, EventType type, int64_t ts_ms);

// log2(2^a + 2^b) without overflow: how popularity scores add up.
double log2_sum(double a, double b);

}  // namespace streamrec
