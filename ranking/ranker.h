// Per-user rankings from the live model (DESIGN.md, "Redis keys": rec).
//
// Contract: rank() returns a user's top `top_k` available items with their
// scores, best first, or nothing for a user with no row and no recent clicks
// (apps fall back to sr:pop). It only reads the Learner (a const reference;
// it must outlive the Ranker). Not thread-safe: the caller holds whatever
// keeps the Learner from changing (pipeline: ModelThread's lock). save() and
// load() carry its popularity state in the pipeline checkpoint; load()
// returns false on a damaged checkpoint (the reader names the error).
//
// Candidate sources, in this order (an item proposed by several counts for
// the first):
//  - recent: the user's own last `recent_candidates` distinct viewed items
//    (re-consumption; UserHistory, kept from add_event());
//  - covisit: the `covisit_candidates` items most co-visited
//    (ranking/covisitation.h, kept from add_event()) with the user's last
//    `covisit_sources` viewed items, by the sum of their co-visits, those
//    with the p-th newest weighed 1/(1 + p), plus a
//    second step of the walk: the `covisit_second_step` items most
//    co-visited with them pass half their weight on to their own
//    neighbours, in proportion to each one's share of their co-visits;
//  - category: the `category_candidates` most popular items of the
//    categories the user just clicked (read from each category's leaders,
//    ranking/popular_by_group.h, not from all of its items);
//  - brand: the `brand_candidates` most popular items of the brands the
//    user just clicked (items without a brand have none);
//  - retrieval: the top `retrieval_candidates` available items by embedding
//    retrieval (query · item embedding + the item's click bias, where the
//    query is the user's embedding plus the mean embedding of their recent
//    clicks, so a click moves the candidates at once); on catalogs of at
//    least `approximate_retrieval_items`, the best of twice as many found in
//    a RetrievalIndex built from the embeddings of up to
//    `approximate_retrieval_rebuild_s` refreshes ago, rescored with today's;
//  - popular: the `popular_candidates` most popular available items
//    (event-time decayed, as sr:pop).
// The re-consumption policy removes from every source what the user viewed
// (unless reshow_viewed) or bought (unless reshow_bought), as far as their
// history remembers. The candidates are reranked by the multi-task model in
// one batch:
//   score = (pCTR + value_weight · pCTCVR · price)
//           · (1 + recent_category_boost · share of recent clicks in the item's category)
//           · (1 + recent_boost / (1 + position in the user's viewed list)
//                + covisit_boost · co-visits / the most co-visits of a candidate)
// with `rankings.blend: fixed`; with `learned` (the default) the same signals
// and a few more are weighed by the LearnedBlend (ranking/learned_blend.h):
//   score = exp(w · features), w learned online from the clicks: rank()
//   keeps the best candidates it served each of the last
//   `blend_served_users` users (their features), and the user's next click
//   (add_event()) on one of them is a softmax example against the others
//   (only rankings made from the clicks add_event() has taken in are kept:
//   one that already knew the next click would teach the blend its own
//   echo);
// and the top `top_k` are the ranking. The boosts (factors, so they keep
// their meaning whatever the scale of the model's scores) and the sources
// that read the user's history make a view count at once, whatever the
// model has learned. Unavailable items are never candidates. A user with no
// row, no recent clicks with rows and no history gets no ranking: apps fall
// back to sr:pop. top_k_sources() counts, over every ranking so far, the
// items of the rankings by the source that proposed them.
//
// Item attributes and availability come from the learner's catalog (one
// copy of the catalog in the process). The item index has two parts: the
// catalog's (the available items, each item's feature keys, category and
// brand, the lookups by id), rebuilt after every catalog change; and the
// model's (embeddings of available items, popular list, and an ItemSnapshot
// (item_snapshot.h): the dense model and the items' inputs, whose part of
// the first layer is computed for an item the first time it is scored),
// refreshed with it and once it is a second old. So a
// ranking scores with the model and item embeddings of at most a second
// ago, while the user's side (embedding rows, context, recent clicks) is
// always live; and it costs one small matrix-vector product and one scoring
// batch that multiplies per candidate only what depends on both the user
// and the item (UserScorer, ranking/item_snapshot.h): 15 of the first layer's 156 input
// rows with the default features.
// A call builds no samples and copies no strings but those of the ranking
// it returns.
#pragma once

