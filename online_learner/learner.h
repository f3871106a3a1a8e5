// The online learner: joiner -> features -> embeddings -> model, trained in
// mini-batches with progressive validation. It learns and validates; it does
// not score for serving: the ranker's scorer (ranking/item_snapshot.h,
// UserScorer) reads the model through the const views below, under the
// caller's lock, and nothing handed out can change the learner.
//
// Progressive validation scores every impression when it is shown, with the
// model of that moment (as serving would), in mini-batches, before any copy
// of it is learned; its metrics are recorded when its labels are final,
// against those scores. With windowed feedback (learner.feedback) it is
// learned then too; with immediate feedback it is learned at once as a fake
// negative and again when its click or purchase joins (Feedback). Scoring at
// impression time matters: scores taken when a sample is learned would give
// positives (which wait longer) a later model than negatives and inflate
// AUC. Samples that never were impressions (sampled negatives) are scored
// when they enter the joiner (immediate) or just before they are learned
// (windowed).
//
// Guarantees:
//  - Deterministic: the same items, events (in the same order), config and
//    seed give bit-identical scores, metrics and checkpoints.
//  - save()/load() capture the whole state (model, optimizer state,
//    embedding table, joiner, metrics, the partial mini-batch, the caller's
//    stream position): a restored learner continues bit-identically.
//  - Bad configuration is an Error from create(); events never fail.
// Not thread-safe: one learner per thread. Owns everything it uses; the sink
// is called synchronously, once per learned sample, in the order learned.
//
// Progressive validation scores every impression when it is shown, with the
// model of that moment (as serving would), in mini-batches; it is learned
// later, when the joiner has its labels. Scoring at impression time matters:
// clicked impressions wait up to the purchase window for their labels, so
// scores taken when a sample is learned would give positives a later model
// than negatives and inflate AUC. Samples that never were impressions
// (sampled negatives) are scored just before they are learned.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "online_learner/baseline.h"
#include "online_learner/catalog.h"
#include "online_learner/embedding_table.h"
#include "online_learner/features.h"
#include "online_learner/joiner.h"
#include "online_learner/loss.h"
#include "online_learner/metrics.h"
#include "online_learner/model.h"
#include "online_learner/optimizer.h"
#include "online_learner/score_table.h"

namespace streamrec::learner {

// What --freeze keeps fixed when starting from another model.
enum class Freeze : uint8_t { kNone, kEmbeddings, kShared };

// Scores of one sample, taken before it was learned. NaN for a task the
// configuration lacks.
struct Scores {
  float p_click;
  float p_cvr;
  float p_ctcvr;
};

// One mini-batch between prepare() and step(): resolved rows, activations,
// and the gradients of the embedding rows it touched.
struct Batch {
  size_t size = 0;
  std::vector<uint32_t> rows;         // size x single_fields, kNoRow = no row
  std::vector<uint32_t> bag_rows;     // the bag's rows, flattened
  std::vector<uint32_t> bag_offsets;  // size + 1 offsets into bag_rows
  Mat x0, wide, labels, mask, predictions, dlogits, dx0;  // wide: the rows' logit biases, tasks x size
  Mat weights;  // mask times the delayed-feedback correction (MultiTaskLoss::importance_weights)
  Mat logit_offsets;         // tasks x size: the samples' logQ corrections on the click task's row
  bool has_offsets = false;  // any of them non-zero
  Model::Activations acts;
  std::vector<uint32_t> touched;      // distinct rows, first-touch order
  std::vector<float> touched_grad;    // touched.size() x dim
  double loss = 0;
};

class Learner {
 public:
  using Sink = std::function<void(const Sample&, const Scores&)>;
  // The true probabilities of a sample, when known (synthetic streams):
  // fills `truth` and returns true. Recorded as the oracle series.
  using Reference = std::function<bool(const Sample&, Scores& truth)>;

  static Result<std::unique_ptr<Learner>> create(const LearnerConfig& config);

