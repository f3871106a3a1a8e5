// DLRM-style feature interaction: the pairwise dot products of the field
// embeddings, <e_i, e_j> for i < j, in row-major pair order.
//
// Input: fields * dim rows (field f occupies rows [f*dim, (f+1)*dim)), one
// column per sample. Output: fields*(fields-1)/2 rows. No parameters; not
// thread-safe only in that the output matrices belong to the caller.
#pragma once

#include "online_learner/parameter.h"

namespace streamrec::learner {

class DotInteraction {
 public:
  DotInteraction(int fields, int dim) : fields_(fields), dim_(dim) {}

  int pairs() const { return fields_ * (fields_ - 1) / 2; }
  void forward(const Mat& e, Mat& out) const;
  // forward() of one column: e has fields * dim floats, out pairs().
  void forward_column(const float* e, float* out) const;
  // Accumulates (+=) dL/de into de, given dL/dout.
  void backward(const Mat& e, const Mat& dout, Mat& de) const;

  // The output row of the pair (i, j), i < j.
  int pair_row(int i, int j) const { return i * fields_ - i * (i + 1) / 2 + (j - i - 1); }

 private:
  int fields_;
  int dim_;
};

}  // namespace streamrec::learner
