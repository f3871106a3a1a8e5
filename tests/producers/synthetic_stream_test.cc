// The synthetic stream: deterministic, in event-time order, causally
// consistent, calibrated, and with a user x item effect that matters.
#include "producers/synthetic_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace streamrec {
namespace {

// The original stream (short delays, no drift, no churn), which most tests
// here describe; the realistic settings, the default, have tests of their own.
SyntheticConfig small_config(int64_t impressions = 20000) {
  SyntheticConfig c;
  c.delays = "short";
  c.drift_share = 0;
  c.churn_share = 0;
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
      case EventType::kForget:
        ADD_FAILURE() << "the synthetic stream forgets nobody";
        break;
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

// The CDF of a realistic delay (seconds): a mixture of two log-normals with
// log standard deviation 1, capped.
double mixture_cdf(double x, double fast_median, double slow_median, double slow_share, double cap) {
  if (x >= cap) return 1;
  auto phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  return (1 - slow_share) * phi(std::log(x / fast_median)) + slow_share * phi(std::log(x / slow_median));
}

double mixture_quantile(double q, double fast_median, double slow_median, double slow_share, double cap) {
  double lo = std::log(1e-3), hi = std::log(cap);
  for (int i = 0; i < 100; ++i) {
    double mid = 0.5 * (lo + hi);
    (mixture_cdf(std::exp(mid), fast_median, slow_median, slow_share, cap) < q ? lo : hi) = mid;
  }
  return std::exp(0.5 * (lo + hi));
}

double empirical_quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(q * (values.size() - 1))];
}

SyntheticConfig realistic_config(int64_t impressions) {
  SyntheticConfig c = small_config(impressions);
  c.delays = "realistic";
  c.base_ctr = 0.2;  // many clicks and purchases for tight quantiles
  c.base_cvr = 0.3;
  return c;
}

TEST(SyntheticStream, RealisticDelaysFollowTheirHeavyTailedMixtureInEventTimeOrder) {
  SyntheticConfig config = realistic_config(150000);
  auto events = generate(config);
  std::map<std::pair<std::string, std::string>, int64_t> shown, clicked;  // (request, item) -> ts
  std::vector<double> click_s, purchase_s;
  int64_t last_ts = 0;
  for (const auto& g : events) {
    const Event& ev = g.event;
    ASSERT_GE(ev.ts_ms, last_ts) << ev.event_id << " comes out of event-time order";
    last_ts = ev.ts_ms;
    auto key = std::make_pair(ev.request_id, ev.item_id);
    if (ev.type == EventType::kImpression) shown[key] = ev.ts_ms;
    if (ev.type == EventType::kClick) {
      click_s.push_back((ev.ts_ms - shown.at(key)) / 1000.0);
      clicked[key] = ev.ts_ms;
    }
    if (ev.type == EventType::kPurchase) purchase_s.push_back((ev.ts_ms - clicked.at(key)) / 1000.0);
  }
  ASSERT_GT(click_s.size(), 25000u);
  ASSERT_GT(purchase_s.size(), 7000u);
  for (double q : {0.1, 0.25, 0.5, 0.75, 0.9}) {
    double want_click = mixture_quantile(q, config.click_delay_fast_median_s, config.click_delay_slow_median_s,
                                         config.click_delay_slow_share, config.click_delay_max_s);
    double want_purchase =
        mixture_quantile(q, config.purchase_delay_fast_median_s, config.purchase_delay_slow_median_s,
                         config.purchase_delay_slow_share, config.purchase_delay_max_s);
    EXPECT_NEAR(empirical_quantile(click_s, q), want_click, 0.08 * want_click) << "click delay quantile " << q;
    EXPECT_NEAR(empirical_quantile(purchase_s, q), want_purchase, 0.1 * want_purchase)
        << "purchase delay quantile " << q;
  }
  // Heavy tails: clicks minutes later, purchases many hours later, never
  // past the caps.
  EXPECT_GT(empirical_quantile(click_s, 0.95), 300);  // 7.9 min at the defaults
  EXPECT_GT(empirical_quantile(purchase_s, 0.9), 5 * 3600);  // 7 h at the defaults
  EXPECT_LE(*std::max_element(click_s.begin(), click_s.end()), config.click_delay_max_s);
  EXPECT_LE(*std::max_element(purchase_s.begin(), purchase_s.end()), config.purchase_delay_max_s);
  EXPECT_GE(*std::min_element(click_s.begin(), click_s.end()), 1.0);
}

TEST(SyntheticStream, RealisticDelaysMoveOnlyTheLabelsInTime) {
  SyntheticConfig short_delays = small_config(20000);
  SyntheticConfig realistic = short_delays;
  realistic.delays = "realistic";
  auto impressions = [](const std::vector<GeneratedEvent>& events) {
    std::string out;
    for (const auto& g : events) {
      if (!g.truth) continue;
      Event ev = g.event;
      ev.event_id.clear();  // ids count emission order, which the delays change
      out += encode_event(ev) + (g.truth->clicked ? " c" : " -") + (g.truth->purchased ? "p\n" : "-\n");
    }
    return out;
  };
  auto a = generate(short_delays), b = generate(realistic);
  EXPECT_EQ(impressions(a), impressions(b));
  EXPECT_NE(render(a), render(b));
}