  // Adds or updates the item in the catalog. Past learner.max_items the
  // catalog evicts its least recently updated item: never silently, a
  // warning names the bound the first time and again each time the
  // evictions double.
  void add_item(const Item& item);
  const Catalog& catalog() const { return catalog_; }
  // Joins the event; trains every mini-batch that fills up. Its user's
  // recent clicks (online_learner/recent_clicks.h) come from the learner's
  // own book: for callers that only learn (`train`).
  void add_event(const Event& event);
  // The same with the user's recent clicks just before the event, from a
  // caller that keeps them for ranking too (the pipeline, `evaluate`): the
  // learner's book then stays empty. One caller uses one of the two.
  void add_event(const Event& event, RecentClicks recent_clicks);
  // Forgets `user_id` (a privacy erase, EventType::kForget): its recent-click
  // bag if the learner keeps it, its pending impressions and samples not
  // learned yet (never learned now), their scores, and its user_id embedding
  // row. What the model learned from the user before stays in the shared
  // weights and item rows, as in any model trained on many users.
  // add_event() of a kForget calls this.
  void forget_user(const std::string& user_id) { forget_users({user_id}); }
  // The same for many users at once, in one pass over what is pending (a
  // rebalance hands a partition's users to another learner).
  void forget_users(const std::unordered_set<std::string>& user_ids);
  // End of stream: emits every pending impression and trains what is left.
  void finish();
  void set_sink(Sink sink) { sink_ = std::move(sink); }
  void set_reference(Reference reference) { reference_ = std::move(reference); }

  // Warm start: copies the embedding table and every dense parameter whose
  // name and shape match from a checkpoint; then freezes per `freeze`.
  Status init_from(const std::string& checkpoint_path, Freeze freeze);
  // The whole state, with the caller's stream position (e.g. lines read).
  Status save_checkpoint(const std::string& path, uint64_t position) const;
  // Replaces the state; returns the saved position.
  Result<uint64_t> restore_checkpoint(const std::string& path);
  // The same from checkpoint_bytes() kept elsewhere (e.g. inside another
  // file); `name` is used in error messages.
  Result<uint64_t> restore_checkpoint_bytes(std::string_view bytes, const std::string& name);
  std::string checkpoint_bytes(uint64_t position) const;
  // Appends checkpoint_bytes() to `out` as ByteWriter::str() would (its
  // length, then the bytes; ByteReader::str() reads them back), without
  // building them apart and copying them in.
  void append_checkpoint(ByteWriter& out, uint64_t position) const;

  // Progressive-validation series, by name: one per task (click, ctcvr,
  // purchase, value), cvr (clicked samples only, when ESMM is on), and the
  // per-item baseline (baseline_click, baseline_ctcvr), and the oracle
  // (oracle_click, oracle_ctcvr, oracle_cvr; empty without a Reference).
  const std::vector<std::pair<std::string, MetricSeries>>& series() const { return series_; }
  // The same series restricted to impressions shown at or after
  // `ts_ms` (e.g. the last 20% of a file's impressions). The series above
  // are in the order labels become final, and a purchase label is final up
  // to the purchase window later than a click label: their last 20% holds
  // too many clicked impressions. Set before the first event; checkpointed.
  void set_tail_start(int64_t ts_ms) { tail_start_ms_ = ts_ms; }
  const std::vector<std::pair<std::string, MetricSeries>>& tail_series() const { return tail_series_; }
  const JoinerCounters& joiner_counters() const { return joiner_.counters(); }
  // The bounded per-user and per-item structures, for the stats (sizes and
  // evictions; the catalog is catalog()).
  const Joiner& joiner() const { return joiner_; }
  const RecentClicksBook& recent_clicks() const { return recent_clicks_; }
  const ItemRateBaseline& baseline() const { return baseline_; }
  uint64_t samples_learned() const { return samples_learned_; }
  // Wall time spent in training steps (features, forward, backward, update)
  // since this object was created; not part of the checkpointed state.
  double learn_seconds() const { return learn_seconds_; }
  // The same in this thread's CPU time (what a shared machine does not
  // inflate by waiting for a CPU).
  double learn_cpu_seconds() const { return learn_cpu_seconds_; }
  size_t parameter_count() const { return model_.parameter_count(); }
  const LearnerConfig& config() const { return config_; }

  // A read-only view of the model, for the serving scorer
  // (ranking/item_snapshot.h), tests and benchmarks. Valid until the next
  // call that learns or restores; nothing handed out can change the learner.
  const EmbeddingTable& table() const { return table_; }
  const Model& model() const { return model_; }
  const MultiTaskLoss& loss() const { return loss_; }
  const FeatureEncoder& encoder() const { return encoder_; }
  int emb_dim() const { return emb_dim_; }    // embedding floats per row, fed to the model
  int bias_dim() const { return bias_dim_; }  // logit biases per row (one per task, or none)
  // A field's input for `key`, as prepare() resolves it: the key's row;
  // without one, the field's mean row (field_mean_init) or nullptr (zeros).
  const float* field_input(int field, uint64_t key) const;

