#include "online_learner/model.h"

#include <algorithm>

namespace streamrec::learner {
namespace {

// Column z_row of [x0; dots] in the weights of a layer that reads those rows
// from first_row on, into `to`: zeros when the layer does not read it.
template <class Column>
void copy_weight_column(const Dense& layer, int first_row, int z_row, Column&& to) {
  if (z_row >= first_row && z_row < first_row + layer.in())
    to = layer.w.value.col(z_row - first_row);
  else
    to.setZero();
}

}  // namespace

Model::Model(const ModelShape& shape, uint64_t seed) : shape_(shape), interaction_(shape.fields, shape.dim) {
  SplitMix rng(seed ^ 0x6d6f64656cULL);
  int in = input_dim() + (shape.interactions ? interaction_.pairs() : 0);
  int n_experts = shape.architecture == Architecture::kMmoe     ? shape.experts
                  : shape.architecture == Architecture::kShared ? 1
                                                                : shape.tasks;
  for (int e = 0; e < n_experts; ++e)
    experts_.emplace_back("expert" + std::to_string(e), ParamGroup::kShared, in, shape.expert_hidden, rng);
  if (shape.architecture == Architecture::kMmoe)
    for (int k = 0; k < shape.tasks; ++k)
      gates_.emplace_back("gate" + std::to_string(k), ParamGroup::kShared, in, shape.experts, rng);
  for (int k = 0; k < shape.tasks; ++k) {
    tower1_.emplace_back("tower" + std::to_string(k) + ".1", ParamGroup::kTower, shape.expert_hidden,
                         shape.tower_hidden, rng);
    tower2_.emplace_back("tower" + std::to_string(k) + ".2", ParamGroup::kTower, shape.tower_hidden, 1, rng);
    tower2_.back().b.group = ParamGroup::kIntercept;
  }
  if (shape.dot_head && shape.interactions) {
    dot_head_.emplace_back("dot_head", ParamGroup::kTower, interaction_.pairs(), shape.tasks, rng);
    dot_head_[0].w.value.setZero();
  }
}

template <class F>
void Model::for_each_first_layer(F&& f) const {
  for (const Dense& e : experts_) f(e, 0);
  for (const Dense& g : gates_) f(g, 0);
  for (const Dense& h : dot_head_) f(h, input_dim());
}

template <class F>
void Model::for_each_stacked_layer(F&& f) const {
  Eigen::Index row = 0;
  for (const Dense& e : experts_) {
    f(e, row);
    row += e.out();
  }
  for (const Dense& g : gates_) {
    f(g, row);
    row += g.out();
  }
}

void Model::forward(const Mat& x0, Activations& a) const {
  const Eigen::Index batch = x0.cols();
  if (shape_.interactions) {
    Mat dots;
    interaction_.forward(x0, dots);
    a.z.resize(x0.rows() + dots.rows(), batch);
    a.z.topRows(x0.rows()) = x0;
    a.z.bottomRows(dots.rows()) = dots;
  } else {
    a.z = x0;
  }
  // Experts and gates read the same z: one product for all of them. The
  // stacked weights are copied per call (a small fraction of the product).
  Eigen::Index stacked = 0;
  for_each_stacked_layer([&](const Dense& layer, Eigen::Index) { stacked += layer.out(); });
  a.stacked_w.resize(stacked, a.z.rows());
  a.stacked_b.resize(stacked);
  for_each_stacked_layer([&](const Dense& layer, Eigen::Index row) {
    a.stacked_w.middleRows(row, layer.out()) = layer.w.value;
    a.stacked_b.segment(row, layer.out()) = layer.b.value.col(0);
  });
  a.stacked_out.noalias() = a.stacked_w * a.z;
  a.stacked_out.colwise() += a.stacked_b;
  a.expert_out.resize(experts_.size());
  for (size_t e = 0; e < experts_.size(); ++e)
    a.expert_out[e] = a.stacked_out.middleRows(static_cast<Eigen::Index>(e) * shape_.expert_hidden, shape_.expert_hidden);
  a.gates.resize(gates_.size());
  const Eigen::Index gates_row = static_cast<Eigen::Index>(experts_.size()) * shape_.expert_hidden;
  for (size_t k = 0; k < gates_.size(); ++k)
    a.gates[k] = a.stacked_out.middleRows(gates_row + static_cast<Eigen::Index>(k) * gates_[k].out(), gates_[k].out());
  if (!dot_head_.empty()) {
    Mat dots = a.z.bottomRows(interaction_.pairs());
    dot_head_[0].forward(dots, a.dot_logits);
  }
  forward_above_first_layer(a);
}

void Model::varying_part(std::span<const int> varying, const Mat& x_varying, Mat& part) const {
  const int d = shape_.dim, x0_rows = input_dim();
  const auto nv = static_cast<int>(varying.size());
  const Eigen::Index n = x_varying.cols();

  // The rows that depend on the varying fields alone: their values, then
  // the dots of two of them.
  std::vector<int> varying_dots;
  if (shape_.interactions)
    for (int s = 0; s < nv; ++s)
      for (int t = s + 1; t < nv; ++t)
        varying_dots.push_back(x0_rows + interaction_.pair_row(std::min(varying[s], varying[t]),
                                                               std::max(varying[s], varying[t])));
  const Eigen::Index rows = nv * d + static_cast<Eigen::Index>(varying_dots.size());
  Mat z(rows, n);
  z.topRows(nv * d) = x_varying;
  for (Eigen::Index c = 0; c < n; ++c) {
    auto field = [&](int s) { return Eigen::Map<const Vec>(x_varying.col(c).data() + s * d, d); };
    Eigen::Index r = nv * d;
    for (int s = 0; s < nv && shape_.interactions; ++s)
      for (int t = s + 1; t < nv; ++t) z(r++, c) = field(s).dot(field(t));
  }

  // The first layer's weights on those rows, all its layers stacked, for
  // one product.
  Mat w(first_layer_outputs(), rows);
  Eigen::Index o = 0;
  for_each_first_layer([&](const Dense& layer, int first_row) {
    auto block = w.middleRows(o, layer.out());
    for (int s = 0; s < nv; ++s)
      for (int i = 0; i < d; ++i) copy_weight_column(layer, first_row, varying[s] * d + i, block.col(s * d + i));
    for (size_t q = 0; q < varying_dots.size(); ++q)
      copy_weight_column(layer, first_row, varying_dots[q], block.col(nv * d + static_cast<Eigen::Index>(q)));
    o += layer.out();
  });
  part.noalias() = w * z;
}

void Model::forward_varying(const Vec& fixed, std::span<const int> varying, const Mat& x_varying, const Mat& part,
                            std::span<const size_t> columns, Activations& a) const {
  const int d = shape_.dim, x0_rows = input_dim();
  const int z_rows = x0_rows + (shape_.interactions ? interaction_.pairs() : 0);
  const auto nv = static_cast<int>(varying.size());
  const auto n = static_cast<Eigen::Index>(columns.size());

  // The fixed column's [x0; dots] with zeros in the varying fields, so in
  // every row that varies: the first layer's products with it are the part
  // all columns share.
  a.z_fixed.resize(z_rows);
  a.z_fixed.head(x0_rows) = fixed;
  for (int v : varying) a.z_fixed.segment(v * d, d).setZero();
  if (shape_.interactions) interaction_.forward_column(a.z_fixed.data(), a.z_fixed.data() + x0_rows);

  // The dots of a fixed and a varying field: nv * nf rows per column (row
  // s*nf + j: varying[s] with fixed_fields[j]), and the first layer's
  // weights on them.
  a.fixed_fields.clear();
  if (shape_.interactions)
    for (int f = 0; f < shape_.fields; ++f)
      if (std::find(varying.begin(), varying.end(), f) == varying.end()) a.fixed_fields.push_back(f);
  const auto nf = static_cast<Eigen::Index>(a.fixed_fields.size());
  a.w_mixed_dots.resize(first_layer_outputs(), nv * nf);
  a.first_fixed.resize(first_layer_outputs());
  Eigen::Index o = 0;
  for_each_first_layer([&](const Dense& layer, int first_row) {
    for (int s = 0; s < nv; ++s)
      for (Eigen::Index j = 0; j < nf; ++j) {
        int f = a.fixed_fields[static_cast<size_t>(j)];
        int row = x0_rows + interaction_.pair_row(std::min(varying[s], f), std::max(varying[s], f));
        copy_weight_column(layer, first_row, row, a.w_mixed_dots.col(s * nf + j).segment(o, layer.out()));
      }
    a.first_fixed.segment(o, layer.out()).noalias() = layer.w.value * a.z_fixed.segment(first_row, layer.in());
    a.first_fixed.segment(o, layer.out()) += layer.b.value.col(0);
    o += layer.out();
  });

  // The columns scored, gathered once: their part of the product, and
  // (for the mixed dots) their varying values.
  const bool mixed = nf > 0 && nv > 0 && n > 0;
  a.first.resize(part.rows(), n);
  if (mixed) a.x_columns.resize(x_varying.rows(), n);
  for (Eigen::Index c = 0; c < n; ++c) {
    const auto from = static_cast<Eigen::Index>(columns[static_cast<size_t>(c)]);
    a.first.col(c) = part.col(from);
    if (mixed) a.x_columns.col(c) = x_varying.col(from);
  }
  if (mixed) {
    a.e_fixed.resize(d, nf);
    for (Eigen::Index j = 0; j < nf; ++j)
      a.e_fixed.col(j) = a.z_fixed.segment(a.fixed_fields[static_cast<size_t>(j)] * d, d);
    a.mixed_dots.resize(nv * nf, n);
    for (int s = 0; s < nv; ++s)
      a.mixed_dots.middleRows(s * nf, nf).noalias() = a.e_fixed.transpose() * a.x_columns.middleRows(s * d, d);
    a.first.noalias() += a.w_mixed_dots * a.mixed_dots;
  }

  // Each layer's output (in for_each_first_layer's order): its rows of the
  // product plus its fixed part.
  a.expert_out.resize(experts_.size());
  a.gates.resize(gates_.size());
  o = 0;
  auto take = [&](const Dense& layer, Mat& out) {
    out = a.first.middleRows(o, layer.out()).colwise() + a.first_fixed.segment(o, layer.out());
    o += layer.out();
  };
  for (size_t e = 0; e < experts_.size(); ++e) take(experts_[e], a.expert_out[e]);
  for (size_t k = 0; k < gates_.size(); ++k) take(gates_[k], a.gates[k]);
  if (!dot_head_.empty()) take(dot_head_[0], a.dot_logits);
  forward_above_first_layer(a);
}

Eigen::Index Model::first_layer_outputs() const {
  Eigen::Index outs = 0;
  for_each_first_layer([&](const Dense& layer, int) { outs += layer.out(); });
  return outs;
}

void Model::forward_above_first_layer(Activations& a) const {
  const Eigen::Index batch = a.expert_out[0].cols();
  for (Mat& e : a.expert_out) relu_forward(e);
  const int tasks = shape_.tasks;
  a.mixed.resize(tasks);
  for (int k = 0; k < tasks; ++k) {
    switch (shape_.architecture) {
      case Architecture::kMmoe: {
        softmax_forward(a.gates[k]);
        a.mixed[k] = a.expert_out[0].array().rowwise() * a.gates[k].row(0).array();
        for (size_t e = 1; e < experts_.size(); ++e)
          a.mixed[k].array() += a.expert_out[e].array().rowwise() * a.gates[k].row(e).array();
        break;
      }
      case Architecture::kShared: a.mixed[k] = a.expert_out[0]; break;
      case Architecture::kSingle: a.mixed[k] = a.expert_out[k]; break;
    }
  }
  a.tower_hidden.resize(tasks);
  a.logits.resize(tasks, batch);
  for (int k = 0; k < tasks; ++k) {
    tower1_[k].forward(a.mixed[k], a.tower_hidden[k]);
    relu_forward(a.tower_hidden[k]);
    tower2_[k].forward(a.tower_hidden[k], a.tower_out);
    a.logits.row(k) = a.tower_out.row(0);
  }
  if (!dot_head_.empty()) a.logits += a.dot_logits;
}

void Model::backward(const Mat& x0, const Activations& a, const Mat& dlogits, Mat* dx0) {
  const Eigen::Index batch = x0.cols();
  const Eigen::Index hidden = shape_.expert_hidden;
  const Eigen::Index gates_row = static_cast<Eigen::Index>(experts_.size()) * hidden;
  // dL/d(stacked_out): the experts' rows (summed over the tasks' mixtures),
  // then the gates' rows; one product each for the weights' and the input's
  // gradients.
  Mat dstacked = Mat::Zero(a.stacked_out.rows(), batch);
  auto dexpert = [&](size_t e) { return dstacked.middleRows(static_cast<Eigen::Index>(e) * hidden, hidden); };
  Mat dz = Mat::Zero(a.z.rows(), batch);
  Mat dh, dmixed, dpart, dgz;
  if (!dot_head_.empty()) {
    Mat dots = a.z.bottomRows(interaction_.pairs());
    dot_head_[0].backward(dots, dlogits, &dpart);
    dz.bottomRows(interaction_.pairs()) += dpart;
  }
  for (int k = 0; k < shape_.tasks; ++k) {
    tower2_[k].backward(a.tower_hidden[k], dlogits.row(k), &dh);
    relu_backward(a.tower_hidden[k], dh);
    tower1_[k].backward(a.mixed[k], dh, &dmixed);
    switch (shape_.architecture) {
      case Architecture::kMmoe: {
        Mat dgate(experts_.size(), batch);
        for (size_t e = 0; e < experts_.size(); ++e) {
          dexpert(e).array() += dmixed.array().rowwise() * a.gates[k].row(static_cast<Eigen::Index>(e)).array();
          dgate.row(static_cast<Eigen::Index>(e)) = (dmixed.array() * a.expert_out[e].array()).colwise().sum();
        }
        softmax_backward(a.gates[k], dgate, dgz);
        dstacked.middleRows(gates_row + k * gates_[k].out(), gates_[k].out()) = dgz;
        break;
      }
      case Architecture::kShared: dexpert(0) += dmixed; break;
      case Architecture::kSingle: dexpert(static_cast<size_t>(k)) += dmixed; break;
    }
  }
  for (size_t e = 0; e < experts_.size(); ++e) {
    auto d = dexpert(e);
    d = (a.expert_out[e].array() > 0.0f).select(d, 0.0f);  // ReLU
  }
  Mat dw;
  dw.noalias() = dstacked * a.z.transpose();
  Vec db = dstacked.rowwise().sum();
  auto scatter = [&](Dense& layer, Eigen::Index row) {
    layer.w.grad += dw.middleRows(row, layer.out());
    layer.b.grad.col(0) += db.segment(row, layer.out());
  };
  for (size_t e = 0; e < experts_.size(); ++e) scatter(experts_[e], static_cast<Eigen::Index>(e) * hidden);
  for (size_t k = 0; k < gates_.size(); ++k) scatter(gates_[k], gates_row + static_cast<Eigen::Index>(k) * gates_[k].out());
  if (!dx0) return;
  dz.noalias() += a.stacked_w.transpose() * dstacked;
  *dx0 = dz.topRows(x0.rows());
  if (shape_.interactions) interaction_.backward(x0, dz.bottomRows(dz.rows() - x0.rows()), *dx0);
}

std::vector<Parameter*> Model::parameters() {
  std::vector<Parameter*> out;
  auto add = [&](std::vector<Dense>& layers) {
    for (Dense& d : layers) {
      out.push_back(&d.w);
      out.push_back(&d.b);
    }
  };
  add(experts_);
  add(gates_);
  add(tower1_);
  add(tower2_);
  add(dot_head_);
  return out;
}

std::vector<const Parameter*> Model::parameters() const {
  std::vector<Parameter*> all = const_cast<Model*>(this)->parameters();  // the same order; read only
  return {all.begin(), all.end()};
}

size_t Model::parameter_count() const {
  size_t n = 0;
  for (const Parameter* p : parameters()) n += p->value.size();
  return n;
}

}  // namespace streamrec::learner