TEST(SyntheticStream, TasteDriftsForTheConfiguredShareOfUsersAtTheConfiguredPoint) {
  SyntheticConfig still = small_config(40000);
  still.users = 2000;
  SyntheticConfig drifting = still;
  drifting.drift_share = 0.3;
  drifting.drift_at = 0.5;  // after impression 20000, a request boundary (slate 5)
  auto stream = SyntheticStream::create(drifting);
  ASSERT_TRUE(stream.ok());
  std::vector<double> before(stream->users());
  for (int64_t u = 0; u < stream->users(); ++u) before[u] = stream->truth_of(u, 7, still.start_ts_ms).p_click;

  auto impressions = [](const std::vector<GeneratedEvent>& events) {
    std::vector<const GeneratedEvent*> out;
    for (const auto& g : events)
      if (g.truth) out.push_back(&g);
    return out;
  };
  auto all_a = drain(*stream), all_b = generate(still);
  auto a = impressions(all_a), b = impressions(all_b);
  ASSERT_EQ(a.size(), b.size());
  int64_t changed_after = 0, changed_before = 0;
  std::set<std::string> changed_users;
  for (size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(a[k]->event.user_id, b[k]->event.user_id) << "a drift changes probabilities, not the draws";
    ASSERT_EQ(a[k]->event.item_id, b[k]->event.item_id);
    bool changed = a[k]->truth->p_click != b[k]->truth->p_click;
    (k < 20000 ? changed_before : changed_after) += changed;
    if (changed) changed_users.insert(a[k]->event.user_id);
  }
  EXPECT_EQ(changed_before, 0);
  EXPECT_GT(changed_after, 20000 * 0.15);
  EXPECT_LT(changed_after, 20000 * 0.5);

  int64_t drifted = 0;
  for (int64_t u = 0; u < stream->users(); ++u) {
    bool moved = stream->truth_of(u, 7, still.start_ts_ms).p_click != before[u];
    drifted += moved;
    if (changed_users.count(std::string("u").append(std::to_string(u)))) {
      EXPECT_TRUE(moved) << u;
    }
  }
  EXPECT_NEAR(static_cast<double>(drifted) / stream->users(), 0.3, 0.04);  // sd ~0.01
}

TEST(SyntheticStream, ChurnLaunchesAndRetiresItemsAndShowsOnlyWhatIsOnSale) {
  SyntheticConfig config = small_config(40000);
  config.churn_share = 0.2;
  auto stream = SyntheticStream::create(config);
  ASSERT_TRUE(stream.ok());
  std::set<std::string> on_sale;
  for (const Item& item : stream->opening_catalog()) on_sale.insert(item.item_id);
  EXPECT_EQ(on_sale.size(), 400u);  // 100 of 500 launch later

  std::set<std::string> launched, retired, shown_after_launch;
  int64_t last_ts = config.start_ts_ms, impressions = 0;
  GeneratedEvent g;
  while (stream->next(g)) {
    if (g.item) {
      EXPECT_TRUE(g.event.event_id.empty() && !g.truth);
      EXPECT_GE(g.item->ts_ms, last_ts);
      last_ts = g.item->ts_ms;
      if (g.item->available) {
        EXPECT_TRUE(on_sale.insert(g.item->item_id).second) << g.item->item_id << " launched twice";
        EXPECT_TRUE(launched.insert(g.item->item_id).second);
      } else {
        EXPECT_EQ(on_sale.erase(g.item->item_id), 1u) << g.item->item_id << " retired while not on sale";
        EXPECT_TRUE(retired.insert(g.item->item_id).second);
      }
      continue;
    }
    EXPECT_GE(g.event.ts_ms, last_ts);
    last_ts = g.event.ts_ms;
    if (!g.truth) continue;
    ++impressions;
    EXPECT_TRUE(on_sale.count(g.event.item_id)) << g.event.event_id << " shows " << g.event.item_id << ", not on sale";
    if (launched.count(g.event.item_id)) shown_after_launch.insert(g.event.item_id);
  }
  EXPECT_EQ(impressions, config.impressions);
  EXPECT_EQ(launched.size(), 100u);
  EXPECT_EQ(retired.size(), 100u);
  EXPECT_GT(shown_after_launch.size(), 50u);
}

TEST(SyntheticStream, RejectsChurnThatLeavesTooFewItemsForASlate) {
  SyntheticConfig config = small_config();
  config.items = 20;
  config.slate_size = 10;
  config.churn_share = 0.4;  // as few as 20 - 16 = 4 items on sale
  auto stream = SyntheticStream::create(config);
  ASSERT_FALSE(stream.ok());
  EXPECT_NE(stream.error().message.find("producer.synthetic.slate_size"), std::string::npos);
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
