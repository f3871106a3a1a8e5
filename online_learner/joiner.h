// The joiner turns a stream of events into labelled samples (DESIGN.md,
// "Samples and labels"), in event time.
//
// Rules:
//  - An impression waits for a click from the same user on the same item
//    (and, when the click names a request_id, the same request_id) at most
//    click_window later. Unclicked, it is emitted as a negative when the
//    event-time watermark (the largest ts seen) passes that deadline.
//  - A clicked impression then waits for a purchase until purchase_window
//    after the click, and is emitted at that deadline, purchased or not.
//  - What is emitted when depends on the feedback mode (Feedback, and
//    Sample::learns / finalizes for the copies):
//    windowed: one copy at the final deadline; with early_clicks, a click
//      copy at the click deadline and a purchase copy at the purchase
//      deadline. Every label is released after a fixed delay whatever its
//      value: positives never reach the learner before the negatives shown
//      at the same time (which would bias it towards predicting clicks).
//    fake_negative: the shown copy (labels 0) the moment an impression
//      arrives, a positive copy the moment its click (or purchase) joins,
//      and copies that only finalize labels at the deadlines.
//    defer: as fake_negative, but the deadline copy of a label that stayed
//      negative is learned as well (the duplicated real negative).
//  - counters().samples counts impressions (stages of one count once).
//  - A click matching several impressions joins the latest one shown before
//    it. A click naming a request_id that no pending impression carries is a
//    request mismatch; one whose impression was already emitted is late; one
//    with no impression at all is an orphan. With negatives_per_click > 0 an
//    orphan click becomes a positive sample and that many unclicked samples
//    of random available catalog items (impression-less streams): uniformly
//    drawn, or by popularity with the logQ correction on every such sample
//    (popularity_negatives); with negatives_until_impressions only until the
//    first impression arrives.
//  - Purchases likewise: late, orphan, or without a click; all counted.
//  - An event_id seen among the last dedupe_window ids is a duplicate and is
//    dropped.
//  - At most max_pending impressions wait; beyond, the oldest is emitted with
//    the labels it has so far (counted as flushed). Emitted impressions are
//    remembered (to tell late from orphan) for a click window, and at most
//    max_pending of them.
//  - Each impression keeps the user's recent clicks (newest first) as they
//    were when it was shown, given with it (add's `recent_clicks`; their
//    owner is the caller: online_learner/recent_clicks.h), so features never
//    see the future.
// Output is a deterministic function of the input sequence and the seed.
// Not thread-safe; owns all its state (movable, not copyable: its indexes
// point into it); never fails on bad sequences.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <queue>
#include <string>
#include <unordered_set>
#include <unordered_map>
#include <vector>

#include "core/event.h"
#include "core/flat_map.h"
#include "online_learner/catalog.h"
#include "online_learner/recent_clicks.h"
#include "online_learner/sample.h"
#include "online_learner/task.h"

namespace streamrec::learner {

struct JoinerSettings {
  int64_t click_window_ms = 600'000;
  int64_t purchase_window_ms = 3'600'000;
  int64_t max_pending = 1'000'000;
  int64_t dedupe_window = 1'000'000;
  int64_t negatives_per_click = 0;
  // Sample negatives only while no impression has arrived (the "auto" of
  // learner.negatives_per_click): a stream with impressions has real ones.
  bool negatives_until_impressions = false;
  // Draw negatives by popularity^0.75 and set Sample::log_correction
  // (Catalog::sample_popular); off: uniformly, with no correction.
  bool popularity_negatives = false;
  // Windowed: emit a clicked impression's click copy at the click deadline,
  // and its purchase copy later; off = one complete copy after the purchase
  // window.
  bool early_clicks = true;
  Feedback feedback = Feedback::kWindowed;
  uint64_t seed = 1;
};

struct JoinerCounters {
  uint64_t events = 0;
  uint64_t impressions = 0;
  uint64_t clicks = 0;
  uint64_t purchases = 0;
  uint64_t duplicates = 0;
  uint64_t joined_clicks = 0;
  uint64_t joined_purchases = 0;
  uint64_t late_clicks = 0;
  uint64_t late_purchases = 0;
  uint64_t orphan_clicks = 0;
  uint64_t orphan_purchases = 0;
  uint64_t purchases_without_click = 0;
  uint64_t request_mismatches = 0;
  uint64_t flushed_pending = 0;  // emitted early because max_pending was reached
  uint64_t sampled_negatives = 0;
  uint64_t samples = 0;
};

class Joiner {
 public:
  Joiner(const JoinerSettings& settings, const Catalog* catalog);
  Joiner(const Joiner&) = delete;
  Joiner& operator=(const Joiner&) = delete;
  Joiner(Joiner&&) = default;
  Joiner& operator=(Joiner&&) = default;

