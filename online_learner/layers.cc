#include "online_learner/layers.h"

#include <algorithm>
#include <cmath>

namespace streamrec::learner {

Dense::Dense(const std::string& name, ParamGroup group, int in, int out, SplitMix& rng)
    : w(name + ".w", group, out, in), b(name + ".b", group, out, 1) {
  glorot(w.value, rng);
}

void Dense::forward(const Mat& x, Mat& y) const {
  y.noalias() = w.value * x;
  y.colwise() += b.value.col(0);
}

void Dense::backward(const Mat& x, const Mat& dy, Mat* dx) {
  w.grad.noalias() += dy * x.transpose();
  b.grad.col(0) += dy.rowwise().sum();
  if (dx) dx->noalias() = w.value.transpose() * dy;
}

void relu_forward(Mat& x) { x = x.cwiseMax(0.0f); }

void relu_backward(const Mat& y, Mat& dy) { dy = (y.array() > 0.0f).select(dy, 0.0f); }

void softmax_forward(Mat& x) {
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    auto c = x.col(j);
    float m = c.maxCoeff();
    c = (c.array() - m).exp();
    c /= c.sum();
  }
}

void softmax_backward(const Mat& p, const Mat& dp, Mat& dz) {
  RowVec dot = (p.array() * dp.array()).colwise().sum();
  dz = p.array() * (dp.array().rowwise() - dot.array());
}

float sigmoid(float x) {
  float s = 1.0f / (1.0f + std::exp(-x));
  return std::clamp(s, 1e-7f, 1.0f - 1e-7f);
}

}  // namespace streamrec::learner
