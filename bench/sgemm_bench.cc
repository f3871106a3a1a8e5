// The learner's dense math against the machine's single-core SGEMM, in one
// binary and one run (the machine may be shared: read the ratios).
//
//   Sgemm/N           Eigen's C = A * B, N x N float matrices, one thread:
//                     the ceiling one core reaches with Eigen here.
//   Sgemm/first-layer the learner's largest product at its shape: the first
//                     layer (experts and gates stacked, 264 x 133 at the
//                     defaults) times a mini-batch of 256 inputs.
//   ModelDense/B      the learner's Model (the defaults of
//                     configs/default.yaml: 7 fields of dim 16, 21 dots,
//                     MMoE 4 x 64, towers 32, 2 tasks): forward + backward
//                     of a mini-batch of B, no features, loss or optimizer.
//                     FLOP/s counts 2 * in * out per weight forward and
//                     4 * in * out backward (weights' and inputs'
//                     gradients), plus the dots: the figure to hold against
//                     Sgemm's.
//   ModelForward/B    forward alone (what impression-time scoring runs).
//
// Run: build/bench/sgemm_bench [--benchmark_repetitions=3]
#include <benchmark/benchmark.h>

#include "core/config.h"
#include "online_learner/features.h"
#include "online_learner/model.h"

namespace streamrec::learner {
namespace {

void Sgemm(benchmark::State& state) {
  const auto n = static_cast<Eigen::Index>(state.range(0));
  Mat a = Mat::Random(n, n), b = Mat::Random(n, n), c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * n * n * n,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(Sgemm)->Arg(128)->Arg(256)->Arg(512)->Arg(1024);

// The default model's shape, as the learner builds it.
ModelShape default_shape() {
  LearnerConfig c;
  ModelShape s;
  s.fields = FeatureEncoder(split_list(c.context_fields), c.recent_clicks > 0).fields();
  s.dim = static_cast<int>(c.embedding_dim);
  s.interactions = c.interactions;
  s.experts = static_cast<int>(c.experts);
  s.expert_hidden = static_cast<int>(c.expert_hidden);
  s.tower_hidden = static_cast<int>(c.tower_hidden);
  s.tasks = 2;
  return s;
}

void SgemmFirstLayer(benchmark::State& state) {
  const ModelShape s = default_shape();
  const Eigen::Index in = s.fields * s.dim + s.fields * (s.fields - 1) / 2;
  const Eigen::Index out = s.experts * s.expert_hidden + s.tasks * s.experts, batch = 256;
  Mat w = Mat::Random(out, in), x = Mat::Random(in, batch), y(out, batch);
  for (auto _ : state) {
    y.noalias() = w * x;
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * out * in * batch,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(SgemmFirstLayer)->Name("Sgemm/first-layer");



double flops_per_sample(const Model& m, bool backward) {
  double weights = 0;
  for (const Parameter* p : m.parameters())
    if (p->value.cols() > 1) weights += static_cast<double>(p->value.rows() * p->value.cols());
  const ModelShape& s = m.shape();
  double dots = s.interactions ? static_cast<double>(s.fields * (s.fields - 1) / 2 * s.dim) : 0;
  return (backward ? 6 : 2) * (weights + dots);
}

void ModelDense(benchmark::State& state) {
  Model model(default_shape(), 1);
  const auto batch = static_cast<Eigen::Index>(state.range(0));
  Mat x0 = 0.05f * Mat::Random(model.input_dim(), batch);
  Mat dlogits = 0.01f * Mat::Random(model.shape().tasks, batch), dx0;
  Model::Activations acts;
  for (auto _ : state) {
    model.forward(x0, acts);
    model.backward(x0, acts, dlogits, &dx0);
    benchmark::DoNotOptimize(dx0.data());
  }
  double n = static_cast<double>(state.iterations()) * static_cast<double>(batch);
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["FLOP/s"] = benchmark::Counter(n * flops_per_sample(model, true), benchmark::Counter::kIsRate);
}
BENCHMARK(ModelDense)->Arg(256);

void ModelForward(benchmark::State& state) {
  Model model(default_shape(), 1);
  const auto batch = static_cast<Eigen::Index>(state.range(0));
  Mat x0 = 0.05f * Mat::Random(model.input_dim(), batch);
  Model::Activations acts;
  for (auto _ : state) {
    model.forward(x0, acts);
    benchmark::DoNotOptimize(acts.logits.data());
  }
  double n = static_cast<double>(state.iterations()) * static_cast<double>(batch);
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["FLOP/s"] = benchmark::Counter(n * flops_per_sample(model, false), benchmark::Counter::kIsRate);
}
BENCHMARK(ModelForward)->Arg(256);

}  // namespace
}  // namespace streamrec::learner

BENCHMARK_MAIN();
