// Microbenchmarks of the online learner's hot paths, one thread.
//
//   ForwardBackward/B  one training step on a mini-batch of B samples
//                      (features, forward, loss, backward, optimizer); the
//                      FLOP/s counter counts the dense math (GEMMs and dots).
//   Score/B            impression-time scoring (features + forward).
//   EmbeddingLookup    observe() of existing keys in a 1M-row table.
//   EmbeddingUpdate    one Adagrad row update (dim 16 + 2 biases).
//   Joiner             events through the joiner, end to end.
//   Rank               one Ranker::rank call (a ranking refresh): retrieval
//                      over 2000 items, 140 candidates scored by the model.
//   RankLargeCatalog   the same over 85,000 items in 4,000 categories (the
//                      Taobao sample's catalog), the index rebuilt as in
//                      `streamrec learn` (once a second): rankings/s of the
//                      model thread on a large catalog.
//   RankSoakCatalog    as `streamrec learn` ranks on bench/soak.sh's stream:
//                      10,000 items in 50 categories, with explanations.
//   RankMillionCatalog/A  the same over 1,000,000 items, retrieval scoring
//                      every item (A = 0) or searching the approximate index
//                      (A = 1; index_build_s: its first build).
//   RankIndexRefresh   a ranking with the index's periodic refresh over
//                      85,000 items (no catalog change) before it, each call.
//   Auc/N              MetricSeries AUC of N (prediction, label) pairs (the
//                      stats file scores the whole series every few seconds);
//   AucComparisonSort/N  the same by sorting indices with std::sort, as it
//                      was computed before: the peer of Auc.
//   BlendLearn/W       one click taught to the learned blend with a window of
//                      W served lists of 100 candidates, its refits (a Newton
//                      step over the window every W/2 clicks) included: what
//                      a click costs the model thread besides its ranking
//                      (compare with Rank).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "online_learner/learner.h"
#include "online_learner/metrics.h"
#include "ranking/ranker.h"