  // The pieces of one training step, for tests and benchmarks:
  // prepare resolves features (counting sightings), forward_backward computes
  // loss and gradients (L2 included) without changing parameters, step
  // updates them (one optimizer step).
  // With observe = false, keys only look up rows (scoring: no sightings).
  void prepare(std::span<const Sample> samples, Batch& batch, bool observe = true);
  double forward_backward(Batch& batch);
  void step(Batch& batch);
  // Scores a prepared batch (forward only); fills batch.predictions.
  void score(Batch& batch);

 private:
  Learner(const LearnerConfig& config, TaskSet tasks, Feedback feedback, ModelShape shape);
  void train(std::span<const Sample> samples);
  // Queues an impression for scoring with the model of this moment.
  void show(const Sample& sample);
  // Scores every waiting impression with the model of this moment.
  void score_shown();
  // Scores the waiting impressions shown_[first..shown_count_) (not
  // shown_count_: the caller scores the first ones itself).
  void score_waiting_from(size_t first);
  // Immediate feedback: handles the joiner's copies queue_[first..]: shown
  // copies are queued for scoring, copies that learn nothing record their
  // final labels at once and leave the queue.
  void take_copies(size_t first);
  // The impression-time scores of a sample whose labels become final.
  const float* final_scores(const Sample& sample);
  // Records the labels `sample` finalizes against its impression-time
  // scores `p` (the series, the oracle, the baseline, the sink).
  void record_final(const Sample& sample, const float* p);
  // Writes column `c` of a scored batch as kept in scores_: each task's
  // prediction, pCVR, then the per-item baseline's click and
  // click-and-purchase rates.
  void column_scores(const Batch& b, Eigen::Index c, const std::string& item_id, float* out) const;
  void update_field_means(const Batch& batch);
  void record(std::span<const Sample> samples, const Batch& batch);
  void add_series(const std::string& name);
  // Once, after the first thousand events, if none made a sample: says why.
  void warn_if_no_samples();
  // Adds a pair to series i, and to its tail copy when `sample` was shown
  // from tail_start_ms_ on.
  void add_pair(const Sample& sample, size_t i, float prediction, float label);
  std::vector<Parameter*> dense_parameters();
  void save(ByteWriter& out, uint64_t position) const;
  bool load(ByteReader& in, uint64_t& position);
  std::string fingerprint() const;
  // The gradient check perturbs parameters and embedding rows in place; it
  // alone reaches them mutably (tests/online_learner/gradient_check_test.cc).
  friend struct GradientCheckAccess;

  LearnerConfig config_;
  Feedback feedback_;
  int emb_dim_;   // embedding floats per row, fed to the model
  int bias_dim_;  // logit biases per row (one per task, or none)
  FeatureEncoder encoder_;
  bool warned_no_samples_ = false;
  uint64_t evictions_warned_ = 0;  // the catalog's evictions at the last warning
  Catalog catalog_;
  Joiner joiner_;
  RecentClicksBook recent_clicks_;  // add_event(event)'s; learner.recent_clicks each, learner.max_users users
  EmbeddingTable table_;
  Model model_;
  MultiTaskLoss loss_;
  Optimizer optimizer_;
  ItemRateBaseline baseline_;
  bool freeze_embeddings_ = false;
  Sink sink_;
  Reference reference_;
  double learn_seconds_ = 0;
  double learn_cpu_seconds_ = 0;

  std::vector<Sample> queue_;  // joined samples not yet learned
  // Impressions not yet scored: the first shown_count_; the rest are kept
  // so that copying the next ones in reuses their buffers.
  std::vector<Sample> shown_;
  size_t shown_count_ = 0;
  // train(): the batch's columns holding shown_[0], shown_[1], ... in order.
  std::vector<Eigen::Index> shown_columns_;
  // Scores of shown impressions not yet learned, by event_id: each task's
  // prediction, then pCVR.
  ScoreTable scores_;
  Batch score_batch_;
  Batch batch_;
  // Running mean row of each single-valued field (field_mean_init).
  std::vector<Vec> field_mean_;
  std::vector<int32_t> slot_of_row_;  // row -> index in batch.touched, -1 otherwise
  std::vector<uint64_t> keys_scratch_, bag_scratch_;
  uint64_t samples_learned_ = 0;
  int64_t last_eviction_ts_ = INT64_MIN;

  std::vector<std::pair<std::string, MetricSeries>> series_;
  std::vector<std::pair<std::string, MetricSeries>> tail_series_;
  int64_t tail_start_ms_ = INT64_MAX;
  int esmm_task_ = -1;
  size_t cvr_series_ = 0, baseline_series_ = 0, oracle_series_ = 0;
};

}  // namespace streamrec::learner