#include <Eigen/Core>

#include <array>
#include <chrono>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "online_learner/byte_io.h"
#include "online_learner/learner.h"
#include "ranking/covisitation.h"
#include "ranking/explanation.h"
#include "ranking/item_snapshot.h"
#include "ranking/learned_blend.h"
#include "ranking/popular_by_group.h"
#include "ranking/retrieval_index.h"
#include "ranking/user_history.h"

namespace streamrec::ranking {

// The candidate sources, in the order they propose (see above).
enum class CandidateSource : uint8_t { kRecent, kCovisit, kCategory, kBrand, kRetrieval, kPopular };
inline constexpr size_t kCandidateSources = 6;
const char* source_name(CandidateSource source);

class Ranker {
 public:
  Ranker(const RankingConfig& config, const PopularityConfig& popularity, const learner::Learner& learner);

  // The learner's catalog changed (an item message): rebuild the index
  // before the next ranking.
  void catalog_changed() { index_dirty_ = true; }
  // Counts the event towards its item's popularity, its user's history and
  // the co-visitation counts; a click on an item of the user's last served
  // ranking teaches the learned blend first.
  void add_event(const Event& event);
  // Rebuild the index after every `events` events given to add_event()
  // instead of once it is a second old (0, the default): replays
  // (`streamrec evaluate`) then rank the same whatever the machine's speed.
  void rebuild_index_every(uint64_t events) { rebuild_every_events_ = events; }

  // The ranking for `user_id`, best first; empty when the user is unknown.
  // The scores are those the model gives the candidates as impressions shown
  // at `ts_ms`, which they do not depend on today. With `why`, it also
  // says why each ranked item is there (one Explanation per item, in the
  // ranking's order; ranking/explanation.h); its `because` lists the item
  // itself when the user viewed it (recent), the user's last viewed items
  // co-visited with it (covisit), and their recent clicks of its category.
  std::vector<std::pair<std::string, double>> rank(const std::string& user_id,
                                                   const std::vector<std::string>& recent_clicks,
                                                   const std::vector<ContextFeature>& context, int64_t ts_ms,
                                                   std::vector<Explanation>* why = nullptr);

  // Forgets `user_id`'s history (viewed and bought items) and what was last
  // served to them for the blend to learn from; false when no history was
  // kept. The co-visits it added stay (they are the items').
  bool erase_user(const std::string& user_id) {
    served_.erase(user_id);
    return history_.erase(user_id);
  }

  // The source that proposed `item_id` as a candidate in the last rank()
  // call (whether or not it made the top K); nothing when it was not a
  // candidate (or rank() returned early). For measuring what the candidate
  // sources find (`streamrec evaluate`'s candidate recall); valid until the
  // next rank().
  std::optional<CandidateSource> candidate_source(const std::string& item_id) const;

  size_t available_items() const { return available_.size(); }
  size_t popularity_items() const { return popularity_.size(); }
  const CoVisitation& covisitation() const { return covisits_; }
  const UserHistories& histories() const { return history_; }
  const LearnedBlend& blend() const { return blend_; }
  bool learns_blend() const { return learned_blend_; }
  // Rankings kept for the blend to learn from, and those not kept because
  // they were made from clicks add_event() had not taken in (or no longer
  // held): with the learned blend, since construction.
  uint64_t blend_rankings_kept() const { return blend_rankings_kept_; }
  uint64_t blend_rankings_out_of_step() const { return blend_rankings_out_of_step_; }
  // Items ranked so far (the whole top_k of every ranking), by source.
  const std::array<uint64_t, kCandidateSources>& top_k_sources() const { return top_k_sources_; }

  // Item popularity, the users' histories, the co-visitation counts and the
  // learned blend's weights (not the served lists it waits on), for
  // the pipeline's checkpoint (the catalog is the learner's, in its own
  // checkpoint).
  // Items in the approximate retrieval index searched now (0: none; every
  // item is scored).
  size_t retrieval_index_items() const { return uses_retrieval_index() ? retrieval_index_.items() : 0; }

