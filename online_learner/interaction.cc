#include "online_learner/interaction.h"

namespace streamrec::learner {

void DotInteraction::forward(const Mat& e, Mat& out) const {
  const Eigen::Index batch = e.cols();
  out.resize(pairs(), batch);
  for (Eigen::Index s = 0; s < batch; ++s) forward_column(e.col(s).data(), out.col(s).data());
}

void DotInteraction::forward_column(const float* e, float* out) const {
  int p = 0;
  for (int i = 0; i < fields_; ++i)
    for (int j = i + 1; j < fields_; ++j) {
      Eigen::Map<const Vec> a(e + i * dim_, dim_), b(e + j * dim_, dim_);
      out[p++] = a.dot(b);
    }
}

void DotInteraction::backward(const Mat& e, const Mat& dout, Mat& de) const {
  const Eigen::Index batch = e.cols();
  for (Eigen::Index s = 0; s < batch; ++s) {
    const float* col = e.col(s).data();
    float* dcol = de.col(s).data();
    int p = 0;
    for (int i = 0; i < fields_; ++i)
      for (int j = i + 1; j < fields_; ++j) {
        float g = dout(p++, s);
        if (g == 0.0f) continue;
        Eigen::Map<const Vec> a(col + i * dim_, dim_), b(col + j * dim_, dim_);
        Eigen::Map<Vec>(dcol + i * dim_, dim_) += g * b;
        Eigen::Map<Vec>(dcol + j * dim_, dim_) += g * a;
      }
  }
}

}  // namespace streamrec::learner
