// Ranking quality versus the number of candidates a ranking refresh scores,
// judged by the synthetic stream's ground truth.
//
// Learns the synthetic stream (the default world: 10,000 users, 2,000 items;
// 1,000,000 impressions unless --impressions says otherwise) as `streamrec
// learn` does: every event, in stream order, goes to the Learner and to the
// Rankers, and each user's last `learner.recent_clicks` clicked items (newest
// first) and latest context are kept beside, as the pipeline passes them to
// Ranker::rank. At the stream's midpoint and at its end, a fixed sample of
// users who have clicked something is ranked by one Ranker per candidate
// setting, all over the same learner. Per setting:
//   cands       candidates scored per ranking (retrieval + popular + category, without repeats)
//   us mean/p50 wall time of one Ranker::rank, all settings in the same run (they take
//               turns every 100 users, so a busy machine slows them alike)
//   click@10/50 mean true p_click of the ranking's first 10 / 50 items
//   value@10/50 the same for the ranker's objective p_click + value_weight * p_ctcvr * price
//   found       share of the oracle's 50 best by value that are among the candidates
//               (the most a perfect reranker of these candidates could keep)
//   same        share of the 50 items it ranks that the default setting ranks too
//   dvalue@10/50  value@10 / 50 minus the default's, paired by user, +- 2 standard errors
// The truth is SyntheticStream::truth_of at the evaluation's event time (the
// user's usual device, the home page). References: the oracle (in each
// column, the best any 10 / 50 items of the catalog reach by that column's
// measure: the ceiling), sr:pop (the 50 most popular items, what apps show
// without a ranking: the floor) and a random item (the catalog's mean).
//
// Run (Release build):
//   build/bench/ranking_quality [--impressions N] [--users N] [--set key=value]...
// --users is the sample size (2000); --set changes any setting, as for
// streamrec (the environment is ignored, so runs repeat). Takes about 30 s
// at the defaults on the 2-vCPU development machine.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "core/popularity.h"
#include "online_learner/learner.h"
#include "ranking/ranker.h"
#include "ranking/realtime_user.h"
#include "producers/random.h"
#include "producers/synthetic_stream.h"

