#include "online_learner/learner.h"

#include <cmath>
#include <limits>

#include "online_learner/byte_io.h"
#include "online_learner/checkpoint.h"

namespace streamrec::learner {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

JoinerSettings joiner_settings(const LearnerConfig& c) {
  JoinerSettings s;
  s.click_window_ms = c.click_window_s * 1000;
  s.purchase_window_ms = c.purchase_window_s * 1000;
  s.max_pending = c.max_pending;
  s.dedupe_window = c.dedupe_window;
  s.negatives_per_click = c.negatives_per_click;
  s.recent_clicks = c.recent_clicks;
  s.seed = static_cast<uint64_t>(c.seed);
  return s;
}

OptimizerSettings optimizer_settings(const LearnerConfig& c) {
  OptimizerSettings s;
  s.kind = c.optimizer == "sgd" ? OptimizerKind::kSgd : OptimizerKind::kAdagrad;
  s.lr_dense = static_cast<float>(c.lr_dense);
  s.lr_embedding = static_cast<float>(c.lr_embedding);
  s.momentum = static_cast<float>(c.momentum);
  return s;
}

}  // namespace

Result<std::unique_ptr<Learner>> Learner::create(const LearnerConfig& config) {
  auto tasks = parse_tasks(config.tasks);
  if (!tasks.ok()) return tasks.error();
  if (config.embedding_dim > 1024) return Error{"learner.embedding_dim: must be <= 1024"};
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
  return std::unique_ptr<Learner>(new Learner(config, std::move(tasks).value(), shape));
}

Learner::Learner(const LearnerConfig& config, TaskSet tasks, ModelShape shape)
    : config_(config),
      encoder_(split_list(config.context_fields), config.recent_clicks > 0),
      joiner_(joiner_settings(config), &catalog_),
      table_(static_cast<int>(config.embedding_dim), static_cast<int>(config.admit_after), config.ttl_s * 1000,
             static_cast<float>(config.init_scale), static_cast<uint64_t>(config.seed)),
      model_(shape, static_cast<uint64_t>(config.seed)),
      loss_(std::move(tasks), config.uncertainty_weighting),
      optimizer_(optimizer_settings(config)) {
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
}

void Learner::add_series(const std::string& name) { series_.emplace_back(name, MetricSeries{}); }

std::vector<Parameter*> Learner::dense_parameters() {
  std::vector<Parameter*> params = model_.parameters();
  params.push_back(&loss_.log_var);
  return params;
}

void Learner::add_event(const Event& event) {
  emitted_.clear();
  joiner_.add(event, emitted_);
  for (Sample& s : emitted_) queue_.push_back(std::move(s));
  const size_t b = static_cast<size_t>(config_.batch_size);
  while (queue_.size() >= b) {
    std::vector<Sample> chunk(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + b));
    queue_.erase(queue_.begin(), queue_.begin() + b);
    train(chunk);
  }
}

void Learner::finish() {
  emitted_.clear();
  joiner_.flush(emitted_);
  for (Sample& s : emitted_) queue_.push_back(std::move(s));
  const size_t b = static_cast<size_t>(config_.batch_size);
  for (size_t i = 0; i < queue_.size(); i += b) {
    std::vector<Sample> chunk(std::make_move_iterator(queue_.begin() + i),
                              std::make_move_iterator(queue_.begin() + std::min(queue_.size(), i + b)));
    train(chunk);
  }
  queue_.clear();
}

void Learner::train(std::vector<Sample>& samples) {
  if (samples.empty()) return;
  if (config_.ttl_s > 0) {
    int64_t ts = samples.back().ts_ms;
    if (last_eviction_ts_ == INT64_MIN) last_eviction_ts_ = ts;
    if (ts - last_eviction_ts_ >= config_.ttl_s * 1000 / 8) {
      table_.evict_unseen(ts);
      last_eviction_ts_ = ts;
    }
  }
  prepare(samples, batch_);
  batch_.loss = forward_backward(batch_);
  record(samples, batch_);
  apply(batch_);
}