namespace streamrec::learner {
namespace {

using ranking::Ranker;

std::vector<Sample> make_samples(size_t n, uint64_t seed, uint64_t items = 2000) {
  SplitMix rng(seed);
  std::vector<Sample> out(n);
  for (size_t i = 0; i < n; ++i) {
    Sample& s = out[i];
    s.event_id = "e" + std::to_string(i);
    s.user_id = "u" + std::to_string(rng.below(10000));
    s.item_id = "i" + std::to_string(rng.below(items));
    s.context = {{"device", rng.below(2) ? "ios" : "android", false},
                 {"hour", std::to_string(rng.below(24)), true},
                 {"page", rng.below(2) ? "home" : "search", false}};
    for (int r = 0; r < 5; ++r) s.recent_clicks.push_back("i" + std::to_string(rng.below(items)));
    s.clicked = rng.uniform() < 0.05;
    s.purchased = s.clicked && rng.uniform() < 0.1;
  }
  return out;
}

std::unique_ptr<Learner> make_learner(int items = 2000, int categories = 20) {
  LearnerConfig config;  // the defaults of configs/default.yaml
  auto l = Learner::create(config);
  for (int i = 0; i < items; ++i)
    (*l)->add_item(Item{"i" + std::to_string(i), "c" + std::to_string(i % categories), 1.0 + i % 100, true, 0});
  return std::move(l).value();
}

// FLOPs of one sample's forward and backward through the dense layers and
// dots: a Dense of in x out costs 2*in*out forward and 4*in*out backward.
double flops_per_sample(Learner& l) {
  double dense = 0;
  for (const Parameter* p : l.model().parameters())
    if (p->value.cols() > 1) dense += static_cast<double>(p->value.rows() * p->value.cols());
  const ModelShape& s = l.model().shape();
  double dots = s.interactions ? static_cast<double>(s.fields * (s.fields - 1) / 2 * s.dim) : 0;
  return 6 * dense + 6 * dots;
}

void ForwardBackward(benchmark::State& state) {
  auto l = make_learner();
  auto samples = make_samples(static_cast<size_t>(state.range(0)), 1);
  Batch batch;
  l->prepare(samples, batch);
  for (auto _ : state) {
    l->prepare(samples, batch);
    benchmark::DoNotOptimize(l->forward_backward(batch));
    l->step(batch);
  }
  double n = static_cast<double>(state.iterations()) * static_cast<double>(samples.size());
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["FLOP/s"] = benchmark::Counter(n * flops_per_sample(*l), benchmark::Counter::kIsRate);
}
BENCHMARK(ForwardBackward)->Arg(64)->Arg(256)->Arg(1024);

void Score(benchmark::State& state) {
  auto l = make_learner();
  auto samples = make_samples(static_cast<size_t>(state.range(0)), 2);
  Batch batch;
  l->prepare(samples, batch);
  for (auto _ : state) {
    l->prepare(samples, batch, false);
    l->score(batch);
    benchmark::DoNotOptimize(batch.predictions.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples.size()));
}
BENCHMARK(Score)->Arg(256);

void EmbeddingLookup(benchmark::State& state) {
  EmbeddingTable table(18, 1, 0, 0.05f, 1);
  constexpr uint64_t kRows = 1 << 20;
  for (uint64_t k = 0; k < kRows; ++k) table.observe(k * 0x9e3779b97f4a7c15ULL, 0);
  SplitMix rng(3);
  std::vector<uint64_t> keys(1 << 16);
  for (auto& k : keys) k = rng.below(kRows) * 0x9e3779b97f4a7c15ULL;
  size_t i = 0;
  float sink = 0;
  for (auto _ : state) {
    uint32_t r = table.observe(keys[i++ & (keys.size() - 1)], 1);
    sink += table.row(r)[0];
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/row"] = static_cast<double>(table.bytes_per_row());
}
BENCHMARK(EmbeddingLookup);

void EmbeddingUpdate(benchmark::State& state) {
  EmbeddingTable table(18, 1, 0, 0.05f, 1);
  for (uint64_t k = 0; k < 4096; ++k) table.observe(k, 0);
  Optimizer opt(OptimizerSettings{});
  std::vector<float> grad(18, 0.01f);
  uint32_t r = 0;
  for (auto _ : state) {
    opt.step_row(table.row(r), table.state(r), grad.data(), 18);
    r = (r + 1) & 4095;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(EmbeddingUpdate);

void JoinerThroughput(benchmark::State& state) {
  SplitMix rng(4);
  std::vector<Event> events;
  int64_t ts = 0;
  for (int n = 0; n < 100000; ++n) {
    ts += 10;
    Event e;
    e.event_id = "e" + std::to_string(n);
    e.type = EventType::kImpression;
    e.user_id = "u" + std::to_string(rng.below(10000));
    e.item_id = "i" + std::to_string(rng.below(2000));
    e.request_id = "r" + std::to_string(n / 5);
    e.ts_ms = ts;
    events.push_back(e);
    if (rng.uniform() < 0.05) {
      Event c = e;
      c.event_id += "c";
      c.type = EventType::kClick;
      c.ts_ms += 5;
      events.push_back(c);
    }
  }
  std::vector<Sample> out;
  for (auto _ : state) {
    Joiner joiner(JoinerSettings{}, nullptr);
    RecentClicksBook recent_clicks(5, 1'000'000);  // as a learner given events alone keeps them
    for (const Event& e : events) {
      joiner.add(e, needs_recent_clicks(e) ? recent_clicks.of(e.user_id) : RecentClicks{}, out);
      if (e.type == EventType::kClick) recent_clicks.remember(e);
      out.clear();
    }
    joiner.flush(out);
    out.clear();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
}
BENCHMARK(JoinerThroughput)->Unit(benchmark::kMillisecond);

void Rank(benchmark::State& state) {
  // A learner that has seen 20 k samples of 10 k users and 2 000 items, and
  // a ranker whose popularity counts 20 k events; each call ranks the next
  // user (5 recent clicks, 3 context keys), with the default ranking config.
  auto l = make_learner();
  auto samples = make_samples(20000, 5);
  Batch batch;
  for (size_t i = 0; i + 256 <= samples.size(); i += 256) {
    std::vector<Sample> chunk(samples.begin() + static_cast<std::ptrdiff_t>(i),
                              samples.begin() + static_cast<std::ptrdiff_t>(i + 256));
    l->prepare(chunk, batch);
    l->forward_backward(batch);
    l->step(batch);
  }
  Ranker ranker(RankingConfig{}, PopularityConfig{}, *l);
  for (const Sample& s : samples) {
    Event e;
    e.type = s.clicked ? EventType::kClick : EventType::kImpression;
    e.item_id = s.item_id;
    e.ts_ms = 1000;
    ranker.add_event(e);
  }
  size_t i = 0, candidates = 0;
  for (auto _ : state) {
    const Sample& s = samples[i++ % samples.size()];
    auto ranking = ranker.rank(s.user_id, s.recent_clicks, s.context, s.ts_ms);
    candidates += ranking.size();
    benchmark::DoNotOptimize(ranking.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ranked"] = static_cast<double>(candidates) / static_cast<double>(state.iterations());
}
BENCHMARK(Rank)->Unit(benchmark::kMicrosecond);

// A learner that has seen 100 k samples of 10 k users over a catalog of
// `items` in `categories` (by default 85 k in 4 000: the Taobao sample's),
// and a ranker that counted them.
struct LargeCatalog {
  explicit LargeCatalog(int items = 85000, int categories = 4000, int samples_learned = 100000,
                        RankingConfig rankings = {})
      : learner(make_learner(items, categories)), samples(make_samples(samples_learned, 6, static_cast<uint64_t>(items))) {
    Batch batch;
    for (size_t i = 0; i + 256 <= samples.size(); i += 256) {
      std::vector<Sample> chunk(samples.begin() + static_cast<std::ptrdiff_t>(i),
                                samples.begin() + static_cast<std::ptrdiff_t>(i + 256));
      learner->prepare(chunk, batch);
      learner->forward_backward(batch);
      learner->step(batch);
    }
    ranker = std::make_unique<Ranker>(rankings, PopularityConfig{}, *learner);
    for (const Sample& s : samples) ranker->add_event(event_of(s));
  }
  std::unique_ptr<Learner> learner;
  std::vector<Sample> samples;
  std::unique_ptr<Ranker> ranker;
  static Event event_of(const Sample& s) {
    Event e;
    e.type = s.clicked ? EventType::kClick : EventType::kImpression;
    e.user_id = s.user_id;
    e.item_id = s.item_id;
    e.ts_ms = 1000;
    return e;
  }
};

void RankLargeCatalog(benchmark::State& state) {
  LargeCatalog large;
  Ranker& ranker = *large.ranker;
  size_t i = 0, ranked = 0;
  for (auto _ : state) {
    const Sample& s = large.samples[i++ % large.samples.size()];
    auto ranking = ranker.rank(s.user_id, s.recent_clicks, s.context, s.ts_ms);
    ranked += ranking.size();
    benchmark::DoNotOptimize(ranking.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ranked"] = static_cast<double>(ranked) / static_cast<double>(state.iterations());
}
BENCHMARK(RankLargeCatalog)->Unit(benchmark::kMicrosecond)->MinTime(3.0);

// A million items in 20,000 categories, a learner that has seen a million
// samples; retrieval scoring every item (0) or searching the approximate
// index (1; its first build, on its own thread, waited for and timed).
void RankMillionCatalog(benchmark::State& state) {
  RankingConfig rankings;
  rankings.approximate_retrieval_items = state.range(0) ? 200000 : 0;
  LargeCatalog large(1'000'000, 20'000, 1'000'000, rankings);
  Ranker& ranker = *large.ranker;
  const auto start = std::chrono::steady_clock::now();
  while (state.range(0) && ranker.retrieval_index_items() == 0) {
    const Sample& s = large.samples[0];
    ranker.rank(s.user_id, s.recent_clicks, s.context, s.ts_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  state.counters["index_build_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  state.counters["indexed"] = static_cast<double>(ranker.retrieval_index_items());
  size_t i = 0;
  for (auto _ : state) {
    const Sample& s = large.samples[i++ % large.samples.size()];
    auto ranking = ranker.rank(s.user_id, s.recent_clicks, s.context, s.ts_ms);
    benchmark::DoNotOptimize(ranking.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(RankMillionCatalog)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->Iterations(2000);

// As `streamrec learn` ranks on the soak's stream (bench/soak/feed.py:
// 10 000 items in 50 categories): with the explanations it writes beside
// each ranking (rankings.explain, on by default).
void RankSoakCatalog(benchmark::State& state) {
  LargeCatalog soak(10000, 50);
  Ranker& ranker = *soak.ranker;
  std::vector<ranking::Explanation> why;
  size_t i = 0, ranked = 0;
  for (auto _ : state) {
    const Sample& s = soak.samples[i++ % soak.samples.size()];
    auto ranking = ranker.rank(s.user_id, s.recent_clicks, s.context, s.ts_ms, &why);
    ranked += ranking.size();
    benchmark::DoNotOptimize(ranking.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ranked"] = static_cast<double>(ranked) / static_cast<double>(state.iterations());
}
BENCHMARK(RankSoakCatalog)->Unit(benchmark::kMicrosecond)->MinTime(3.0);

void RankIndexRefresh(benchmark::State& state) {
  LargeCatalog large;
  Ranker& ranker = *large.ranker;
  ranker.rebuild_index_every(1);  // each event given makes the next rank() refresh the index
  size_t i = 0;
  std::vector<std::pair<std::string, double>> ranking;
  // Each iteration: one event, the refresh, one ranking (RankLargeCatalog's
  // time per call): the refresh is the difference.
  for (auto _ : state) {
    const Sample& s = large.samples[i++ % large.samples.size()];
    ranker.add_event(LargeCatalog::event_of(s));
    ranking = ranker.rank(s.user_id, s.recent_clicks, s.context, s.ts_ms);
    benchmark::DoNotOptimize(ranking.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(RankIndexRefresh)->Unit(benchmark::kMillisecond);

// Predictions and labels like a click series': a few percent positives,
// scores that rise with them.
void random_series(size_t n, std::vector<float>& p, std::vector<float>& y) {
  SplitMix rng(5);
  p.resize(n);
  y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    y[i] = rng.uniform() < 0.05 ? 1.0f : 0.0f;
    p[i] = static_cast<float>(0.02 + 0.05 * y[i] + 0.1 * rng.uniform());
  }
}

void Auc(benchmark::State& state) {
  std::vector<float> p, y;
  random_series(static_cast<size_t>(state.range(0)), p, y);
  MetricSeries series;
  for (size_t i = 0; i < p.size(); ++i) series.add(p[i], y[i]);
  for (auto _ : state) benchmark::DoNotOptimize(series.auc(0, series.size()));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(Auc)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

void AucComparisonSort(benchmark::State& state) {
  std::vector<float> p, y;
  random_series(static_cast<size_t>(state.range(0)), p, y);
  for (auto _ : state) {
    std::vector<uint32_t> order(p.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return p[a] < p[b]; });
    double positive_rank_sum = 0, positives = 0;
    for (size_t i = 0; i < order.size();) {
      size_t j = i;
      while (j < order.size() && p[order[j]] == p[order[i]]) ++j;
      for (size_t k = i; k < j; ++k)
        if (y[order[k]] > 0.5f) positive_rank_sum += (static_cast<double>(i + 1) + static_cast<double>(j)) / 2, ++positives;
      i = j;
    }
    double negatives = static_cast<double>(p.size()) - positives;
    benchmark::DoNotOptimize((positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(AucComparisonSort)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

void BlendLearn(benchmark::State& state) {
  using ranking::BlendFeatures;
  std::mt19937 random(3);
  std::uniform_real_distribution<float> uniform(0, 1);
  std::vector<std::vector<BlendFeatures>> lists(64, std::vector<BlendFeatures>(100));
  for (auto& list : lists)
    for (auto& x : list)
      for (float& f : x) f = uniform(random);
  ranking::LearnedBlend blend(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    blend.learn(lists[i % lists.size()], i % 100);
    ++i;
  }
  benchmark::DoNotOptimize(blend.weights().data());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BlendLearn)->Arg(512)->Arg(2048)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace streamrec::learner

BENCHMARK_MAIN();