namespace streamrec {
namespace {

using learner::Learner;
using ranking::Ranker;
using learner::SeriesSummary;
using Clock = std::chrono::steady_clock;

struct Options {
  int64_t impressions = 1'000'000;
  int64_t users = 2000;
  std::vector<std::string> sets;
};

// A candidate setting: rankings.retrieval_candidates, popular_candidates and
// category_candidates; the rest of the ranking config is the configured one.
struct Setting {
  int64_t retrieval, popular, category;
  std::string name() const {
    return std::to_string(retrieval) + " + " + std::to_string(popular) + " + " + std::to_string(category);
  }
};
const Setting kSettings[] = {{25, 20, 20}, {50, 20, 20}, {75, 20, 20}, {100, 20, 20},
                             {200, 20, 20}, {50, 0, 0},  {100, 0, 0}};
constexpr size_t kDefault = 3;  // 100 + 20 + 20, rankings.* defaults

// The real-time state the pipeline keeps per user (StreamPipeline::on_event).
using UserState = ranking::RealtimeUser;

// n of "u<n>" or "i<n>".
int64_t number_of(const std::string& id) {
  int64_t n = -1;
  std::from_chars(id.data() + 1, id.data() + id.size(), n);
  return n;
}

// One setting's (or reference's) measures, summed over the sampled users.
struct Quality {
  double click10 = 0, click50 = 0, value10 = 0, value50 = 0, found = 0, same = 0;
  double cands = 0;
  int64_t empty = 0;
  std::vector<double> value10_by_user, value50_by_user;
  std::vector<double> micros;  // per Ranker::rank call
};

struct Truths {
  std::vector<double> click, value;  // per item
};

// Adds the mean truth of items [first, first + k) of `ranking` (fewer if short).
void add_top(const std::vector<int64_t>& ranking, const Truths& t, Quality& q) {
  auto mean = [&](const std::vector<double>& of, size_t k) {
    k = std::min(k, ranking.size());
    double s = 0;
    for (size_t j = 0; j < k; ++j) s += of[static_cast<size_t>(ranking[j])];
    return k ? s / static_cast<double>(k) : 0.0;
  };
  q.click10 += mean(t.click, 10);
  q.click50 += mean(t.click, 50);
  q.value10 += mean(t.value, 10);
  q.value50 += mean(t.value, 50);
  q.value10_by_user.push_back(mean(t.value, 10));
  q.value50_by_user.push_back(mean(t.value, 50));
}

// The mean of the k largest of `of`.
double best_mean(std::vector<double> of, size_t k) {
  k = std::min(k, of.size());
  std::nth_element(of.begin(), of.begin() + static_cast<std::ptrdiff_t>(k) - 1, of.end(), std::greater<>());
  return std::accumulate(of.begin(), of.begin() + static_cast<std::ptrdiff_t>(k), 0.0) / static_cast<double>(k);
}

// The items of a ranking, by number.
std::vector<int64_t> item_numbers(const std::vector<std::pair<std::string, double>>& ranking) {
  std::vector<int64_t> items;
  items.reserve(ranking.size());
  for (const auto& [id, score] : ranking) items.push_back(number_of(id));
  return items;
}

class Bench {
 public:
  Bench(const Config& config, SyntheticStream& stream, Learner& learner, int64_t sample_size)
      : config_(config), stream_(stream), learner_(learner), sample_size_(sample_size),
        users_(static_cast<size_t>(stream.users())),
        popularity_(static_cast<size_t>(stream.items()), -std::numeric_limits<double>::infinity()) {
    for (const Setting& s : kSettings) {
      RankingConfig c = config.rankings;
      c.retrieval_candidates = s.retrieval;
      c.popular_candidates = s.popular;
      c.category_candidates = s.category;
      timed_.push_back(std::make_unique<Ranker>(c, config.popularity, learner));
      // Its twin ranks every candidate (the scores and so the order are the
      // same), which tells which candidates there were.
      c.top_k = stream.items();
      listing_.push_back(std::make_unique<Ranker>(c, config.popularity, learner));
    }
    // A fixed order of users; each evaluation samples the first who have clicked.
    order_.resize(users_.size());
    std::iota(order_.begin(), order_.end(), 0);
    Random rng(7);
    for (size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[rng.below(i + 1)]);
  }

  // What streamrec learn does with an event: the real-time user state
  // (StreamPipeline::on_event), then the learner and the ranker (ModelThread).
  // Plus sr:pop's score, for the floor.
  void add_event(const Event& e) {
    learner_.add_event(e);
    for (auto& r : timed_) r->add_event(e);
    for (auto& r : listing_) r->add_event(e);
    auto item = static_cast<size_t>(number_of(e.item_id));
    popularity_[item] = log2_sum(popularity_[item], popularity_exponent(config_.popularity, e.type, e.ts_ms));

    users_[static_cast<size_t>(number_of(e.user_id))].observe(e, config_.learner.recent_clicks);
    now_ms_ = std::max(now_ms_, e.ts_ms);
  }

  void evaluate(const char* when, int64_t impressions);

 private:
  // One user's arguments to Ranker::rank.
  struct Request {
    std::string user_id;
    std::vector<std::string> recent;
    std::vector<ContextFeature> context;
    int64_t ts_ms;
  };

  // The first sample_size_ users of order_ who have clicked something.
  std::vector<int64_t> sample() const;
  // Ranks every request with every timed ranker, recording the time of each
  // call; returns the rankings as item numbers, [setting][request].
  std::vector<std::vector<std::vector<int64_t>>> time_rankings(const std::vector<Request>& requests,
                                                               std::vector<Quality>& quality);
  // Adds up each setting's quality by the truth, and the references'.
  void judge(const std::vector<int64_t>& users, const std::vector<Request>& requests,
             const std::vector<std::vector<std::vector<int64_t>>>& ranked, std::vector<Quality>& quality,
             Quality& oracle, Quality& by_popularity, Quality& any_item);