  void save(learner::ByteWriter& out) const;
  // `blend_examples`: false for bytes saved before the learned blend kept
  // its examples (LearnedBlend::load).
  bool load(learner::ByteReader& in, bool blend_examples = true);

 private:
  void refresh_index();
  // The catalog's part of the index (refresh_index()).
  void rebuild_catalog_index();
  // Fills by_affinity_ with the n items of highest affinity_, best first.
  void select_best(size_t n);
  // Keeps the approximate index built (approximate_retrieval_items): takes
  // in a finished build, starts the next when due (refresh_index()).
  void maintain_retrieval_index();
  // Fills by_affinity_ with up to n items of highest affinity found in the
  // approximate index, scored with today's item_matrix_, best first.
  void search_retrieval_index(size_t n);
  bool uses_retrieval_index() const;
  // Puts the n most popular of `items` (available item numbers) first, most
  // popular first (ties: the lower number); returns how many that is.
  size_t most_popular_first(std::vector<size_t>& items, size_t n);
  // Fills query_; false when the user has neither a row nor recent clicks with rows.
  bool query_vector(const std::string& user_id, const std::vector<std::string>& recent);
  // The sources that read the user's history: marks what the policy
  // excludes, proposes the recent and co-visited items, and fills recency_
  // and covisits_of_ for them.
  void history_candidates(const UserHistory& history);
  // The available item's index (in available_), if it is one.
  std::optional<size_t> number(const std::string& item) const;
  std::optional<size_t> number(CoVisitation::Key key);
  // Replaces `out` with (co-visits, item) of each item with co-visits, once,
  // in no particular order; only those not chosen yet unless `chosen_too`.
  void covisited_items(bool chosen_too, std::vector<std::pair<double, size_t>>& out) const;
  // Adds the second step of the co-visit walk from the user's first
  // `sources` viewed items to covisits_of_.
  void covisit_second_step(const UserHistory& history, size_t sources);
  void choose(size_t item, CandidateSource source);
  // Fills features_ for candidates_ (rank()'s scratch set).
  void candidate_features(double most_covisits, int click, int ctcvr, int64_t ts_ms);
  // Whether a ranking from `recent_clicks` may teach the blend: they end
  // with the click the user's history (add_event()) ends with.
  bool knows_the_same_clicks(const UserHistory* history, const std::vector<std::string>& recent_clicks) const;
  // Keeps the best served candidates' features for the user's next click.
  void remember_served(const std::string& user_id, size_t best);
  void learn_click(const Event& click);
  // Fills `why` for the first `k` of scored_ (rank()'s scratch still set).
  void explain(size_t k, const std::vector<std::string>& recent_clicks, const UserHistory* history, int click,
               int ctcvr, double most_covisits, std::vector<Explanation>& why) const;

  RankingConfig config_;
  PopularityConfig popularity_config_;
  const learner::Learner& learner_;
  UserScorer scorer_;
  int dim_;

  // Per catalog item: popularity, log2 of its decayed weight sum, as sr:pop;
  // exposure, log2 of its decayed impressions (same half-life; the learned
  // blend's P(shown)). Entries are erased only by refresh_index() (an item
  // the catalog evicted), which also rebuilds the pointers to them.
  static constexpr size_t kNotAvailable = SIZE_MAX;
  struct ItemCounts {
    double popularity = -std::numeric_limits<double>::infinity();
    double exposure = -std::numeric_limits<double>::infinity();
    size_t number = kNotAvailable;  // its index in available_ as of the last catalog rebuild
  };
  std::unordered_map<std::string, ItemCounts> popularity_;
  UserHistories history_;
  CoVisitation covisits_;
  std::array<uint64_t, kCandidateSources> top_k_sources_{};
  bool learned_blend_;
  LearnedBlend blend_;
  // What was served to the last users ranked, for the blend to learn from.
  struct Served {
    uint64_t seq = 0;
    std::vector<const Item*> items;
    std::vector<BlendFeatures> features;
  };
  std::unordered_map<std::string, Served> served_;
  std::deque<std::pair<std::string, uint64_t>> served_order_;  // user, seq: oldest first (may hold stale entries)
  uint64_t served_seq_ = 0;
  uint64_t blend_rankings_kept_ = 0, blend_rankings_out_of_step_ = 0;

