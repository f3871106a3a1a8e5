// A synthetic event stream whose click and purchase probabilities are known.
//
// SyntheticStream draws a world from a seed -- categories with latent centres,
// items (category, latent vector, price, popularity, click bias), users
// (latent taste concentrated on 1-3 favourite categories, activity level) --
// then streams requests: a user, a context and a slate of items, one
// impression per item, each clicked with probability
//   p_click = sigmoid(a + item_bias + s * <user, item> + context effect)
// and, if clicked, purchased with probability
//   p_cvr = sigmoid(b + s_p * <user, item_purchase> - price effect),
// with a and b calibrated so that the mean p_click over impressions is
// base_ctr and the mean p_cvr over clicks is base_cvr. Optionally (settings
// delays, drift_share, churn_share) labels arrive after realistic,
// heavy-tailed delays, a share of the users changes taste once, and items are
// launched and retired during the stream. docs/producers.md has the full
// model.
//
// Guarantees:
//  * Determinism: the same SyntheticConfig gives the same catalog and the
//    same events, byte for byte, on every platform (only std::mt19937_64's raw
//    output is used; see producers/random.h).
//  * Events come out in event-time order (ts never decreases). With delays
//    "short" a click comes 1 s to 10 min after its impression, a purchase
//    5 s to 1 h after its click; with "realistic", 1 s to click_delay_max_s
//    and 1 s to purchase_delay_max_s. Both carry the impression's request_id.
//  * The settings delays=short, drift_share=0, churn_share=0 give exactly
//    the stream of the generator before those settings existed (the new
//    draws come from generators of their own).
//  * With churn_share > 0, next() also yields items messages (launches and
//    retirements, GeneratedEvent::item set), in event-time order with the
//    events; an item is shown only between its launch and its retirement.
//    With churn_share = 0 it yields events only.
//  * event_ids are "e<n>", n counting from 0 in emission order; users are
//    "u<n>", items "i<n>", categories "c<n>", requests "r<n>".
//  * Memory is bounded by the world (users, items) plus the clicks and
//    purchases still pending, never by the stream's length.
//
// Not thread-safe; movable, not copyable.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "core/status.h"
#include "producers/random.h"

namespace streamrec {

// The truth behind one impression.
struct ImpressionTruth {
  double p_click = 0;   // P(click | impression)
  double p_cvr = 0;     // P(purchase | click)
  double p_ctcvr = 0;   // p_click * p_cvr
  bool clicked = false;
  bool purchased = false;
};

// One message of the stream: an event, or (item set, event empty) an items
// message launching or retiring an item.
struct GeneratedEvent {
  Event event;
  std::optional<ImpressionTruth> truth;  // set for impressions only
  std::optional<Item> item;              // set for items messages only
};

class SyntheticStream {
 public:
  // Draws the world described by `config`. An Error names the setting that
  // makes no sense (e.g. a slate larger than the catalog).
  static Result<SyntheticStream> create(const SyntheticConfig& config);

  SyntheticStream(SyntheticStream&&) = default;
  SyntheticStream& operator=(SyntheticStream&&) = default;

  // One Item per item, ordered by id, all with ts = start_ts_ms and
  // available: the world, including items launched later (churn_share > 0).
  const std::vector<Item>& catalog() const { return catalog_; }

  // The items on sale when the stream starts, ordered by id: the items
  // messages to send before the first event. The whole catalog() unless
  // churn_share > 0.
  std::vector<Item> opening_catalog() const;

  // Writes the next message to `out` and returns true, or returns false at
  // the end of the stream (after `impressions` impressions and every click
  // and purchase they caused).
  bool next(GeneratedEvent& out);

  int64_t events_emitted() const { return next_event_id_; }

  // The calibrated intercepts a and b (for docs and tests).
  double click_intercept() const { return click_intercept_; }
  double purchase_intercept() const { return purchase_intercept_; }

  // The oracle, for judging rankings against the truth. Users are numbered
  // 0 .. users() - 1 (user n is "u<n>"), items 0 .. items() - 1 (item n is
  // "i<n>", catalog()[n]).
  int64_t users() const { return config_.users; }
  int64_t items() const { return config_.items; }
  // The device most of `user`'s requests come from: "ios", "android" or "web".
  const char* usual_device(int64_t user) const;
  // The truth of showing `item` to `user` at `ts_ms` from the user's usual
  // device on the "home" page (the most common): exactly the p_click, p_cvr
  // and p_ctcvr that an impression of the stream in that context, in the
  // same hour of day, carries now (after a taste drift, the new taste);
  // clicked and purchased are false. Draws nothing: the stream is the same
  // whether or not it is called.
  // REQUIRES: 0 <= user < users(), 0 <= item < items().
  ImpressionTruth truth_of(int64_t user, int64_t item, int64_t ts_ms) const;

 private:
  struct Request;  // a user, a context and a slate, before any outcome
  struct Pending {  // a click or purchase waiting for its event time
    int64_t ts_ms;
    uint64_t seq;  // ties break by scheduling order
    Event event;
  };
  struct Change {  // a launch or retirement, at an impression count
    int64_t at_impression;
    int64_t item;
    bool launch;
  };

  explicit SyntheticStream(const SyntheticConfig& config);
  void build_world();
  void draw_taste(const std::vector<double>& centres, double* taste, Random& rng) const;
  void plan_drift_and_churn(const std::vector<double>& centres);
  void calibrate();
  int64_t click_delay_ms(double exponential_draw);
  int64_t purchase_delay_ms(double exponential_draw);
  void apply_due_changes(int64_t ts_ms);
  Request draw_request(Random& rng, int64_t ts_ms, bool all_items = false) const;
  double click_logit(const Request& request, int64_t item) const;  // without the intercept
  double purchase_logit(int64_t user, int64_t item) const;         // without the intercept
  ImpressionTruth probabilities(const Request& request, int64_t item) const;  // clicked, purchased false
  void start_request();
  void schedule(Event event);
  void emit(Event event, std::optional<ImpressionTruth> truth, GeneratedEvent& out);

  SyntheticConfig config_;
  Random rng_;
  int dim_;

  // The world.
  std::vector<Item> catalog_;
  std::vector<int64_t> item_category_;
  std::vector<double> item_latent_;    // items x dim
  std::vector<double> item_purchase_;  // items x dim
  std::vector<double> item_bias_;
  std::vector<double> item_log_price_;
  std::vector<double> item_popularity_cdf_;
  double mean_log_price_ = 0;
  std::vector<double> user_taste_;  // users x dim
  std::vector<int> user_device_;
  std::vector<double> user_activity_cdf_;
  std::vector<double> drifted_taste_;  // users x dim: the taste after the drift
  std::vector<int64_t> drifting_users_;
  int64_t drift_impression_ = -1;      // -1: no drift (or done)
  std::vector<Change> changes_;        // by at_impression
  size_t next_change_ = 0;
  std::vector<char> on_sale_;          // per item
  Random delay_rng_;                   // realistic delays only
  double click_intercept_ = 0;
  double purchase_intercept_ = 0;

  // The stream.
  int64_t impressions_started_ = 0;
  int64_t requests_started_ = 0;
  int64_t next_request_ts_ms_ = 0;
  int64_t next_event_id_ = 0;
  uint64_t next_pending_seq_ = 0;
  std::vector<Pending> pending_;  // min-heap on (ts_ms, seq)
  std::vector<GeneratedEvent> ready_;  // the current request's impressions, in order
  size_t ready_pos_ = 0;
};

}  // namespace streamrec