  const Config& config_;
  SyntheticStream& stream_;
  Learner& learner_;
  int64_t sample_size_;
  std::vector<std::unique_ptr<Ranker>> timed_, listing_;
  std::vector<UserState> users_;
  std::vector<double> popularity_;  // per item, as sr:pop scores it
  std::vector<size_t> order_;
  int64_t now_ms_ = 0;
};

std::vector<int64_t> Bench::sample() const {
  std::vector<int64_t> users;
  for (size_t u : order_) {
    if (static_cast<int64_t>(users.size()) == sample_size_) break;
    if (!users_[u].recent.empty()) users.push_back(static_cast<int64_t>(u));
  }
  return users;
}

void Bench::evaluate(const char* when, int64_t impressions) {
  const std::vector<int64_t> users = sample();
  if (users.empty()) {
    std::printf("\n== %s: no user has clicked yet\n", when);
    return;
  }
  // What the pipeline would pass to Ranker::rank for each user now.
  std::vector<Request> requests;
  for (int64_t user : users) {
    const UserState& state = users_[static_cast<size_t>(user)];
    requests.push_back({"u" + std::to_string(user), {state.recent.begin(), state.recent.end()}, state.context,
                        state.last_ts_ms});
  }
  std::vector<Quality> quality(timed_.size());
  std::vector<std::vector<std::vector<int64_t>>> ranked = time_rankings(requests, quality);
  Quality oracle, by_popularity, any_item;
  judge(users, requests, ranked, quality, oracle, by_popularity, any_item);

  const SeriesSummary click = [&] {
    for (const auto& [name, series] : learner_.series())
      if (name == "click") return series.window(static_cast<size_t>(config_.learner.metrics_window));
    return SeriesSummary{};
  }();
  std::printf("\n== %s: %lld impressions learned (%llu samples; click AUC %.4f over the last %zu), "
              "%zu users who clicked, truth at hour %lld UTC\n",
              when, static_cast<long long>(impressions), static_cast<unsigned long long>(learner_.samples_learned()),
              click.auc, click.count, users.size(), static_cast<long long>(now_ms_ / 3'600'000 % 24));
  std::printf("%-22s %6s %8s %7s %8s %8s %8s %8s %6s %6s %20s %20s\n", "candidates (r + p + c)", "cands", "us mean",
              "us p50", "click@10", "click@50", "value@10", "value@50", "found", "same", "dvalue@10 vs 100",
              "dvalue@50 vs 100");
  const double n = static_cast<double>(users.size());
  // "d +- 2 se" of the paired differences ours - default's, per user.
  auto difference = [&](const std::vector<double>& ours, const std::vector<double>& base) {
    double d = 0, d2 = 0;
    for (size_t j = 0; j < base.size(); ++j) {
      double x = ours[j] - base[j];
      d += x;
      d2 += x * x;
    }
    d /= n;
    double se = std::sqrt(std::max(0.0, d2 / n - d * d) / std::max(1.0, n - 1));
    char text[64];
    std::snprintf(text, sizeof text, "%+.5f +- %.5f", d, 2 * se);
    return std::string(text);
  };
  int64_t empty = 0;
  for (size_t s = 0; s < quality.size(); ++s) {
    Quality& q = quality[s];
    empty += q.empty;
    std::vector<double> micros = q.micros;
    std::nth_element(micros.begin(), micros.begin() + static_cast<std::ptrdiff_t>(micros.size() / 2), micros.end());
    double mean_us = std::accumulate(micros.begin(), micros.end(), 0.0) / static_cast<double>(micros.size());
    std::printf("%-22s %6.1f %8.1f %7.1f %8.4f %8.4f %8.4f %8.4f %6.3f %6.3f %20s %20s\n",
                kSettings[s].name().c_str(), q.cands / n, mean_us, micros[micros.size() / 2], q.click10 / n,
                q.click50 / n, q.value10 / n, q.value50 / n, q.found / n, q.same / n,
                difference(q.value10_by_user, quality[kDefault].value10_by_user).c_str(),
                difference(q.value50_by_user, quality[kDefault].value50_by_user).c_str());
  }
  auto reference = [&](const char* name, const Quality& q) {
    std::printf("%-22s %6s %8s %7s %8.4f %8.4f %8.4f %8.4f\n", name, "", "", "", q.click10 / n, q.click50 / n,
                q.value10 / n, q.value50 / n);
  };
  reference("oracle (ceiling)", oracle);
  reference("sr:pop top 50 (floor)", by_popularity);
  reference("random item", any_item);
  if (empty > 0) std::printf("(%lld rankings were empty: they count as 0)\n", static_cast<long long>(empty));
  std::fflush(stdout);
}

std::vector<std::vector<std::vector<int64_t>>> Bench::time_rankings(const std::vector<Request>& requests,
                                                                    std::vector<Quality>& quality) {
  // Each setting ranks kUsersInARow users in a row, as streamrec learn's one
  // Ranker ranks its requests (with the index and the model's weights in
  // cache: taking turns user by user, seven rankers evict each other's and
  // cost ~60 us more per call); the settings take turns every kUsersInARow
  // users, each turn starting one setting further, so a busy machine slows
  // them alike. One untimed call first builds each ranker's index.
  constexpr size_t kUsersInARow = 100;
  const size_t n_settings = timed_.size();
  std::vector<std::vector<std::vector<int64_t>>> ranked(n_settings, std::vector<std::vector<int64_t>>(requests.size()));
  const Request& first = requests.front();
  for (auto& r : timed_) r->rank(first.user_id, first.recent, first.context, first.ts_ms);
  for (size_t begin = 0, turn = 0; begin < requests.size(); begin += kUsersInARow, ++turn) {
    const size_t end = std::min(requests.size(), begin + kUsersInARow);
    for (size_t k = 0; k < n_settings; ++k) {
      const size_t s = (turn + k) % n_settings;
      for (size_t j = begin; j < end; ++j) {
        const Request& r = requests[j];
        auto start = Clock::now();
        auto ranking = timed_[s]->rank(r.user_id, r.recent, r.context, r.ts_ms);
        quality[s].micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        ranked[s][j] = item_numbers(ranking);
      }
    }
  }
  return ranked;
}

void Bench::judge(const std::vector<int64_t>& users, const std::vector<Request>& requests,
                  const std::vector<std::vector<std::vector<int64_t>>>& ranked, std::vector<Quality>& quality,
                  Quality& oracle, Quality& by_popularity, Quality& any_item) {
  const std::vector<Item>& catalog = stream_.catalog();
  const size_t items = catalog.size();
  const size_t n_settings = timed_.size();

  // sr:pop's best, ties by item number: the same list for everyone.
  std::vector<int64_t> popular(items);
  std::iota(popular.begin(), popular.end(), 0);
  std::stable_sort(popular.begin(), popular.end(), [&](int64_t a, int64_t b) {
    return popularity_[static_cast<size_t>(a)] > popularity_[static_cast<size_t>(b)];
  });
  popular.resize(std::min(items, static_cast<size_t>(config_.rankings.top_k)));

  Truths truths;
  truths.click.resize(items);
  truths.value.resize(items);
  std::vector<int64_t> best_by_value(items), candidates, shared;
  for (size_t j = 0; j < users.size(); ++j) {
    for (size_t i = 0; i < items; ++i) {
      ImpressionTruth t = stream_.truth_of(users[j], static_cast<int64_t>(i), now_ms_);
      truths.click[i] = t.p_click;
      truths.value[i] = t.p_click + config_.rankings.value_weight * t.p_ctcvr * catalog[i].price;
    }
    oracle.click10 += best_mean(truths.click, 10);
    oracle.click50 += best_mean(truths.click, 50);
    oracle.value10 += best_mean(truths.value, 10);
    oracle.value50 += best_mean(truths.value, 50);
    add_top(popular, truths, by_popularity);
    any_item.click10 += best_mean(truths.click, items);
    any_item.value10 += best_mean(truths.value, items);

    // The oracle's 50 best by value, sorted by item number.
    best_by_value.resize(items);
    std::iota(best_by_value.begin(), best_by_value.end(), 0);
    const auto best = static_cast<std::ptrdiff_t>(std::min<size_t>(50, items));
    std::nth_element(best_by_value.begin(), best_by_value.begin() + best - 1, best_by_value.end(),
                     [&](int64_t a, int64_t b) {
                       return truths.value[static_cast<size_t>(a)] > truths.value[static_cast<size_t>(b)];
                     });
    best_by_value.resize(static_cast<size_t>(best));
    std::sort(best_by_value.begin(), best_by_value.end());

    std::vector<int64_t> default_items = ranked[kDefault][j];
    std::sort(default_items.begin(), default_items.end());
    for (size_t s = 0; s < n_settings; ++s) {
      const std::vector<int64_t>& ranking = ranked[s][j];
      Quality& q = quality[s];
      if (ranking.empty()) ++q.empty;
      add_top(ranking, truths, q);

      const Request& r = requests[j];
      candidates = item_numbers(listing_[s]->rank(r.user_id, r.recent, r.context, r.ts_ms));
      q.cands += static_cast<double>(candidates.size());
      std::sort(candidates.begin(), candidates.end());
      shared.clear();
      std::set_intersection(best_by_value.begin(), best_by_value.end(), candidates.begin(), candidates.end(),
                            std::back_inserter(shared));
      q.found += static_cast<double>(shared.size()) / static_cast<double>(best_by_value.size());

      std::vector<int64_t> ours = ranking;
      std::sort(ours.begin(), ours.end());
      shared.clear();
      std::set_intersection(ours.begin(), ours.end(), default_items.begin(), default_items.end(),
                            std::back_inserter(shared));
      if (!ours.empty()) q.same += static_cast<double>(shared.size()) / static_cast<double>(ours.size());
    }
  }
  any_item.click50 = any_item.click10;
  any_item.value50 = any_item.value10;
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--impressions N] [--users N] [--set key=value]...\n", argv0);
  return 2;
}

int run(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage(argv[0]);
    const char* value = argv[++i];
    if (arg == "--impressions") options.impressions = std::atoll(value);
    else if (arg == "--users") options.users = std::atoll(value);
    else if (arg == "--set") options.sets.push_back(value);
    else return usage(argv[0]);
  }
  if (options.impressions < 2 || options.users < 1) return usage(argv[0]);