  // Processes one event; appends every sample it completes to `out`.
  // `recent_clicks`: the user's recent clicks just before the event, kept by
  // an impression (and by the samples a click with sampled negatives stands
  // for); other events ignore it.
  void add(const Event& event, RecentClicks recent_clicks, std::vector<Sample>& out);
  // End of stream: emits every pending impression with its labels so far
  // (immediate feedback: as copies that finalize them, learning nothing new).
  void flush(std::vector<Sample>& out);

  // The sample of the impression the last add() accepted, still pending;
  // nullptr when the last event was not a fresh impression. Valid until the
  // next add() or flush().
  const Sample* last_impression() const;

  // Drops the users' pending impressions without emitting them (no sample
  // is learned from them) and appends their event ids to `dropped`; returns
  // how many. For forgetting users (privacy, or a rebalance).
  size_t drop_pending_of(const std::unordered_set<std::string>& user_ids, std::vector<std::string>& dropped);

  const JoinerCounters& counters() const { return counters_; }
  const JoinerSettings& settings() const { return settings_; }
  size_t pending() const { return pending_.size(); }

  void save(ByteWriter& out) const;
  bool load(ByteReader& in);

 private:
  struct Pending {
    Sample sample;
    int64_t click_ts = -1;  // -1 until clicked
    int64_t deadline = 0;
    bool purchase_phase = false;  // past the click deadline, waiting for a purchase
    // The next older and newer pending impressions with the same pair_key
    // (pending_'s nodes never move).
    Pending* older = nullptr;
    Pending* newer = nullptr;
  };
  // Emitted impressions, remembered for a while to tell late from orphan.
  struct Emitted {
    int64_t ts;
    int64_t click_ts;
    int64_t forget_at;
  };

  // The key of a (user, item) pair in by_key_ and emitted_.
  static uint64_t pair_key(const std::string& user, const std::string& item);

  void advance(int64_t ts, std::vector<Sample>& out);
  bool immediate() const { return settings_.feedback != Feedback::kWindowed; }
  void emit(uint64_t seq, std::vector<Sample>& out);
  // Emits a pending impression before its deadline (end of stream, or
  // max_pending reached).
  void emit_early(uint64_t seq, std::vector<Sample>& out);
  static void copy_out(const Sample& s, uint8_t learns, uint8_t finalizes, std::vector<Sample>& out);
  void on_deadline(uint64_t seq, std::vector<Sample>& out);
  void add_impression(const Event& e, RecentClicks recent_clicks, std::vector<Sample>& out);
  void add_click(const Event& e, RecentClicks recent_clicks, std::vector<Sample>& out);
  void add_purchase(const Event& e, std::vector<Sample>& out);
  int64_t negatives_per_click() const;
  void push_pending(Sample s, int64_t click_ts, std::vector<Sample>& out);
  void link(Pending& p);
  void unlink(Pending& p);
  bool is_duplicate(const std::string& event_id);
  void rebuild_indexes();

  JoinerSettings settings_;
  const Catalog* catalog_;
  SplitMix rng_;
  JoinerCounters counters_;
  int64_t watermark_ = INT64_MIN;

  uint64_t next_seq_ = 0;
  bool last_was_impression_ = false;
  std::map<uint64_t, Pending> pending_;  // by seq (arrival order)
  // pair_key -> the newest pending impression of that pair; older ones follow
  // Pending::older. Several pairs may share a key: readers compare the ids.
  FlatMap64<Pending*> by_key_;
  // (deadline, seq); stale entries (deadline changed or emitted) are skipped.
  std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>, std::greater<>>
      deadlines_;

  FlatMap64<Emitted> emitted_;  // by pair_key
  std::deque<std::pair<int64_t, uint64_t>> emitted_fifo_;  // (forget-after ts, key)

  FlatSet64 seen_ids_;
  std::deque<uint64_t> seen_fifo_;
};

}  // namespace streamrec::learner
