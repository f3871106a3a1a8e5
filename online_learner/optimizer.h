// Optimizers: mini-batch SGD (optional momentum) and Adagrad, with one
// learning rate per parameter group (dense layers vs embedding rows).
//
// Dense parameters are updated whole; embedding rows are updated only where a
// mini-batch touched them, with per-row state kept in the EmbeddingTable.
// Gradients arrive complete (L2 included). Frozen parameters are skipped.
// Stateless apart from its settings; not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "online_learner/embedding_table.h"
#include "online_learner/parameter.h"

namespace streamrec::learner {

enum class OptimizerKind : uint8_t { kSgd, kAdagrad };

struct OptimizerSettings {
  OptimizerKind kind = OptimizerKind::kAdagrad;
  float lr_dense = 0.01f;
  float lr_embedding = 0.2f;
  float lr_intercept = 0.3f;  // ParamGroup::kIntercept
  float momentum = 0;
  // Adagrad: the squared-gradient sum starts here. Small values make the
  // first steps of a rarely seen row about lr in size; TensorFlow's 0.1
  // assumes summed, not batch-averaged, losses and froze rare rows here.
  float adagrad_initial = 1e-5f;
};

class Optimizer {
 public:
  explicit Optimizer(const OptimizerSettings& s) : s_(s) {}

  void step(Parameter& p) const;
  // Updates one embedding row (dim floats) from its gradient.
  void step_row(float* w, float* state, const float* grad, int dim) const;

  const OptimizerSettings& settings() const { return s_; }

 private:
  OptimizerSettings s_;
};

}  // namespace streamrec::learner