  auto config = load_config({"", {}, options.sets});
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.error().message.c_str());
    return 2;
  }
  config->producer.synthetic.impressions = options.impressions;
  auto stream = SyntheticStream::create(config->producer.synthetic);
  if (!stream.ok()) {
    std::fprintf(stderr, "%s\n", stream.error().message.c_str());
    return 2;
  }
  auto learner = Learner::create(config->learner);
  if (!learner.ok()) {
    std::fprintf(stderr, "%s\n", learner.error().message.c_str());
    return 2;
  }
  for (const Item& item : stream->catalog()) (*learner)->add_item(item);

  std::printf("ranking_quality: %lld users, %lld items, %lld impressions; ranking settings as configured "
              "(top_k %lld, value_weight %g, recent_category_boost %g) but for the candidate counts\n",
              static_cast<long long>(stream->users()), static_cast<long long>(stream->items()),
              static_cast<long long>(options.impressions), static_cast<long long>(config->rankings.top_k),
              config->rankings.value_weight, config->rankings.recent_category_boost);
  Bench bench(*config, *stream, **learner, options.users);
  const int64_t midpoint = options.impressions / 2;
  int64_t impressions = 0;
  auto start = Clock::now();
  GeneratedEvent g;
  while (stream->next(g)) {
    bench.add_event(g.event);
    if (g.truth && ++impressions == midpoint) {
      std::printf("(learned in %.1f s)\n", std::chrono::duration<double>(Clock::now() - start).count());
      bench.evaluate("midpoint", impressions);
    }
  }
  std::printf("(learned %lld events in %.1f s, evaluations included)\n", static_cast<long long>(stream->events_emitted()),
              std::chrono::duration<double>(Clock::now() - start).count());
  bench.evaluate("end", impressions);
  return 0;
}

}  // namespace
}  // namespace streamrec

int main(int argc, char** argv) { return streamrec::run(argc, argv); }
