#include "online_learner/model.h"

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
  for (size_t e = 0; e < experts_.size(); ++e) {
    experts_[e].forward(a.z, a.expert_out[e]);
    relu_forward(a.expert_out[e]);
  }
  const int tasks = shape_.tasks;
  a.gates.resize(gates_.size());
  a.mixed.resize(tasks);
  for (int k = 0; k < tasks; ++k) {
    switch (shape_.architecture) {
      case Architecture::kMmoe: {
        gates_[k].forward(a.z, a.gates[k]);
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
  Mat out;
  for (int k = 0; k < tasks; ++k) {
    tower1_[k].forward(a.mixed[k], a.tower_hidden[k]);
    relu_forward(a.tower_hidden[k]);
    tower2_[k].forward(a.tower_hidden[k], out);
    a.logits.row(k) = out.row(0);
  }
  if (!dot_head_.empty()) {
    Mat dots = a.z.bottomRows(interaction_.pairs());
    dot_head_[0].forward(dots, out);
    a.logits += out;
  }
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
