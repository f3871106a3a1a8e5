#include "online_learner/learner.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>

#include <spdlog/spdlog.h>

#include "online_learner/byte_io.h"
#include "online_learner/checkpoint.h"

namespace streamrec::learner {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kAutoNegativesPerClick = 4;    // learner.negatives_per_click: auto
constexpr uint64_t kEventsBeforeNoSampleWarning = 1000;

// learner.negatives_per_click as a count; nullopt for "auto" or a bad value.
std::optional<int64_t> negatives_count(const std::string& v) {
  int64_t n = -1;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0 || n > 1000) return std::nullopt;
  return n;
}

JoinerSettings joiner_settings(const LearnerConfig& c, Feedback feedback) {
  JoinerSettings s;
  s.click_window_ms = c.click_window_s * 1000;
  s.purchase_window_ms = c.purchase_window_s * 1000;
  s.max_pending = c.max_pending;
  s.dedupe_window = c.dedupe_window;
  // "auto" or a count (checked by Learner::create).
  s.negatives_until_impressions = c.negatives_per_click == "auto";
  s.negatives_per_click = s.negatives_until_impressions ? kAutoNegativesPerClick : *negatives_count(c.negatives_per_click);
  s.popularity_negatives = c.negative_sampling != "uniform";
  s.early_clicks = c.early_clicks;
  s.feedback = feedback;
  s.seed = static_cast<uint64_t>(c.seed);
  return s;
}

OptimizerSettings optimizer_settings(const LearnerConfig& c) {
  OptimizerSettings s;
  s.kind = c.optimizer == "sgd" ? OptimizerKind::kSgd : OptimizerKind::kAdagrad;
  s.lr_dense = static_cast<float>(c.lr_dense);
  s.lr_embedding = static_cast<float>(c.lr_embedding);
  s.lr_intercept = static_cast<float>(c.lr_intercept);
  s.momentum = static_cast<float>(c.momentum);
  s.adagrad_initial = static_cast<float>(c.adagrad_init);
  return s;
}

// A task's label on a sample (the purchase amount for value tasks).
float raw_label(const TaskSpec& task, const Sample& sample) {
  switch (task.label) {
    case TaskLabel::kClick: return sample.clicked;
    case TaskLabel::kPurchase: return sample.clicked && sample.purchased;
    case TaskLabel::kValue: return sample.purchased ? sample.value : 0.0f;
  }
  return 0;
}

// This thread's CPU time, in seconds.
double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Which of a sample's labels (Sample::learns, finalizes) a task uses.
uint8_t label_bit(const TaskSpec& task) { return task.label == TaskLabel::kClick ? kClickLabel : kPurchaseLabel; }

}  // namespace

Result<std::unique_ptr<Learner>> Learner::create(const LearnerConfig& config) {
  auto tasks = parse_tasks(config.tasks);
  if (!tasks.ok()) return tasks.error();
  auto feedback = parse_feedback(config.feedback, *tasks);
  if (!feedback.ok()) return feedback.error();
  if (config.embedding_dim > 1024) return Error{"learner.embedding_dim: must be <= 1024"};
  if (config.negatives_per_click != "auto" && !negatives_count(config.negatives_per_click))
    return Error{"learner.negatives_per_click: must be auto or a count 0-1000, got \"" + config.negatives_per_click + "\""};
  ModelShape shape;
  FeatureEncoder probe(split_list(config.context_fields), config.recent_clicks > 0);
  shape.fields = probe.fields();
  shape.dim = static_cast<int>(config.embedding_dim);
  shape.interactions = config.interactions;
  shape.architecture = config.architecture == "shared"   ? Architecture::kShared
                       : config.architecture == "single" ? Architecture::kSingle
                                                         : Architecture::kMmoe;
  shape.experts = static_cast<int>(config.experts);
  shape.expert_hidden = static_cast<int>(config.expert_hidden);
  shape.tower_hidden = static_cast<int>(config.tower_hidden);
  shape.tasks = tasks->size();
  shape.dot_head = config.dot_head;
  return std::unique_ptr<Learner>(new Learner(config, std::move(tasks).value(), *feedback, shape));
}

