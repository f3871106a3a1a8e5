// Per-user rankings from the live model (DESIGN.md, "Redis keys": rec).
//
// Candidates: the top `retrieval_candidates` available items by embedding
// retrieval (query · item embedding + the item's click bias, where the query
// is the user's embedding plus the mean embedding of their recent clicks, so
// a click moves the candidates at once), plus the
// `popular_candidates` most popular available items (event-time decayed, as
// sr:pop), plus the `category_candidates` most popular items of the
// categories the user just clicked. They are reranked by the multi-task
// model in one batch:
//   score = (pCTR + value_weight · pCTCVR · price)
//           · (1 + recent_category_boost · share of recent clicks in the item's category)
// and the top `top_k` are the ranking. The boost (a factor, so it keeps its
// meaning whatever the scale of the model's scores) and the category
// candidates make a click count at once, whatever the model has learned. Unavailable items are never
// candidates. A user with no row and no recent clicks gets no ranking: apps
// fall back to sr:pop.
//
// The item index (embeddings of available items, popular list) is rebuilt at
// most every `index_refresh_ms` of wall time, so a ranking costs one small
// matrix-vector product and one scoring batch. Not thread-safe; reads the
// Learner it is given, which must outlive it.
#pragma once

#include <Eigen/Core>

#include <chrono>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "online_learner/byte_io.h"
#include "online_learner/learner.h"

namespace streamrec::learner {

class Ranker {
 public:
  Ranker(const RankingConfig& config, const PopularityConfig& popularity, Learner& learner);

  // Keeps the catalog view: availability and price.
  void update_item(const Item& item);
  // Counts the event towards its item's popularity.
  void add_event(const Event& event);

  // The ranking for `user_id`, best first; empty when the user is unknown.
  std::vector<std::pair<std::string, double>> rank(const std::string& user_id,
                                                   const std::vector<std::string>& recent_clicks,
                                                   const std::vector<ContextFeature>& context, int64_t ts_ms);

  size_t available_items() const { return available_.size(); }

  // The catalog view and popularity, for the pipeline's checkpoint.
  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  void refresh_index();
  bool query_vector(const std::string& user_id, const std::vector<std::string>& recent, Eigen::VectorXf& query) const;

  RankingConfig config_;
  PopularityConfig popularity_;
  Learner& learner_;
  int dim_;

  struct ItemInfo {
    std::string category;
    double price = 0;
    bool available = true;
    double popularity = -std::numeric_limits<double>::infinity();  // log2 of the decayed weight sum, as sr:pop
  };
  std::unordered_map<std::string, ItemInfo> items_;

  // The index, rebuilt by refresh_index().
  std::vector<std::string> available_;  // ids, one per column of item_matrix_
  std::vector<const ItemInfo*> available_info_;  // the same items' info (stable: unordered_map nodes)
  Eigen::MatrixXf item_matrix_;         // dim x available, zero for items without a row
  Eigen::VectorXf item_bias_;           // click bias per available item
  std::vector<size_t> popular_;         // indexes into available_, most popular first
  bool index_dirty_ = true;
  std::chrono::steady_clock::time_point index_built_{};

  std::vector<Sample> candidates_;
  Batch batch_;
};

}  // namespace streamrec::learner
