// The synthetic stream: deterministic, in event-time order, causally
// consistent, calibrated, and with a user x item effect that matters.
#include "producers/synthetic_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace streamrec {
namespace {

SyntheticConfig small_config(int64_t impressions = 20000) {
  SyntheticConfig c;
  c.users = 1000;
  c.items = 500;
  c.impressions = impressions;
  return c;
}

std::vector<GeneratedEvent> drain(SyntheticStream& stream) {
  std::vector<GeneratedEvent> events;
  GeneratedEvent g;
  while (stream.next(g)) events.push_back(g);
  return events;
}

std::vector<GeneratedEvent> generate(const SyntheticConfig& config) {
  auto stream = SyntheticStream::create(config);
  EXPECT_TRUE(stream.ok()) << stream.error().message;
  return drain(*stream);
}

std::string render(const std::vector<GeneratedEvent>& events) {
  std::string out;
  for (const auto& g : events) {
    out += encode_event(g.event);
    if (g.truth) {
      out += ' ';
      out += std::to_string(g.truth->p_click);
      out += ' ';
      out += std::to_string(g.truth->p_cvr);
    }
    out += "\n";
  }
  return out;
}

// Area under the ROC curve by sorting, ties counted half.
double auc(std::vector<std::pair<double, bool>> scored) {
  std::sort(scored.begin(), scored.end());
  double positives = 0, negatives = 0, rank_sum = 0;
  for (size_t i = 0; i < scored.size();) {
    size_t j = i;
    while (j < scored.size() && scored[j].first == scored[i].first) ++j;
    double mid_rank = (i + 1 + j) / 2.0;  // average 1-based rank of the tie group
    for (size_t k = i; k < j; ++k) {
      if (scored[k].second) {
        positives += 1;
        rank_sum += mid_rank;
      } else {
        negatives += 1;
      }
    }
    i = j;
  }
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

TEST(SyntheticStream, SameSeedGivesTheSameStreamAndCatalog) {
  auto a = SyntheticStream::create(small_config(5000));
  auto b = SyntheticStream::create(small_config(5000));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->catalog().size(), 500u);
  for (size_t i = 0; i < a->catalog().size(); ++i) {
    EXPECT_EQ(encode_item(a->catalog()[i]), encode_item(b->catalog()[i]));
  }
  EXPECT_EQ(render(drain(*a)), render(drain(*b)));
}

TEST(SyntheticStream, DifferentSeedGivesADifferentStream) {
  SyntheticConfig other = small_config(5000);
  other.seed = 43;
  EXPECT_NE(render(generate(small_config(5000))), render(generate(other)));
}

TEST(SyntheticStream, EmitsExactlyTheConfiguredImpressionsWithUniqueIdsInEventTimeOrder) {
  SyntheticConfig config = small_config(20001);  // not a multiple of the slate size
  auto events = generate(config);
  int64_t impressions = 0;
  int64_t last_ts = config.start_ts_ms;
  std::set<std::string> ids;
  for (size_t n = 0; n < events.size(); ++n) {
    const Event& ev = events[n].event;
    EXPECT_EQ(ev.event_id, std::string("e").append(std::to_string(n)));
    EXPECT_TRUE(ids.insert(ev.event_id).second);
    EXPECT_GE(ev.ts_ms, last_ts) << ev.event_id;
    last_ts = ev.ts_ms;
    EXPECT_EQ(events[n].truth.has_value(), ev.type == EventType::kImpression);
    if (ev.type == EventType::kImpression) ++impressions;
  }
  EXPECT_EQ(impressions, config.impressions);
  // Mean gap between requests is mean_gap_ms: 4001 requests span ~200 s.
  double span_s = (events.back().event.ts_ms - config.start_ts_ms) / 1000.0;
  EXPECT_GT(span_s, 150);
}

TEST(SyntheticStream, ClicksFollowTheirImpressionAndPurchasesTheirClick) {
  auto events = generate(small_config(40000));
  std::map<std::pair<std::string, std::string>, const GeneratedEvent*> impressions;  // (request, item)
  std::map<std::pair<std::string, std::string>, int64_t> clicks;
  int64_t clicked = 0, purchased = 0, click_events = 0, purchase_events = 0;
  for (const auto& g : events) {
    const Event& ev = g.event;
    auto key = std::make_pair(ev.request_id, ev.item_id);
    ASSERT_FALSE(ev.request_id.empty());
    switch (ev.type) {
      case EventType::kImpression:
        EXPECT_TRUE(impressions.emplace(key, &g).second) << "an item appears twice in one slate";
        clicked += g.truth->clicked;
        purchased += g.truth->purchased;
        EXPECT_TRUE(g.truth->clicked || !g.truth->purchased);
        EXPECT_DOUBLE_EQ(g.truth->p_ctcvr, g.truth->p_click * g.truth->p_cvr);
        ASSERT_EQ(ev.context.size(), 3u);
        EXPECT_EQ(ev.context[1].value, std::to_string(ev.ts_ms / 3600000 % 24));
        break;
      case EventType::kClick: {
        ++click_events;
        auto it = impressions.find(key);
        ASSERT_NE(it, impressions.end()) << ev.event_id << " clicks nothing shown";
        EXPECT_TRUE(it->second->truth->clicked);
        EXPECT_EQ(ev.user_id, it->second->event.user_id);
        int64_t delay = ev.ts_ms - it->second->event.ts_ms;
        EXPECT_GE(delay, 1000);
        EXPECT_LT(delay, 600000);
        EXPECT_TRUE(clicks.emplace(key, ev.ts_ms).second);
        break;
      }
      case EventType::kPurchase: {
        ++purchase_events;
        auto it = clicks.find(key);
        ASSERT_NE(it, clicks.end()) << ev.event_id << " buys nothing clicked";
        int64_t delay = ev.ts_ms - it->second;
        EXPECT_GE(delay, 5000);
        EXPECT_LT(delay, 3600000);
        ASSERT_TRUE(ev.value.has_value());
        EXPECT_GT(*ev.value, 0);
        EXPECT_TRUE(impressions.at(key)->truth->purchased);
        break;
      }
    }
  }
  EXPECT_EQ(click_events, clicked);
  EXPECT_EQ(purchase_events, purchased);
  EXPECT_GT(purchased, 0);
}

TEST(SyntheticStream, ClickAndPurchaseRatesMatchTheConfiguredMeans) {
  SyntheticConfig config = small_config(300000);
  config.base_ctr = 0.05;
  config.base_cvr = 0.10;
  auto stream = SyntheticStream::create(config);
  ASSERT_TRUE(stream.ok());
  GeneratedEvent g;
  double impressions = 0, clicks = 0, purchases = 0, p_click_sum = 0;
  while (stream->next(g)) {
    if (!g.truth) continue;
    impressions += 1;
    clicks += g.truth->clicked;
    purchases += g.truth->purchased;
    p_click_sum += g.truth->p_click;
  }
  // ~15,000 clicks (sd ~120) and ~1,500 purchases (sd ~40); calibration on a
  // sample adds a few percent.
  EXPECT_NEAR(p_click_sum / impressions, 0.05, 0.05 * 0.06);
  EXPECT_NEAR(clicks / impressions, 0.05, 0.05 * 0.08);
  EXPECT_NEAR(purchases / clicks, 0.10, 0.10 * 0.12);
}

TEST(SyntheticStream, UserTimesItemTermBeatsTheBestPerItemPredictor) {
  // The best any item-only model can do is each item's mean true p_click;
  // the oracle knows the user too and must rank clicks clearly better.
  auto events = generate(small_config(200000));
  std::map<std::string, std::pair<double, double>> per_item;  // sum p_click, count
  for (const auto& g : events) {
    if (!g.truth) continue;
    auto& [sum, n] = per_item[g.event.item_id];
    sum += g.truth->p_click;
    n += 1;
  }
  std::vector<std::pair<double, bool>> oracle, item_only;
  for (const auto& g : events) {
    if (!g.truth) continue;
    auto [sum, n] = per_item[g.event.item_id];
    oracle.emplace_back(g.truth->p_click, g.truth->clicked);
    item_only.emplace_back(sum / n, g.truth->clicked);
  }
  double oracle_auc = auc(oracle), item_auc = auc(item_only);
  RecordProperty("oracle_auc", std::to_string(oracle_auc));
  RecordProperty("item_only_auc", std::to_string(item_auc));
  EXPECT_GT(oracle_auc, 0.70);
  EXPECT_GT(oracle_auc, item_auc + 0.08) << "oracle " << oracle_auc << " vs item-only " << item_auc;
  EXPECT_GT(item_auc, 0.55) << "item effects should matter too";
}

TEST(SyntheticStream, TruthOfIsWhatAnImpressionFromTheUsualDeviceOnTheHomePageCarries) {
  SyntheticConfig config = small_config(40000);
  config.mean_gap_ms = 10000;  // 8000 requests over ~22 h: every hour of day
  auto stream = SyntheticStream::create(config);
  ASSERT_TRUE(stream.ok());
  ASSERT_EQ(stream->users(), 1000);
  ASSERT_EQ(stream->items(), 500);
  for (int64_t n = 0; n < stream->items(); ++n) {
    EXPECT_EQ(stream->catalog()[n].item_id, std::string("i").append(std::to_string(n)));
  }

  std::vector<GeneratedEvent> events;
  int64_t impressions = 0, from_usual_device = 0, compared = 0;
  GeneratedEvent g;
  while (stream->next(g)) {  // the oracle is asked while the stream runs
    events.push_back(g);
    if (!g.truth) continue;
    ++impressions;
    const Event& ev = g.event;
    int64_t user = std::stoll(ev.user_id.substr(1)), item = std::stoll(ev.item_id.substr(1));
    ImpressionTruth t = stream->truth_of(user, item, ev.ts_ms);
    EXPECT_FALSE(t.clicked || t.purchased);
    EXPECT_EQ(t.p_cvr, g.truth->p_cvr) << ev.event_id << ": the purchase model has no context";
    EXPECT_DOUBLE_EQ(t.p_ctcvr, t.p_click * t.p_cvr);
    ASSERT_EQ(ev.context[0].key, "device");
    ASSERT_EQ(ev.context[2].key, "page");
    if (ev.context[0].value != stream->usual_device(user)) continue;
    ++from_usual_device;
    const std::string& page = ev.context[2].value;
    if (page == "home") {
      ++compared;
      EXPECT_EQ(t.p_click, g.truth->p_click) << ev.event_id;
      EXPECT_EQ(t.p_ctcvr, g.truth->p_ctcvr) << ev.event_id;
    } else if (page == "search") {  // search clicks more than home, cart less
      EXPECT_LT(t.p_click, g.truth->p_click) << ev.event_id;
    } else {
      EXPECT_GT(t.p_click, g.truth->p_click) << ev.event_id;
    }
  }
  // The usual device: 85% of requests, plus a third of the rest.
  EXPECT_NEAR(static_cast<double>(from_usual_device) / impressions, 0.9, 0.02);
  EXPECT_GT(compared, impressions / 3);  // home is 60% of requests
  EXPECT_EQ(render(events), render(generate(config)));
}

TEST(SyntheticStream, RejectsASlateLargerThanTheCatalog) {
  SyntheticConfig config = small_config();
  config.items = 3;
  auto stream = SyntheticStream::create(config);
  ASSERT_FALSE(stream.ok());
  EXPECT_NE(stream.error().message.find("producer.synthetic.slate_size"), std::string::npos);
}

TEST(SyntheticStream, EmptyStreamStillHasACatalog) {
  auto stream = SyntheticStream::create(small_config(0));
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(stream->catalog().size(), 500u);
  GeneratedEvent g;
  EXPECT_FALSE(stream->next(g));
}

}  // namespace
}  // namespace streamrec