Learner::Learner(const LearnerConfig& config, TaskSet tasks, Feedback feedback, ModelShape shape)
    : config_(config),
      feedback_(feedback),
      emb_dim_(static_cast<int>(config.embedding_dim)),
      bias_dim_(config.bias_terms ? tasks.size() : 0),
      encoder_(split_list(config.context_fields), config.recent_clicks > 0),
      catalog_(static_cast<size_t>(config.max_items)),
      joiner_(joiner_settings(config, feedback), &catalog_),
      recent_clicks_(config.recent_clicks, config.max_users),
      table_(emb_dim_ + bias_dim_, static_cast<int>(config.admit_after), config.ttl_s * 1000,
             static_cast<float>(config.init_scale), static_cast<uint64_t>(config.seed), emb_dim_,
             static_cast<size_t>(config.max_embedding_rows)),
      model_(shape, static_cast<uint64_t>(config.seed)),
      loss_(std::move(tasks), config.uncertainty_weighting, feedback),
      optimizer_(optimizer_settings(config)),
      baseline_(20, static_cast<size_t>(config.max_items)),
      scores_(static_cast<size_t>(loss_.tasks().size()) + 3) {
  field_mean_.assign(encoder_.single_fields(), Vec::Zero(table_.dim()));
  const TaskSet& t = loss_.tasks();
  for (int k = 0; k < t.size(); ++k) {
    const TaskSpec& spec = t.tasks[k];
    if (spec.kind == TaskKind::kEsmm) esmm_task_ = k;
    add_series(spec.kind == TaskKind::kEsmm ? "ctcvr" : spec.name);
  }
  cvr_series_ = series_.size();
  if (esmm_task_ >= 0) add_series("cvr");
  baseline_series_ = series_.size();
  add_series("baseline_click");
  add_series("baseline_ctcvr");
  oracle_series_ = series_.size();
  add_series("oracle_click");
  add_series("oracle_ctcvr");
  add_series("oracle_cvr");
}

void Learner::add_item(const Item& item) {
  catalog_.update(item);
  const uint64_t evicted = catalog_.evicted_items();
  if (evicted == evictions_warned_ || evicted < 2 * evictions_warned_) return;  // warned at 1, 2, 4, 8, ...
  evictions_warned_ = evicted;
  spdlog::warn("learner: the catalog is full (learner.max_items = {}); items evicted so far: {}, the least recently "
               "updated first, no longer ranked or sampled. Raise learner.max_items to keep the whole catalog",
               config_.max_items, evicted);
}

void Learner::warn_if_no_samples() {
  const JoinerCounters& c = joiner_.counters();
  if (warned_no_samples_ || c.events < kEventsBeforeNoSampleWarning || c.samples > 0) return;
  warned_no_samples_ = true;
  if (c.impressions == 0 && joiner_.settings().negatives_per_click <= 0)
    spdlog::warn("learner: {} events and no training sample: the stream has no impressions ({} clicks, {} purchases) "
                 "and learner.negatives_per_click is 0; set it to auto (the default) to sample negatives",
                 c.events, c.clicks, c.purchases);
  else if (c.impressions == 0 && catalog_.size() == 0)
    spdlog::warn("learner: {} events and no training sample: the stream has no impressions and the catalog is "
                 "empty, so no negatives can be sampled; load the items (items topic, or --catalog FILE)",
                 c.events);
  else
    spdlog::warn("learner: {} events and no training sample yet ({} impressions, {} clicks, {} purchases)", c.events,
                 c.impressions, c.clicks, c.purchases);
}

void Learner::add_series(const std::string& name) {
  series_.emplace_back(name, MetricSeries{});
  series_.back().second.set_cap(static_cast<size_t>(config_.metrics_max_samples));
  tail_series_.emplace_back(name, MetricSeries{});
  tail_series_.back().second.set_cap(static_cast<size_t>(config_.metrics_max_samples));
}

void Learner::add_pair(const Sample& sample, size_t i, float prediction, float label) {
  series_[i].second.add(prediction, label);
  if (sample.ts_ms >= tail_start_ms_) tail_series_[i].second.add(prediction, label);
}

std::vector<Parameter*> Learner::dense_parameters() {
  std::vector<Parameter*> params = model_.parameters();
  params.push_back(&loss_.log_var);
  return params;
}

void Learner::forget_users(const std::unordered_set<std::string>& user_ids) {
  if (user_ids.empty()) return;
  for (const std::string& id : user_ids) recent_clicks_.erase(id);
  std::vector<std::string> dropped;
  joiner_.drop_pending_of(user_ids, dropped);
  // Joined samples not learned yet, and impressions waiting for their scores:
  // removed keeping the others' order (train() pairs shown_ with the batch's
  // shown copies in order).
  std::erase_if(queue_, [&](const Sample& s) {
    if (!user_ids.contains(s.user_id)) return false;
    dropped.push_back(s.event_id);
    return true;
  });
  for (size_t i = 0; i < shown_count_; ++i)
    if (user_ids.contains(shown_[i].user_id)) dropped.push_back(shown_[i].event_id);
  auto shown_end = std::remove_if(shown_.begin(), shown_.begin() + static_cast<std::ptrdiff_t>(shown_count_),
                                  [&](const Sample& s) { return user_ids.contains(s.user_id); });
  shown_count_ = static_cast<size_t>(shown_end - shown_.begin());
  for (const std::string& event_id : dropped) scores_.erase(event_id);
  for (const std::string& id : user_ids) table_.erase(FeatureEncoder::user_key(id));
}

