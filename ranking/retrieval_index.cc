#include "ranking/retrieval_index.h"

// Debian's hnswlib 0.6.2 reads one entry past a link list to prefetch
// (heap-buffer-overflow under AddressSanitizer; upstream removed it later):
// its hand-vectorized paths, prefetches included, are left out.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace streamrec::ranking {

namespace {
// The graph: kLinks links per node (hnswlib's default), kBuildBreadth
// candidates weighed per insertion; a search weighs at least kSearchBreadth.
// Chosen on tests/ranking/retrieval_index_test.cc's catalog (20,000 items,
// the ranker's 200 asked for, the exact top 100 among them): 100 / 400 find
// 94% of it; 200 / 400 97% at twice the build time; 100 / 800 98% at twice
// the search time (learner_bench RankMillionCatalog: 1.5 ms a ranking
// against 0.7 ms). The ranker rescores what is found, so a miss costs one of
// its ~400 candidates, not a wrong score.
constexpr size_t kLinks = 16;
constexpr size_t kBuildBreadth = 100;
constexpr size_t kSearchBreadth = 400;
constexpr size_t kSeed = 100;
}  // namespace

struct RetrievalIndex::Graph {
  std::vector<std::string> item_ids;
  double build_seconds = 0;
  size_t vector_rows = 0;  // embedding + bias
  size_t dim = 0;          // the graph's: + the inner-product coordinate, padded to a multiple of 4 (hnswlib's SIMD)
  float max_norm2 = 0;
  std::unique_ptr<hnswlib::L2Space> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
};

RetrievalIndex::RetrievalIndex() = default;

RetrievalIndex::~RetrievalIndex() {
  if (pending_.valid()) pending_.wait();
}

std::unique_ptr<RetrievalIndex::Graph> RetrievalIndex::build(std::vector<std::string> item_ids, Eigen::MatrixXf vectors) {
  const auto start = std::chrono::steady_clock::now();
  auto g = std::make_unique<Graph>();
  const size_t n = static_cast<size_t>(vectors.cols());
  g->vector_rows = static_cast<size_t>(vectors.rows());
  g->dim = (g->vector_rows + 1 + 3) / 4 * 4;
  for (size_t i = 0; i < n; ++i) g->max_norm2 = std::max(g->max_norm2, vectors.col(static_cast<Eigen::Index>(i)).squaredNorm());
  g->space = std::make_unique<hnswlib::L2Space>(g->dim);
  g->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(g->space.get(), std::max<size_t>(n, 1), kLinks,
                                                              kBuildBreadth, kSeed);
  std::vector<float> point(g->dim, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    const auto column = vectors.col(static_cast<Eigen::Index>(i));
    std::copy(column.data(), column.data() + g->vector_rows, point.begin());
    point[g->vector_rows] = std::sqrt(std::max(0.0f, g->max_norm2 - column.squaredNorm()));
    g->hnsw->addPoint(point.data(), i);
  }
  g->item_ids = std::move(item_ids);
  g->build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return g;
}

bool RetrievalIndex::start_build(std::vector<std::string> item_ids, Eigen::MatrixXf vectors) {
  if (pending_.valid()) return false;
  pending_ = std::async(std::launch::async, &RetrievalIndex::build, std::move(item_ids), std::move(vectors));
  return true;
}

void RetrievalIndex::build_now(std::vector<std::string> item_ids, Eigen::MatrixXf vectors) {
  if (pending_.valid()) pending_.wait();
  pending_ = {};
  graph_ = build(std::move(item_ids), std::move(vectors));
}

bool RetrievalIndex::take_finished() {
  if (!pending_.valid() || pending_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
  graph_ = pending_.get();
  return true;
}

size_t RetrievalIndex::items() const { return graph_ ? graph_->item_ids.size() : 0; }

double RetrievalIndex::build_seconds() const { return graph_ ? graph_->build_seconds : 0; }

void RetrievalIndex::search(const Eigen::VectorXf& query, size_t k,
                            std::vector<std::pair<float, const std::string*>>& out) {
  if (!graph_ || graph_->item_ids.empty() || k == 0) return;
  const Graph& g = *graph_;
  query_.assign(g.dim, 0.0f);
  const size_t embedding = std::min(static_cast<size_t>(query.size()), g.vector_rows - 1);
  std::copy(query.data(), query.data() + embedding, query_.begin());
  query_[g.vector_rows - 1] = 1.0f;  // the bias
  float query_norm2 = 0;
  for (float q : query_) query_norm2 += q * q;
  g.hnsw->setEf(std::max(k, kSearchBreadth));
  auto found = g.hnsw->searchKnn(query_.data(), k);  // farthest on top
  const size_t first = out.size();
  for (; !found.empty(); found.pop()) {
    const auto& [distance, label] = found.top();
    // |q - x'|^2 = |q|^2 + M^2 - 2 q.x
    out.emplace_back((query_norm2 + g.max_norm2 - distance) / 2, &g.item_ids[label]);
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

}  // namespace streamrec::ranking
