// Dense trainable parameters, the float32 matrix type of the learner, and a
// small deterministic random source for initialization.
//
// A Parameter owns its value, its gradient (accumulated by backward passes,
// cleared by the learner before each mini-batch) and its optimizer state.
// Matrices are column-major with one column per sample. Not thread-safe.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <string>

namespace streamrec::learner {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
using Vec = Eigen::Matrix<float, Eigen::Dynamic, 1>;
using RowVec = Eigen::Matrix<float, 1, Eigen::Dynamic>;

// Which optimizer learning rate and which --freeze level applies.
enum class ParamGroup : uint8_t {
  kShared = 0,  // experts, gates, shared bottoms (frozen by --freeze shared)
  kTower = 1,   // per-task towers
  kTaskWeight = 2,  // learned uncertainty weights
  kIntercept = 3,   // the last bias of each tower: the task's base rate, learned fast
};

struct Parameter {
  std::string name;
  ParamGroup group = ParamGroup::kShared;
  Mat value;
  Mat grad;
  Mat state;  // momentum (SGD) or squared-gradient sum (Adagrad)
  bool frozen = false;

  Parameter() = default;
  Parameter(std::string n, ParamGroup g, int rows, int cols)
      : name(std::move(n)), group(g), value(Mat::Zero(rows, cols)), grad(Mat::Zero(rows, cols)),
        state(Mat::Zero(rows, cols)) {}
};

// SplitMix64: tiny, fast, and identical on every platform (unlike the
// standard distributions), so initializations replay bit for bit.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  uint64_t below(uint64_t n) { return next() % n; }
  uint64_t state() const { return s_; }
  void set_state(uint64_t s) { s_ = s; }

 private:
  uint64_t s_;
};

// Glorot-uniform initialization of a fan_in x fan_out weight.
inline void glorot(Mat& w, SplitMix& rng) {
  double limit = std::sqrt(6.0 / static_cast<double>(w.rows() + w.cols()));
  for (Eigen::Index j = 0; j < w.cols(); ++j)
    for (Eigen::Index i = 0; i < w.rows(); ++i) w(i, j) = static_cast<float>((2 * rng.uniform() - 1) * limit);
}

}  // namespace streamrec::learner