void Learner::add_event(const Event& event) {
  const uint64_t duplicates = joiner_.counters().duplicates;
  add_event(event, needs_recent_clicks(event) ? recent_clicks_.of(event.user_id) : RecentClicks{});
  if (event.type == EventType::kClick && joiner_.counters().duplicates == duplicates) recent_clicks_.remember(event);
}

void Learner::add_event(const Event& event, RecentClicks recent_clicks) {
  if (event.type == EventType::kForget) {
    forget_user(event.user_id);
    return;
  }
  const size_t first = queue_.size();
  const uint64_t duplicates = joiner_.counters().duplicates;
  joiner_.add(event, std::move(recent_clicks), queue_);
  // Popularity for the negative sampler: the stream's clicks and purchases,
  // counted after the event's own negatives were drawn.
  if (event.type != EventType::kImpression && joiner_.counters().duplicates == duplicates) catalog_.observe(event.item_id);
  warn_if_no_samples();
  if (feedback_ != Feedback::kWindowed) take_copies(first);
  else if (const Sample* shown = joiner_.last_impression()) show(*shown);
  const size_t b = static_cast<size_t>(config_.batch_size);
  if (queue_.size() < b) return;
  size_t learned = 0;
  for (; queue_.size() - learned >= b; learned += b) train(std::span(queue_).subspan(learned, b));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(learned));
}

void Learner::show(const Sample& sample) {
  if (shown_count_ < shown_.size()) shown_[shown_count_] = sample;
  else shown_.push_back(sample);
  ++shown_count_;
  // Windowed feedback learns an impression long after it was shown: score
  // the waiting ones a batch at a time. Immediate feedback learns every
  // shown copy in the next batch, whose forward pass scores it (train).
  if (feedback_ == Feedback::kWindowed && shown_count_ >= static_cast<size_t>(config_.batch_size)) score_shown();
}

void Learner::take_copies(size_t first) {
  size_t kept = first;
  for (size_t i = first; i < queue_.size(); ++i) {
    Sample& s = queue_[i];
    // Every shown copy is scored before anything is learned from it, the
    // impressions and (impression-less streams) the samples standing for
    // them alike.
    if (is_shown_copy(s)) show(s);
    if (s.learns == 0) {
      record_final(s, final_scores(s));
      continue;
    }
    if (kept != i) queue_[kept] = std::move(s);
    ++kept;
  }
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(kept), queue_.end());
}

const float* Learner::final_scores(const Sample& sample) {
  const float* p = scores_.find(sample.event_id);
  if (p) return p;
  score_shown();  // shown since the last scoring; no batch has been learned since
  return scores_.find(sample.event_id);
}

void Learner::finish() {
  const size_t first = queue_.size();
  joiner_.flush(queue_);
  if (feedback_ != Feedback::kWindowed) take_copies(first);
  const size_t b = static_cast<size_t>(config_.batch_size);
  for (size_t i = 0; i < queue_.size(); i += b) train(std::span(queue_).subspan(i, std::min(b, queue_.size() - i)));
  queue_.clear();
}

void Learner::column_scores(const Batch& b, Eigen::Index c, const std::string& item_id, float* p) const {
  const int tasks = loss_.tasks().size();
  for (int k = 0; k < tasks; ++k) p[k] = b.predictions(k, c);
  p[tasks] = esmm_task_ >= 0 ? sigmoid(b.acts.logits(esmm_task_, c)) : kNaN;
  auto base = baseline_.score(item_id);
  p[tasks + 1] = base.click;
  p[tasks + 2] = base.ctcvr;
}

void Learner::score_shown() {
  score_waiting_from(0);
  shown_count_ = 0;
}

void Learner::score_waiting_from(size_t first) {
  if (first >= shown_count_) return;
  auto start = std::chrono::steady_clock::now();
  const double start_cpu = thread_cpu_seconds();
  const std::span<const Sample> waiting = std::span(shown_).subspan(first, shown_count_ - first);
  prepare(waiting, score_batch_, false);
  score(score_batch_);
  for (size_t s = 0; s < waiting.size(); ++s)
    column_scores(score_batch_, static_cast<Eigen::Index>(s), waiting[s].item_id, scores_.insert(waiting[s].event_id));
  learn_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  learn_cpu_seconds_ += thread_cpu_seconds() - start_cpu;
}

