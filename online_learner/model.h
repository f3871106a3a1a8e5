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
//
// forward_varying() scores many columns that differ in a few fields only
// (one user, many items). Everything that reads [x0; dots] (experts, gates,
// dot head) is linear in it, so the first layer's product splits in three:
//   - the rows of the varying fields and of the dots among them depend on
//     the varying fields alone: varying_part() multiplies them once per set
//     of columns (51 of the 156 rows for the learner's default item side),
//     and many fixed columns (users) reuse it;
//   - the rows of the fixed fields and of their dots give one vector for all
//     columns, computed once per call;
//   - per column, only the dots of a fixed and a varying field remain
//     (15 rows for the learner's default sides).
#pragma once

#include <span>
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
    Mat dot_logits;                // the dot head's output (dot_head)
    // The layers that read all of z (experts, gates) as one: their weights
    // and biases stacked (experts first, then gates) and their outputs
    // before activation, one GEMM for all (and one per gradient in
    // backward) instead of one per layer.
    Mat stacked_w;
    Vec stacked_b;
    Mat stacked_out;
    Mat tower_out;                 // scratch: one tower's output
    Mat logits;                    // tasks x batch

    // forward_varying's, kept for the next call to reuse: the fixed fields
    // (when there are dots), the fixed column's [x0; dots], the first
    // layer's weights (all its layers stacked) on the dots of a varying and
    // a fixed field, its fixed part, the fixed fields' values, the varying
    // values of the columns scored, those dots per column, and the stacked
    // layers' outputs.
    std::vector<int> fixed_fields;
    Vec z_fixed;
    Mat w_mixed_dots;
    Vec first_fixed;
    Mat e_fixed, x_columns, mixed_dots, first;
  };

  Model(const ModelShape& shape, uint64_t seed);

  const ModelShape& shape() const { return shape_; }
  int input_dim() const { return shape_.fields * shape_.dim; }

  void forward(const Mat& x0, Activations& a) const;
  // The part of the first layer's product (all its layers stacked) that
  // depends on the fields `varying` alone, per column of `x_varying`
  // (varying.size() * dim rows: field varying[s] at rows [s*dim, (s+1)*dim)).
  void varying_part(std::span<const int> varying, const Mat& x_varying, Mat& part) const;
  // forward() of columns that equal `fixed` (one x0 column) except in the
  // fields `varying`, whose values are the columns `columns` of `x_varying`
  // (logit column c: x_varying's column columns[c]), with `part` the
  // varying_part() of x_varying by this model; fixed's values in those
  // fields are ignored. The logits equal forward()'s up to float rounding
  // (the sums are associated differently); `a` is not for backward().
  void forward_varying(const Vec& fixed, std::span<const int> varying, const Mat& x_varying, const Mat& part,
                       std::span<const size_t> columns, Activations& a) const;
  // Accumulates parameter gradients; writes dL/dx0 when dx0 is not null.
  void backward(const Mat& x0, const Activations& a, const Mat& dlogits, Mat* dx0);

  // Every parameter, in a fixed order (checkpoints rely on it).
  std::vector<Parameter*> parameters();
  std::vector<const Parameter*> parameters() const;
  size_t parameter_count() const;

 private:
  // From the first layer's outputs (experts and gates before their
  // activations, the dot head's logits) to the logits.
  void forward_above_first_layer(Activations& a) const;
  // The layers that read [x0; dots], each with the first row it reads (the
  // dot head reads the dots only), in the order of Activations::first.
  template <class F>
  void for_each_first_layer(F&& f) const;
  // Their outputs, all together.
  Eigen::Index first_layer_outputs() const;
  // The experts and gates (the layers reading all of [x0; dots]), each
  // with its first row in the stack of Activations::stacked_w.
  template <class F>
  void for_each_stacked_layer(F&& f) const;

  ModelShape shape_;
  DotInteraction interaction_;
  std::vector<Dense> experts_;
  std::vector<Dense> gates_;
  std::vector<Dense> tower1_;
  std::vector<Dense> tower2_;
  std::vector<Dense> dot_head_;  // empty or one layer
};

}  // namespace streamrec::learner
