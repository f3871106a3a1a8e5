#include "online_learner/model.h"

#include <algorithm>

namespace streamrec::learner {

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
  a.expert_out.resize(experts_.size());
  for (size_t e = 0; e < experts_.size(); ++e) experts_[e].forward(a.z, a.expert_out[e]);
  a.gates.resize(gates_.size());
  for (size_t k = 0; k < gates_.size(); ++k) gates_[k].forward(a.z, a.gates[k]);
  if (!dot_head_.empty()) {
    Mat dots = a.z.bottomRows(interaction_.pairs());
    dot_head_[0].forward(dots, a.dot_logits);
  }
  forward_above_first_layer(a);
}

void Model::forward_varying(const Vec& fixed, std::span<const int> varying, const Mat& x_varying,
                            Activations& a) const {
  const int d = shape_.dim, x0_rows = input_dim();
  const int z_rows = x0_rows + (shape_.interactions ? interaction_.pairs() : 0);
  const auto nv = static_cast<int>(varying.size());
  const Eigen::Index n = x_varying.cols();

  // The fixed column's [x0; dots] with zeros in the varying fields, so in
  // every row that varies: the first layer's products with it are the part
  // all columns share.
  a.z_fixed.resize(z_rows);
  a.z_fixed.head(x0_rows) = fixed;
  for (int v : varying) a.z_fixed.segment(v * d, d).setZero();
  if (shape_.interactions) interaction_.forward_column(a.z_fixed.data(), a.z_fixed.data() + x0_rows);

  // The rows that vary per column: the varying fields' values, then the
  // dots of two varying fields. The dot of a fixed field f and a varying
  // field v needs no row: it is linear in v, so its weight column w joins
  // v's weights as w e_fᵀ.
  auto dot_row = [&](int i, int j) { return x0_rows + interaction_.pair_row(std::min(i, j), std::max(i, j)); };
  a.fixed_fields.clear();
  a.varying_dots.clear();
  if (shape_.interactions) {
    for (int f = 0; f < shape_.fields; ++f)
      if (std::find(varying.begin(), varying.end(), f) == varying.end()) a.fixed_fields.push_back(f);
    for (int s = 0; s < nv; ++s)
      for (int t = s + 1; t < nv; ++t) a.varying_dots.push_back(dot_row(varying[s], varying[t]));
  }
  const auto nf = static_cast<Eigen::Index>(a.fixed_fields.size());
  const Eigen::Index rows = nv * d + static_cast<Eigen::Index>(a.varying_dots.size());

  // The first layer's weights on those rows and its fixed part, all its
  // layers stacked, for one product per call.
  Eigen::Index outs = 0;
  for_each_first_layer([&](const Dense& layer, int) { outs += layer.out(); });
  a.w_varying.resize(outs, rows);
  a.w_mixed_dots.resize(outs, nv * nf);  // column s*nf + j: the dot of varying[s] and fixed_fields[j]
  a.first_fixed.resize(outs);
  Eigen::Index o = 0;
  for_each_first_layer([&](const Dense& layer, int first_row) {
    const Mat& w = layer.w.value;
    // Column z_row of [x0; dots] in this layer's weights, zeros where it reads none.
    auto copy_column = [&](int z_row, auto&& to) {
      if (z_row >= first_row && z_row < first_row + layer.in())
        to = w.col(z_row - first_row);
      else
        to.setZero();
    };
    auto block = a.w_varying.middleRows(o, layer.out());
    for (int s = 0; s < nv; ++s)
      for (int i = 0; i < d; ++i) copy_column(varying[s] * d + i, block.col(s * d + i));
    for (size_t q = 0; q < a.varying_dots.size(); ++q)
      copy_column(a.varying_dots[q], block.col(nv * d + static_cast<Eigen::Index>(q)));
    for (int s = 0; s < nv; ++s)
      for (Eigen::Index j = 0; j < nf; ++j)
        copy_column(dot_row(varying[s], a.fixed_fields[static_cast<size_t>(j)]),
                    a.w_mixed_dots.col(s * nf + j).segment(o, layer.out()));
    a.first_fixed.segment(o, layer.out()).noalias() = w * a.z_fixed.segment(first_row, layer.in());
    a.first_fixed.segment(o, layer.out()) += layer.b.value.col(0);
    o += layer.out();
  });
  if (nf > 0) {
    a.e_fixed.resize(d, nf);
    for (Eigen::Index j = 0; j < nf; ++j)
      a.e_fixed.col(j) = a.z_fixed.segment(a.fixed_fields[static_cast<size_t>(j)] * d, d);
    for (int s = 0; s < nv; ++s)
      a.w_varying.middleCols(s * d, d).noalias() += a.w_mixed_dots.middleCols(s * nf, nf) * a.e_fixed.transpose();
  }

  // Per column, the varying rows only.
  a.z_varying.resize(rows, n);
  a.z_varying.topRows(nv * d) = x_varying;
  if (shape_.interactions)
    for (Eigen::Index c = 0; c < n; ++c) {
      auto field = [&](int s) { return Eigen::Map<const Vec>(x_varying.col(c).data() + s * d, d); };
      Eigen::Index r = nv * d;
      for (int s = 0; s < nv; ++s)
        for (int t = s + 1; t < nv; ++t) a.z_varying(r++, c) = field(s).dot(field(t));
    }
  a.first.noalias() = a.w_varying * a.z_varying;

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
  std::vector<Mat> dexpert(experts_.size());
  for (auto& d : dexpert) d = Mat::Zero(shape_.expert_hidden, batch);
  Mat dz = Mat::Zero(a.z.rows(), batch);
  Mat dh, dmixed, dpart;
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
          dexpert[e].array() += dmixed.array().rowwise() * a.gates[k].row(e).array();
          dgate.row(e) = (dmixed.array() * a.expert_out[e].array()).colwise().sum();
        }
        Mat dgz;
        softmax_backward(a.gates[k], dgate, dgz);
        gates_[k].backward(a.z, dgz, &dpart);
        dz += dpart;
        break;
      }
      case Architecture::kShared: dexpert[0] += dmixed; break;
      case Architecture::kSingle: dexpert[k] += dmixed; break;
    }
  }
  for (size_t e = 0; e < experts_.size(); ++e) {
    relu_backward(a.expert_out[e], dexpert[e]);
    experts_[e].backward(a.z, dexpert[e], dx0 ? &dpart : nullptr);
    if (dx0) dz += dpart;
  }
  if (!dx0) return;
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

size_t Model::parameter_count() {
  size_t n = 0;
  for (Parameter* p : parameters()) n += p->value.size();
  return n;
}

}  // namespace streamrec::learner