void Learner::train(std::span<const Sample> samples) {
  if (samples.empty()) return;
  // Immediate feedback: the waiting impressions whose shown copies this
  // batch learns are scored by the batch's own forward pass, which runs on
  // the model they were shown to (nothing is learned in between); only
  // those shown after the batch's last copy get a pass of their own. One
  // forward pass per impression, as a learner given its labels at once runs.
  shown_columns_.clear();
  if (feedback_ != Feedback::kWindowed)
    for (size_t c = 0; c < samples.size() && shown_columns_.size() < shown_count_; ++c)
      if (is_shown_copy(samples[c]) && samples[c].event_id == shown_[shown_columns_.size()].event_id)
        shown_columns_.push_back(static_cast<Eigen::Index>(c));
  score_waiting_from(shown_columns_.size());
  auto start = std::chrono::steady_clock::now();
  const double start_cpu = thread_cpu_seconds();
  prepare(samples, batch_);
  batch_.loss = forward_backward(batch_);
  for (size_t j = 0; j < shown_columns_.size(); ++j)
    column_scores(batch_, shown_columns_[j], shown_[j].item_id, scores_.insert(shown_[j].event_id));
  shown_count_ = 0;
  record(samples, batch_);
  step(batch_);
  learn_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  learn_cpu_seconds_ += thread_cpu_seconds() - start_cpu;
  if (config_.ttl_s > 0) {
    int64_t ts = samples.back().ts_ms;
    if (last_eviction_ts_ == INT64_MIN) last_eviction_ts_ = ts;
    if (ts - last_eviction_ts_ >= config_.ttl_s * 1000 / 8) {
      table_.evict_unseen(ts);
      last_eviction_ts_ = ts;
    }
  }
  table_.evict_over_bound();  // between mini-batches: no batch holds a row number now
}

void Learner::prepare(std::span<const Sample> samples, Batch& b, bool observe) {
  const int f1 = encoder_.single_fields(), d = emb_dim_, fields = encoder_.fields();
  const size_t n = samples.size();
  b.size = n;
  b.rows.resize(n * f1);
  b.bag_rows.clear();
  b.bag_offsets.assign(1, 0);
  keys_scratch_.resize(f1);
  b.x0.setZero(static_cast<Eigen::Index>(fields) * d, static_cast<Eigen::Index>(n));
  b.labels.resize(loss_.tasks().size(), static_cast<Eigen::Index>(n));
  b.wide.setZero(loss_.tasks().size(), static_cast<Eigen::Index>(n));
  b.mask.resize(loss_.tasks().size(), static_cast<Eigen::Index>(n));
  b.weights.resize(loss_.tasks().size(), static_cast<Eigen::Index>(n));
  b.logit_offsets.setZero(loss_.tasks().size(), static_cast<Eigen::Index>(n));
  b.has_offsets = false;
  for (size_t s = 0; s < n; ++s) {
    const Sample& sample = samples[s];
    bag_scratch_.clear();
    encoder_.encode(sample, catalog_, keys_scratch_.data(), bag_scratch_);
    float* col = b.x0.col(static_cast<Eigen::Index>(s)).data();
    for (int f = 0; f < f1; ++f) {
      uint32_t r;
      if (freeze_embeddings_ || !observe) {
        r = table_.find(keys_scratch_[f]);
      } else {
        uint64_t admitted = table_.admitted_total();
        r = table_.observe(keys_scratch_[f], sample.ts_ms);
        if (config_.field_mean_init && table_.admitted_total() != admitted)
          Eigen::Map<Vec>(table_.row(r), table_.dim()) += field_mean_[f];
      }
      b.rows[s * f1 + f] = r;
      if (r == EmbeddingTable::kNoRow) {
        // A key without a row (not yet admitted, or first seen while
        // scoring) looks like the average of its field, or like nothing.
        if (!config_.field_mean_init) continue;
        std::copy_n(field_mean_[f].data(), d, col + f * d);
        for (int k = 0; k < bias_dim_; ++k) b.wide(k, static_cast<Eigen::Index>(s)) += field_mean_[f][d + k];
        continue;
      }
      std::copy_n(table_.row(r), d, col + f * d);
      for (int k = 0; k < bias_dim_; ++k) b.wide(k, static_cast<Eigen::Index>(s)) += table_.row(r)[d + k];
    }
    if (encoder_.has_bag()) {
      size_t first = b.bag_rows.size();
      for (uint64_t key : bag_scratch_)
        if (uint32_t r = table_.find(key); r != EmbeddingTable::kNoRow) b.bag_rows.push_back(r);
      size_t count = b.bag_rows.size() - first;
      if (count > 0) {
        Eigen::Map<Vec> bag(col + f1 * d, d);
        for (size_t i = first; i < b.bag_rows.size(); ++i) bag += Eigen::Map<const Vec>(table_.row(b.bag_rows[i]), d);
        bag /= static_cast<float>(count);
      }
      b.bag_offsets.push_back(static_cast<uint32_t>(b.bag_rows.size()));
    }
    for (int k = 0; k < loss_.tasks().size(); ++k) {
      const TaskSpec& task = loss_.tasks().tasks[k];
      b.labels(k, static_cast<Eigen::Index>(s)) = raw_label(task, sample);
      b.mask(k, static_cast<Eigen::Index>(s)) = (sample.learns & label_bit(task)) != 0;
    }
    if (sample.log_correction != 0 && loss_.tasks().click_task >= 0) {
      b.logit_offsets(loss_.tasks().click_task, static_cast<Eigen::Index>(s)) = sample.log_correction;
      b.has_offsets = true;
    }
  }
}

