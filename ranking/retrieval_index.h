// An approximate index for embedding retrieval on large catalogs: the items
// whose retrieval score (query · item embedding + the item's click bias) is
// highest, without scoring every item. Scoring all of them is one GEMV over
// the catalog per ranking (64 MB read at a million items of dimension 16:
// ~10 ms); a search of an HNSW graph (hnswlib) reads a few thousand.
//
// Guarantees:
//  - search() answers from the last build that finished: item ids and their
//    scores under the vectors of that build (the caller rescores them with
//    today's). Before the first build finishes it answers nothing.
//  - A build copies what it is given and runs on a thread of its own
//    (start_build(); at most one at a time), or on the caller's
//    (build_now(): for replays that must be deterministic). Its result is
//    taken in by the next take_finished(), never in the middle of a search.
//  - Maximum inner product through a nearest-neighbour graph: each item
//    vector x gets one more coordinate, sqrt(M^2 - |x|^2) with M the
//    largest |x| of the build, and the query a 0 there, so that the nearest
//    by L2 distance are exactly those of largest inner product (Bachrach et
//    al., RecSys 2014); the graph's search is approximate (its recall is
//    tested against the exact top).
//
// Threads: every call from one thread (the model's); the build thread only
// touches its own copy. The destructor waits for a build in flight.
// Errors: none (hnswlib's allocation failure aborts, as elsewhere).
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace streamrec::ranking {

class RetrievalIndex {
 public:
  RetrievalIndex();
  ~RetrievalIndex();
  RetrievalIndex(const RetrievalIndex&) = delete;
  RetrievalIndex& operator=(const RetrievalIndex&) = delete;

  // Builds from `vectors` (one column per item: embedding, then the click
  // bias) and `item_ids` (same order) on a thread of its own; false, doing
  // nothing, while a build is still running.
  bool start_build(std::vector<std::string> item_ids, Eigen::MatrixXf vectors);
  // The same on this thread; the result is searched at once.
  void build_now(std::vector<std::string> item_ids, Eigen::MatrixXf vectors);
  // Takes in a build that finished since the last call; true if it did.
  bool take_finished();
  bool building() const { return pending_.valid(); }
  bool ready() const { return graph_ != nullptr; }
  size_t items() const;
  // How long the build searched now took (its own thread's wall time).
  double build_seconds() const;

  // Appends to `out` up to `k` items of highest score for `query` (the
  // embedding part: the bias's coordinate is 1), best first, as (score,
  // item id) under the build's vectors.
  void search(const Eigen::VectorXf& query, size_t k, std::vector<std::pair<float, const std::string*>>& out);

 private:
  struct Graph;
  static std::unique_ptr<Graph> build(std::vector<std::string> item_ids, Eigen::MatrixXf vectors);

  std::unique_ptr<Graph> graph_;
  std::future<std::unique_ptr<Graph>> pending_;
  std::vector<float> query_;  // search()'s scratch, in the graph's coordinates
};

}  // namespace streamrec::ranking