void Learner::prepare(const std::vector<Sample>& samples, Batch& b) {
  const int f1 = encoder_.single_fields(), d = table_.dim(), fields = encoder_.fields();
  const size_t n = samples.size();
  b.size = n;
  b.rows.resize(n * f1);
  b.bag_rows.clear();
  b.bag_offsets.assign(1, 0);
  keys_scratch_.resize(f1);
  b.x0.setZero(static_cast<Eigen::Index>(fields) * d, static_cast<Eigen::Index>(n));
  b.labels.resize(loss_.tasks().size(), static_cast<Eigen::Index>(n));
  for (size_t s = 0; s < n; ++s) {
    const Sample& sample = samples[s];
    bag_scratch_.clear();
    encoder_.encode(sample, catalog_, keys_scratch_.data(), bag_scratch_);
    float* col = b.x0.col(static_cast<Eigen::Index>(s)).data();
    for (int f = 0; f < f1; ++f) {
      uint32_t r = freeze_embeddings_ ? table_.find(keys_scratch_[f]) : table_.observe(keys_scratch_[f], sample.ts_ms);
      b.rows[s * f1 + f] = r;
      if (r != EmbeddingTable::kNoRow) std::copy_n(table_.row(r), d, col + f * d);
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
      float y = 0;
      switch (loss_.tasks().tasks[k].label) {
        case TaskLabel::kClick: y = sample.clicked; break;
        case TaskLabel::kPurchase: y = sample.clicked && sample.purchased; break;
        case TaskLabel::kValue: y = sample.purchased ? sample.value : 0.0f; break;
      }
      b.labels(k, static_cast<Eigen::Index>(s)) = y;
    }
  }
}