double Learner::forward_backward(Batch& b) {
  std::vector<Parameter*> params = dense_parameters();
  for (Parameter* p : params) p->grad.setZero();
  model_.forward(b.x0, b.acts);
  b.acts.logits += b.wide;
  loss_.predict(b.acts.logits, b.predictions);
  loss_.importance_weights(b.predictions, b.labels, b.mask, b.weights);
  double loss = loss_.forward_backward(b.acts.logits, b.labels, b.weights, b.dlogits,
                                       b.has_offsets ? &b.logit_offsets : nullptr);
  model_.backward(b.x0, b.acts, b.dlogits, freeze_embeddings_ ? nullptr : &b.dx0);

  const float l2 = static_cast<float>(config_.l2);
  for (Parameter* p : params) {
    if (p->frozen || p->group == ParamGroup::kTaskWeight) continue;
    p->grad += (2 * l2) * p->value;
    loss += l2 * static_cast<double>(p->value.squaredNorm());
  }

  // Scatter dL/dx0 into one gradient per distinct embedding row.
  for (uint32_t r : b.touched) slot_of_row_[r] = -1;
  b.touched.clear();
  b.touched_grad.clear();
  if (freeze_embeddings_) return loss;
  const int f1 = encoder_.single_fields(), d = emb_dim_, row_dim = table_.dim();
  if (slot_of_row_.size() < table_.capacity_rows()) slot_of_row_.resize(table_.capacity_rows(), -1);
  auto grad_of = [&](uint32_t r) -> float* {
    if (slot_of_row_[r] < 0) {
      slot_of_row_[r] = static_cast<int32_t>(b.touched.size());
      b.touched.push_back(r);
      b.touched_grad.resize(b.touched_grad.size() + row_dim, 0.0f);
    }
    return &b.touched_grad[static_cast<size_t>(slot_of_row_[r]) * row_dim];
  };
  for (size_t s = 0; s < b.size; ++s) {
    const float* g = b.dx0.col(static_cast<Eigen::Index>(s)).data();
    for (int f = 0; f < f1; ++f) {
      uint32_t r = b.rows[s * f1 + f];
      if (r == EmbeddingTable::kNoRow) continue;
      float* gr = grad_of(r);
      Eigen::Map<Vec>(gr, d) += Eigen::Map<const Vec>(g + f * d, d);
      for (int k = 0; k < bias_dim_; ++k) gr[d + k] += b.dlogits(k, static_cast<Eigen::Index>(s));
    }
    if (encoder_.has_bag()) {
      uint32_t first = b.bag_offsets[s], last = b.bag_offsets[s + 1];
      if (first == last) continue;
      float scale = 1.0f / static_cast<float>(last - first);
      for (uint32_t i = first; i < last; ++i)
        Eigen::Map<Vec>(grad_of(b.bag_rows[i]), d) += scale * Eigen::Map<const Vec>(g + f1 * d, d);
    }
  }
  for (size_t i = 0; i < b.touched.size(); ++i) {
    Eigen::Map<const Vec> w(table_.row(b.touched[i]), row_dim);
    Eigen::Map<Vec>(&b.touched_grad[i * row_dim], row_dim) += (2 * l2) * w;
    loss += l2 * static_cast<double>(w.squaredNorm());
  }
  return loss;
}

void Learner::step(Batch& b) {
  for (Parameter* p : dense_parameters()) optimizer_.step(*p);
  const int d = table_.dim();
  for (size_t i = 0; i < b.touched.size(); ++i) {
    uint32_t r = b.touched[i];
    optimizer_.step_row(table_.row(r), table_.state(r), &b.touched_grad[i * d], d);
  }
  if (config_.field_mean_init && !freeze_embeddings_) update_field_means(b);
}

