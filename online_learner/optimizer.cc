#include "online_learner/optimizer.h"

#include <cmath>

namespace streamrec::learner {

void Optimizer::step(Parameter& p) const {
  if (p.frozen) return;
  const float lr = p.group == ParamGroup::kIntercept ? s_.lr_intercept : s_.lr_dense;
  if (s_.kind == OptimizerKind::kAdagrad) {
    p.state.array() += p.grad.array().square();
    p.value.array() -= lr * p.grad.array() / (p.state.array() + s_.adagrad_initial).sqrt();
  } else if (s_.momentum > 0) {
    p.state = s_.momentum * p.state + p.grad;
    p.value -= lr * p.state;
  } else {
    p.value -= lr * p.grad;
  }
}

void Optimizer::step_row(float* w, float* state, const float* grad, int dim) const {
  const float lr = s_.lr_embedding;
  if (s_.kind == OptimizerKind::kAdagrad) {
    for (int i = 0; i < dim; ++i) {
      state[i] += grad[i] * grad[i];
      w[i] -= lr * grad[i] / std::sqrt(state[i] + s_.adagrad_initial);
    }
  } else if (s_.momentum > 0) {
    for (int i = 0; i < dim; ++i) {
      state[i] = s_.momentum * state[i] + grad[i];
      w[i] -= lr * state[i];
    }
  } else {
    for (int i = 0; i < dim; ++i) w[i] -= lr * grad[i];
  }
}

}  // namespace streamrec::learner
