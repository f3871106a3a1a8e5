// The dense part of the multi-task model: field embeddings in, one logit per
// task out.
//
//   x0 (fields*dim) ─┬─────────────── concat ─► z ─► bottom ─► tower_k ─► logit_k
//                    └─ pairwise dots ─┘
//
// With dot_head, a linear layer (zero-initialized) also maps the dot
// products straight to each logit, next to the MLP path.
// Bottoms: mmoe (E experts, one softmax gate per task mixes them), shared
// (one expert for all tasks), single (one expert per task: separate models
// over shared embeddings). Experts: Dense+ReLU. Towers: Dense+ReLU, Dense.
// The Model owns its parameters; Activations hold one mini-batch's
// intermediate values between forward and backward. Not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "online_learner/interaction.h"
#include "online_learner/layers.h"

namespace streamrec::learner {

enum class Architecture : uint8_t { kMmoe, kShared, kSingle };

struct ModelShape {
  int fields = 1;
  int dim = 8;
  bool interactions = true;
  Architecture architecture = Architecture::kMmoe;
  int experts = 4;        // used by mmoe
  int expert_hidden = 64;
  int tower_hidden = 32;
  int tasks = 1;
  bool dot_head = false;  // also a linear map from the dot products straight to the logits
};

class Model {
 public:
  struct Activations {
    Mat z;                         // [x0; dots]
    std::vector<Mat> expert_out;   // after ReLU
    std::vector<Mat> gates;        // softmax, per task (mmoe)
    std::vector<Mat> mixed;        // the input of each tower
    std::vector<Mat> tower_hidden; // after ReLU
    Mat logits;                    // tasks x batch
  };

  Model(const ModelShape& shape, uint64_t seed);

  const ModelShape& shape() const { return shape_; }
  int input_dim() const { return shape_.fields * shape_.dim; }

  void forward(const Mat& x0, Activations& a) const;
  // Accumulates parameter gradients; writes dL/dx0 when dx0 is not null.
  void backward(const Mat& x0, const Activations& a, const Mat& dlogits, Mat* dx0);

  // Every parameter, in a fixed order (checkpoints rely on it).
  std::vector<Parameter*> parameters();
  size_t parameter_count();

 private:
  ModelShape shape_;
  DotInteraction interaction_;
  std::vector<Dense> experts_;
  std::vector<Dense> gates_;
  std::vector<Dense> tower1_;
  std::vector<Dense> tower2_;
  std::vector<Dense> dot_head_;  // empty or one layer
};

}  // namespace streamrec::learner