void Learner::update_field_means(const Batch& b) {
  // An exponential moving average of the rows each field used in this batch.
  const int f1 = encoder_.single_fields(), d = table_.dim();
  constexpr float kRate = 0.05f;
  Vec sum(d);
  for (int f = 0; f < f1; ++f) {
    sum.setZero();
    int count = 0;
    for (size_t s = 0; s < b.size; ++s) {
      uint32_t r = b.rows[s * f1 + f];
      if (r == EmbeddingTable::kNoRow) continue;
      sum += Eigen::Map<const Vec>(table_.row(r), d);
      ++count;
    }
    if (count > 0) field_mean_[f] = (1 - kRate) * field_mean_[f] + (kRate / static_cast<float>(count)) * sum;
  }
}

void Learner::score(Batch& b) {
  model_.forward(b.x0, b.acts);
  b.acts.logits += b.wide;
  loss_.predict(b.acts.logits, b.predictions);
}

const float* Learner::field_input(int field, uint64_t key) const {
  // As prepare() resolves it: the key's row; without one, the field's mean
  // row (field_mean_init) or zeros (nullptr).
  uint32_t r = table_.find(key);
  if (r != EmbeddingTable::kNoRow) return table_.row(r);
  return config_.field_mean_init ? field_mean_[field].data() : nullptr;
}

void Learner::record(std::span<const Sample> samples, const Batch& b) {
  // Samples never shown (sampled negatives and the clicks standing for their
  // impressions, windowed feedback) are scored now, before learning; the
  // baseline scores all of them before it counts any. (Immediate feedback
  // scored every shown copy already; a copy whose labels were recorded
  // before it was learned has no scores left, and needs none.)
  for (size_t s = 0; s < samples.size() && feedback_ == Feedback::kWindowed; ++s) {
    if (scores_.find(samples[s].event_id)) continue;
    column_scores(b, static_cast<Eigen::Index>(s), samples[s].item_id, scores_.insert(samples[s].event_id));
  }
  for (const Sample& sample : samples)
    if (sample.finalizes != 0) record_final(sample, scores_.find(sample.event_id));
}

void Learner::record_final(const Sample& sample, const float* p) {
  if (p == nullptr) return;  // never scored: cannot happen (every copy follows its scored shown copy)
  const TaskSet& tasks = loss_.tasks();
  const int click = tasks.click_task;
  const int nt = tasks.size();
  // Each series is recorded when its label is final: click series with the
  // click label, purchase series with the purchase label (both at once for
  // an unclicked impression or a complete copy). The click series thus
  // follow impression order exactly.
  const bool click_final = (sample.finalizes & kClickLabel) != 0;
  const bool purchase_final = (sample.finalizes & kPurchaseLabel) != 0;
  const float clicked = sample.clicked ? 1.0f : 0.0f;
  const float bought = sample.clicked && sample.purchased ? 1.0f : 0.0f;
  for (int k = 0; k < nt; ++k) {
    const TaskSpec& task = tasks.tasks[k];
    if ((sample.finalizes & label_bit(task)) == 0) continue;
    float label = raw_label(task, sample);
    if (task.kind == TaskKind::kRegression) label = std::log1p(std::max(0.0f, label));
    add_pair(sample, static_cast<size_t>(k), p[k], label);
  }
  Scores truth;
  const bool known = reference_ && reference_(sample, truth);
  if (click_final) {
    add_pair(sample, baseline_series_, p[nt + 1], clicked);
    if (known) add_pair(sample, oracle_series_, truth.p_click, clicked);
    baseline_.update_click(sample.item_id, sample.clicked);
  }
  if (!purchase_final) return;
  if (esmm_task_ >= 0 && sample.clicked) add_pair(sample, cvr_series_, p[nt], bought);
  add_pair(sample, baseline_series_ + 1, p[nt + 2], bought);
  if (known) {
    add_pair(sample, oracle_series_ + 1, truth.p_ctcvr, bought);
    if (sample.clicked) add_pair(sample, oracle_series_ + 2, truth.p_cvr, bought);
  }
  baseline_.update_purchase(sample.item_id, bought > 0);
  if (sink_)
    sink_(sample, Scores{click >= 0 ? p[click] : kNaN, esmm_task_ >= 0 ? p[nt] : kNaN,
                         esmm_task_ >= 0 ? p[esmm_task_] : kNaN});
  scores_.erase(sample.event_id);
  ++samples_learned_;
}

namespace {
// The memory bounds are not part of the model: an operator may change them
// between restarts (and checkpoints written before they existed still load).
bool is_memory_bound(const std::string& key) {
  return key == "learner.max_users" || key == "learner.max_items" || key == "learner.max_embedding_rows" ||
         key == "learner.max_held_events";
}
}  // namespace

std::string Learner::fingerprint() const {
  Config c;
  c.learner = config_;
  std::string f;
  for (auto& [key, value] : describe(c))
    if (key.rfind("learner.", 0) == 0 && !is_memory_bound(key)) f += key + "=" + value + "\n";
  return f;
}