  // The index over the learner's available items, rebuilt by refresh_index();
  // items are numbered by their column of item_matrix_.
  std::vector<const Item*> available_;
  std::vector<const double*> available_popularity_;  // live popularity of the same items
  std::vector<const double*> available_exposure_;    // and their live exposure
  std::vector<double> price_;             // their prices (read per candidate: no pointer chase)
  std::vector<learner::ItemKeys> item_keys_;       // their feature keys
  ItemSnapshot snapshot_;                 // their side of the model, and the dense model, as of the rebuild
  std::vector<size_t> category_of_;       // their category's number
  std::vector<size_t> brand_of_;          // their brand's number, kNoBrand without
  std::unordered_map<std::string_view, size_t> category_number_;  // views into the catalog's items
  std::unordered_map<std::string_view, size_t> item_number_;      // the same, per item id
  PopularByGroup categories_;             // the items of each category number, their most popular first
  std::unordered_map<std::string_view, size_t> brand_number_;  // views into the catalog's items
  PopularByGroup brands_;                 // the same per brand number
  Eigen::MatrixXf item_matrix_;           // dim x available, zero for items without a row
  Eigen::VectorXf item_bias_;             // click bias per available item
  std::vector<size_t> popular_;           // the most popular items, most popular first
  // Per CoVisitation number: the index of the item it named (stamp) as of
  // index build `build`; kNotAvailable when not an available item.
  struct KeyNumber {
    uint64_t stamp = 0, build = 0;
    size_t number = kNotAvailable;
  };
  std::vector<KeyNumber> key_numbers_;
  uint64_t index_builds_ = 0;  // catalog index builds so far (the first is 1)
  bool index_dirty_ = true;
  uint64_t catalog_changes_ = UINT64_MAX;  // Catalog::changes() the catalog's part was built at
  std::chrono::steady_clock::time_point index_built_{};
  uint64_t rebuild_every_events_ = 0;  // 0: by the clock
  uint64_t events_since_build_ = 0;
  RetrievalIndex retrieval_index_;
  int64_t refreshes_since_retrieval_build_ = 0;
  size_t items_with_rows_ = 0;  // available items with an embedding row, as of the last refresh
  std::vector<std::pair<float, const std::string*>> found_;  // search_retrieval_index()'s scratch

  // Scratch of rank(), kept between calls.
  Eigen::VectorXf query_, clicked_, affinity_;
  std::vector<uint32_t> affinity_keys_;  // affinity_ as order-preserving integers
  std::vector<std::pair<uint32_t, uint32_t>> best_keys_;  // select_best()'s: order key, item
  std::vector<std::pair<float, size_t>> by_affinity_;  // the best by affinity, best first
  std::vector<size_t> candidates_;        // items, in scoring order
  std::vector<CandidateSource> candidate_sources_;  // the source of each
  std::vector<uint8_t> chosen_;           // per item: in candidates_ or excluded; all 0 between calls
  std::vector<size_t> excluded_;          // items the policy excludes from this ranking
  std::vector<double> recency_, covisits_of_;  // per item: its boost inputs; all 0 between calls
  std::vector<const ViewedItem*> viewed_;  // per item: the user's view of it (recent ones); null between calls
  std::vector<BlendFeatures> features_;   // per candidate (as candidates_)
  std::vector<size_t> boosted_;           // items with recency_ or covisits_of_ set, each once
  std::vector<std::pair<double, size_t>> covisited_;  // co-visits, item
  std::vector<std::pair<double, size_t>> first_step_;  // covisit_second_step()'s: co-visits, item
  std::vector<size_t> walk_sources_;      // covisit_second_step()'s: the user's items it starts from
  std::vector<double> share_;             // per category: share of the recent clicks; all 0 between calls
  std::vector<size_t> recent_categories_; // those with a share
  std::vector<size_t> group_top_;         // the category and brand sources' candidates
  std::vector<std::pair<double, size_t>> by_popularity_;  // most_popular_first()'s scratch
  std::vector<uint8_t> brand_taken_;      // per brand: among recent_brands_; all 0 between calls
  std::vector<size_t> recent_brands_;     // the brands of the recent clicks
  std::vector<std::pair<double, size_t>> scored_;  // score, item
  learner::Batch batch_;
};

}  // namespace streamrec::ranking