double Learner::forward_backward(Batch& b) {
  std::vector<Parameter*> params = dense_parameters();
  for (Parameter* p : params) p->grad.setZero();
  model_.forward(b.x0, b.acts);
  loss_.predict(b.acts.logits, b.predictions);
  double loss = loss_.forward_backward(b.acts.logits, b.labels, b.dlogits);
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
  const int f1 = encoder_.single_fields(), d = table_.dim();
  if (slot_of_row_.size() < table_.capacity_rows()) slot_of_row_.resize(table_.capacity_rows(), -1);
  auto grad_of = [&](uint32_t r) -> float* {
    if (slot_of_row_[r] < 0) {
      slot_of_row_[r] = static_cast<int32_t>(b.touched.size());
      b.touched.push_back(r);
      b.touched_grad.resize(b.touched_grad.size() + d, 0.0f);
    }
    return &b.touched_grad[static_cast<size_t>(slot_of_row_[r]) * d];
  };
  for (size_t s = 0; s < b.size; ++s) {
    const float* g = b.dx0.col(static_cast<Eigen::Index>(s)).data();
    for (int f = 0; f < f1; ++f) {
      uint32_t r = b.rows[s * f1 + f];
      if (r == EmbeddingTable::kNoRow) continue;
      Eigen::Map<Vec>(grad_of(r), d) += Eigen::Map<const Vec>(g + f * d, d);
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
    Eigen::Map<const Vec> w(table_.row(b.touched[i]), d);
    Eigen::Map<Vec>(&b.touched_grad[i * d], d) += (2 * l2) * w;
    loss += l2 * static_cast<double>(w.squaredNorm());
  }
  return loss;
}

void Learner::apply(Batch& b) {
  for (Parameter* p : dense_parameters()) optimizer_.step(*p);
  const int d = table_.dim();
  for (size_t i = 0; i < b.touched.size(); ++i) {
    uint32_t r = b.touched[i];
    optimizer_.step_row(table_.row(r), table_.state(r), &b.touched_grad[i * d], d);
  }
}

void Learner::score(Batch& b) {
  model_.forward(b.x0, b.acts);
  loss_.predict(b.acts.logits, b.predictions);
}

void Learner::record(const std::vector<Sample>& samples, const Batch& b) {
  const TaskSet& tasks = loss_.tasks();
  const int click = tasks.click_task;
  std::vector<ItemRateBaseline::Score> base(samples.size());
  for (size_t s = 0; s < samples.size(); ++s) base[s] = baseline_.score(samples[s].item_id);
  for (size_t s = 0; s < samples.size(); ++s) {
    const Sample& sample = samples[s];
    const auto c = static_cast<Eigen::Index>(s);
    for (int k = 0; k < tasks.size(); ++k) {
      float label = b.labels(k, c);
      if (tasks.tasks[k].kind == TaskKind::kRegression) label = std::log1p(std::max(0.0f, label));
      series(k).add(b.predictions(k, c), label);
    }
    Scores sc{click >= 0 ? b.predictions(click, c) : kNaN, kNaN, kNaN};
    if (esmm_task_ >= 0) {
      sc.p_ctcvr = b.predictions(esmm_task_, c);
      sc.p_cvr = sigmoid(b.acts.logits(esmm_task_, c));
      if (sample.clicked) series(cvr_series_).add(sc.p_cvr, sample.purchased ? 1.0f : 0.0f);
    }
    series(baseline_series_).add(base[s].click, sample.clicked ? 1.0f : 0.0f);
    series(baseline_series_ + 1).add(base[s].ctcvr, sample.clicked && sample.purchased ? 1.0f : 0.0f);
    baseline_.update(sample.item_id, sample.clicked, sample.purchased);
    if (sink_) sink_(sample, sc);
  }
  samples_learned_ += samples.size();
}

std::string Learner::fingerprint() const {
  Config c;
  c.learner = config_;
  std::string f;
  for (auto& [key, value] : describe(c))
    if (key.rfind("learner.", 0) == 0) f += key + "=" + value + "\n";
  return f;
}

void Learner::save(ByteWriter& out, uint64_t position) const {
  out.str(fingerprint());
  out.u64(position);
  out.u64(samples_learned_);
  out.i64(last_eviction_ts_);
  out.u8(freeze_embeddings_);
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
  baseline_.save(out);
  out.u64(series_.size());
  for (auto& [name, s] : series_) {
    out.str(name);
    s.save(out);
  }
  out.u64(queue_.size());
  for (const Sample& s : queue_) save_sample(out, s);
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
    if (!in.ok() || rows < 0 || cols < 0 || rows * cols > (int64_t{1} << 32)) {
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
  catalog_.load(in);
  if (!load_parameters(in, dense_parameters(), true)) return false;
  if (!table_.load(in) || !joiner_.load(in) || !baseline_.load(in)) return false;
  uint64_t n = in.u64();
  if (in.ok() && n != series_.size()) {
    in.fail("metric series differ");
    return false;
  }
  for (auto& [name, s] : series_) {
    if (in.str() != name && in.ok()) in.fail("metric series " + name + " missing");
    if (!s.load(in)) return false;
  }
  queue_.clear();
  n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) queue_.push_back(load_sample(in));
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

Status Learner::save_checkpoint(const std::string& path, uint64_t position) const {
  return write_checkpoint_file(path, checkpoint_bytes(position));
}

Result<uint64_t> Learner::restore_checkpoint(const std::string& path) {
  auto payload = read_checkpoint_file(path);
  if (!payload.ok()) return payload.error();
  ByteReader in(*payload);
  uint64_t position = 0;
  if (!load(in, position)) return Error{"checkpoint " + path + ": " + in.error()};
  return position;
}

Status Learner::init_from(const std::string& path, Freeze freeze) {
  auto payload = read_checkpoint_file(path);
  if (!payload.ok()) return payload.error();
  ByteReader in(*payload);
  in.str();  // settings of the source model: only shapes must agree
  in.u64();
  in.u64();
  in.i64();
  in.u8();
  Catalog ignored;
  ignored.load(in);
  if (!load_parameters(in, model_.parameters(), false) || !table_.load(in))
    return Error{"--init-from " + path + ": " + in.error()};
  slot_of_row_.assign(table_.capacity_rows(), -1);
  batch_.touched.clear();
  freeze_embeddings_ = freeze != Freeze::kNone;
  if (freeze == Freeze::kShared)
    for (Parameter* p : model_.parameters())
      if (p->group == ParamGroup::kShared) p->frozen = true;
  return {};
}

}  // namespace streamrec::learner