void Learner::save(ByteWriter& out, uint64_t position) const {
  out.str(fingerprint());
  out.u64(position);
  out.u64(samples_learned_);
  out.i64(last_eviction_ts_);
  out.u8(freeze_embeddings_);
  out.u32(static_cast<uint32_t>(field_mean_.size()));
  for (const Vec& m : field_mean_) {
    out.u32(static_cast<uint32_t>(m.size()));
    out.floats(m.data(), static_cast<size_t>(m.size()));
  }
  catalog_.save(out);
  auto params = const_cast<Learner*>(this)->dense_parameters();
  out.u64(params.size());
  for (const Parameter* p : params) {
    out.str(p->name);
    out.u64(static_cast<uint64_t>(p->value.rows()));
    out.u64(static_cast<uint64_t>(p->value.cols()));
    out.floats(p->value.data(), static_cast<size_t>(p->value.size()));
    out.floats(p->state.data(), static_cast<size_t>(p->state.size()));
    out.u8(p->frozen);
  }
  table_.save(out);
  joiner_.save(out);
  recent_clicks_.save(out);  // where the joiner kept them before (same bytes)
  baseline_.save(out);
  out.u64(series_.size());
  for (auto& [name, s] : series_) {
    out.str(name);
    s.save(out);
  }
  out.i64(tail_start_ms_);
  for (auto& [name, s] : tail_series_) s.save(out);
  out.u64(queue_.size());
  for (const Sample& s : queue_) save_sample(out, s);
  out.u64(shown_count_);
  for (size_t i = 0; i < shown_count_; ++i) save_sample(out, shown_[i]);
  out.u64(scores_.size());
  scores_.for_each_sorted([&](const std::string& id, const float* row) {
    out.str(id);
    out.u64(scores_.width());
    out.floats(row, scores_.width());
  });
}

namespace {
// Reads the dense parameters of a checkpoint into those of `params` that
// match by name and shape; with `strict`, every one must match.
bool load_parameters(ByteReader& in, const std::vector<Parameter*>& params, bool strict) {
  uint64_t n = in.u64();
  if (strict && n != params.size()) {
    in.fail("checkpoint has " + std::to_string(n) + " parameters, the model " + std::to_string(params.size()));
    return false;
  }
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    std::string name = in.str();
    auto rows = static_cast<Eigen::Index>(in.u64()), cols = static_cast<Eigen::Index>(in.u64());
    // A parameter and its optimizer state are rows x cols floats each: a
    // shape the rest of the file cannot hold is corrupt (checked without
    // multiplying, which a corrupt shape would overflow).
    const auto floats_left = static_cast<Eigen::Index>(in.remaining() / sizeof(float));
    if (!in.ok() || rows < 0 || cols < 0 || (cols > 0 && rows > floats_left / cols)) {
      in.fail("bad parameter shape");
      return false;
    }
    Mat value(rows, cols), state(rows, cols);
    in.floats(value.data(), static_cast<size_t>(value.size()));
    in.floats(state.data(), static_cast<size_t>(state.size()));
    bool frozen = in.u8() != 0;
    Parameter* target = nullptr;
    for (Parameter* p : params)
      if (p->name == name && p->value.rows() == rows && p->value.cols() == cols) target = p;
    if (target == nullptr) {
      if (strict) {
        in.fail("parameter " + name + " does not fit the configured model");
        return false;
      }
      continue;
    }
    target->value = value;
    if (strict) {
      target->state = state;
      target->frozen = frozen;
    }
  }
  return in.ok();
}
}  // namespace

bool Learner::load(ByteReader& in, uint64_t& position) {
  std::string saved = in.str();
  if (in.ok() && saved != fingerprint()) {
    in.fail("the checkpoint was written with other learner.* settings (restore needs the same config)");
    return false;
  }
  position = in.u64();
  samples_learned_ = in.u64();
  last_eviction_ts_ = in.i64();
  freeze_embeddings_ = in.u8() != 0;
  if (in.u32() != field_mean_.size()) in.fail("field count differs");
  for (Vec& m : field_mean_) {
    if (in.u32() != m.size()) in.fail("field mean size differs");
    if (!in.ok()) return false;
    in.floats(m.data(), static_cast<size_t>(m.size()));
  }
  catalog_.load(in);
  if (!load_parameters(in, dense_parameters(), true)) return false;
  if (!table_.load(in) || !joiner_.load(in)) return false;
  recent_clicks_.load(in);
  if (!baseline_.load(in)) return false;
  uint64_t n = in.u64();
  if (in.ok() && n != series_.size()) {
    in.fail("metric series differ");
    return false;
  }
  for (auto& [name, s] : series_) {
    if (in.str() != name && in.ok()) in.fail("metric series " + name + " missing");
    if (!s.load(in)) return false;
  }
  tail_start_ms_ = in.i64();
  for (auto& [name, s] : tail_series_)
    if (!s.load(in)) return false;
  queue_.clear();
  n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) queue_.push_back(load_sample(in));
  shown_.clear();
  n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) shown_.push_back(load_sample(in));
  shown_count_ = shown_.size();
  scores_.clear();
  n = in.u64();
  std::vector<float> row;
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    std::string id = in.str();
    if (!in.pod_vector(row)) break;
    if (row.size() != scores_.width()) {
      in.fail("score row of " + std::to_string(row.size()) + " floats, expected " + std::to_string(scores_.width()));
      break;
    }
    std::copy(row.begin(), row.end(), scores_.insert(id));
  }
  if (in.ok() && !in.at_end()) in.fail("unexpected bytes after the learner state");
  slot_of_row_.assign(table_.capacity_rows(), -1);
  batch_.touched.clear();
  return in.ok();
}

