// The dense building blocks of the model, each with forward and backward
// passes over a mini-batch (one column per sample).
//
// Backward passes accumulate (+=) into Parameter::grad and, when asked, write
// the gradient with respect to the input. Layers own their parameters; they
// hold no per-batch state, so the caller keeps the activations it needs.
// Not thread-safe.
#pragma once

#include <string>

#include "online_learner/parameter.h"

namespace streamrec::learner {

// y = W x + b.
class Dense {
 public:
  Dense() = default;
  Dense(const std::string& name, ParamGroup group, int in, int out, SplitMix& rng);

  int in() const { return static_cast<int>(w.value.cols()); }
  int out() const { return static_cast<int>(w.value.rows()); }

  void forward(const Mat& x, Mat& y) const;
  // dx may be null when the input needs no gradient.
  void backward(const Mat& x, const Mat& dy, Mat* dx);

  Parameter w;  // out x in
  Parameter b;  // out x 1
};

// In place y = max(x, 0); backward masks dy where y <= 0.
void relu_forward(Mat& x);
void relu_backward(const Mat& y, Mat& dy);

// Column-wise softmax in place; backward maps dL/dp to dL/dz given p.
void softmax_forward(Mat& x);
void softmax_backward(const Mat& p, const Mat& dp, Mat& dz);

// The logistic function, clamped away from 0 and 1 so logs stay finite.
float sigmoid(float x);

}  // namespace streamrec::learner
