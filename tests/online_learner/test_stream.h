// Small hand-made and pseudo-random event streams for the learner tests.
#pragma once

#include <string>
#include <vector>

#include "core/event.h"
#include "online_learner/parameter.h"

namespace streamrec::learner::testing {

inline Event make_event(std::string id, EventType type, std::string user, std::string item, int64_t ts,
                        std::string request = "") {
  Event e;
  e.event_id = std::move(id);
  e.type = type;
  e.user_id = std::move(user);
  e.item_id = std::move(item);
  e.ts_ms = ts;
  e.request_id = std::move(request);
  return e;
}

inline std::vector<Item> make_items(int n) {
  std::vector<Item> items;
  for (int i = 0; i < n; ++i) items.push_back(Item{"i" + std::to_string(i), "c" + std::to_string(i % 3), 5.0 + i, true, 0});
  return items;
}

// A stream where user u clicks item i with a probability that depends on
// (u + i) % 3, and buys a fifth of what it clicks; event-time ordered.
inline std::vector<Event> make_stream(int impressions, int users, int items, uint64_t seed) {
  SplitMix rng(seed);
  std::vector<Event> out;
  int64_t ts = 1'000'000;
  for (int n = 0; n < impressions; ++n) {
    ts += 100;
    int u = static_cast<int>(rng.below(users)), i = static_cast<int>(rng.below(items));
    std::string id = "e" + std::to_string(n), req = "r" + std::to_string(n / 4);
    Event imp = make_event(id, EventType::kImpression, "u" + std::to_string(u), "i" + std::to_string(i), ts, req);
    imp.context = {{"device", n % 2 ? "ios" : "android", false}, {"hour", std::to_string(n % 24), true}};
    out.push_back(imp);
    double p = (u + i) % 3 == 0 ? 0.5 : 0.05;
    if (rng.uniform() < p) {
      out.push_back(make_event(id + "c", EventType::kClick, imp.user_id, imp.item_id, ts + 20, req));
      if (rng.uniform() < 0.2) {
        Event buy = make_event(id + "p", EventType::kPurchase, imp.user_id, imp.item_id, ts + 40, req);
        buy.value = 10;
        out.push_back(buy);
      }
    }
  }
  return out;
}

}  // namespace streamrec::learner::testing