std::string Learner::checkpoint_bytes(uint64_t position) const {
  ByteWriter w;
  save(w, position);
  return w.take();
}

void Learner::append_checkpoint(ByteWriter& out, uint64_t position) const {
  const uint64_t length_at = out.size();  // spilled bytes included
  out.u64(0);  // the length, known once the state is written
  save(out, position);
  out.patch_u64(length_at, out.size() - length_at - sizeof(uint64_t));
}

Status Learner::save_checkpoint(const std::string& path, uint64_t position) const {
  return write_checkpoint_file(path, checkpoint_bytes(position));
}

Result<uint64_t> Learner::restore_checkpoint(const std::string& path) {
  auto payload = read_checkpoint_file(path);
  if (!payload.ok()) return payload.error();
  return restore_checkpoint_bytes(*payload, path);
}

Result<uint64_t> Learner::restore_checkpoint_bytes(std::string_view bytes, const std::string& name) {
  ByteReader in(bytes);
  uint64_t position = 0;
  if (!load(in, position)) return Error{"checkpoint " + name + ": " + in.error()};
  return position;
}

Status Learner::init_from(const std::string& path, Freeze freeze) {
  auto payload = read_checkpoint_file(path);
  if (!payload.ok()) return payload.error();
  ByteReader in(*payload);
  // The source's tasks name its rows' bias columns.
  std::string settings = in.str();
  std::string source_tasks;
  if (size_t at = settings.find("learner.tasks="); at != std::string::npos)
    source_tasks = settings.substr(at + 14, settings.find('\n', at) - at - 14);
  in.u64();
  in.u64();
  in.i64();
  in.u8();
  for (uint32_t f = 0, n = in.u32(); f < n && in.ok(); ++f) {  // the source's field means: not needed
    std::vector<float> skip(std::min<uint32_t>(in.u32(), 1 << 20));
    in.floats(skip.data(), skip.size());
  }
  Catalog ignored;
  ignored.load(in);
  EmbeddingTable source(1, 1, 0, 0, 0);
  if (!load_parameters(in, model_.parameters(), false) || !source.load(in, true))
    return Error{"--init-from " + path + ": " + in.error()};
  auto tasks = parse_tasks(source_tasks);
  const int source_bias = source.dim() - emb_dim_;
  if (!tasks.ok() || (source_bias != 0 && source_bias != tasks->size()))
    return Error{"--init-from " + path + ": its rows do not fit learner.embedding_dim=" + std::to_string(emb_dim_)};
  // Copy every row by key: the embedding part whole, each bias column to the
  // task of the same name (new tasks start from zero).
  for (uint32_t r = 0; r < source.capacity_rows(); ++r) {
    if (!source.live(r)) continue;
    uint32_t to = table_.observe(source.key_of(r), source.last_seen(r));
    while (to == EmbeddingTable::kNoRow) to = table_.observe(source.key_of(r), source.last_seen(r));
    std::copy_n(source.row(r), emb_dim_, table_.row(to));
    for (int k = 0; k < bias_dim_; ++k)
      for (int j = 0; j < source_bias; ++j)
        if (tasks->tasks[j].name == loss_.tasks().tasks[k].name) table_.row(to)[emb_dim_ + k] = source.row(r)[emb_dim_ + j];
  }
  slot_of_row_.assign(table_.capacity_rows(), -1);
  batch_.touched.clear();
  freeze_embeddings_ = freeze != Freeze::kNone;
  if (freeze == Freeze::kShared)
    for (Parameter* p : model_.parameters())
      if (p->group == ParamGroup::kShared) p->frozen = true;
  return {};
}

}  // namespace streamrec::learner
