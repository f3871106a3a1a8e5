// Model::forward_varying: columns that share all fields but a few (one user,
// many items) get the logits forward() gives the full columns, up to float
// rounding, for every architecture, with and without the dot products and
// the dot head, whichever fields vary; one varying_part serves every fixed
// column (many users) and any selection of its columns (the candidates).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "online_learner/model.h"

namespace streamrec::learner {
namespace {

template <class M>
void randomize(M& m, SplitMix& rng, float scale) {
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>((2 * rng.uniform() - 1) * scale);
}

// Every parameter random, biases and the (zero-initialized) dot head too,
// so that each part of the first layer shows in the logits.
Model random_model(const ModelShape& shape, uint64_t seed) {
  Model model(shape, seed);
  SplitMix rng(seed + 1);
  for (Parameter* p : model.parameters()) randomize(p->value, rng, 0.3f);
  return model;
}

// The varying fields' values per column, then two fixed columns (users)
// against them, each in every column.
void expect_forward_varying_is_forward(const Model& model, const std::vector<int>& varying, Eigen::Index n,
                                       uint64_t seed, Model::Activations& a) {
  const int d = model.shape().dim;
  SplitMix rng(seed);
  Mat x_varying(static_cast<Eigen::Index>(varying.size()) * d, n), part;
  randomize(x_varying, rng, 1.0f);
  model.varying_part(varying, x_varying, part);
  for (int user = 0; user < 2; ++user) {
    Vec fixed(model.input_dim());
    randomize(fixed, rng, 1.0f);
    Mat full = fixed.replicate(1, n);
    for (size_t s = 0; s < varying.size(); ++s) full.middleRows(varying[s] * d, d) = x_varying.middleRows(s * d, d);

    Model::Activations want;
    model.forward(full, want);
    // Every column, last first, and the first once more: any selection.
    std::vector<size_t> columns;
    for (Eigen::Index c = n - 1; c >= 0; --c) columns.push_back(static_cast<size_t>(c));
    if (n > 0) columns.push_back(0);
    model.forward_varying(fixed, varying, x_varying, part, columns, a);
    ASSERT_EQ(a.logits.rows(), want.logits.rows());
    ASSERT_EQ(a.logits.cols(), static_cast<Eigen::Index>(columns.size()));
    for (size_t c = 0; c < columns.size(); ++c)
      for (Eigen::Index k = 0; k < want.logits.rows(); ++k) {
        const float expected = want.logits(k, static_cast<Eigen::Index>(columns[c]));
        EXPECT_NEAR(a.logits(k, static_cast<Eigen::Index>(c)), expected, 1e-5 * std::max(1.0f, std::abs(expected)))
            << "user " << user << ", task " << k << ", column " << c;
      }
  }
}

struct Variant {
  Architecture architecture;
  bool interactions, dot_head;
};

class ForwardVarying : public testing::TestWithParam<Variant> {};

TEST_P(ForwardVarying, GivesForwardsLogits) {
  ModelShape shape;
  shape.fields = 8;
  shape.dim = 16;
  shape.architecture = GetParam().architecture;
  shape.interactions = GetParam().interactions;
  shape.dot_head = GetParam().dot_head;
  shape.experts = 4;
  shape.expert_hidden = 64;
  shape.tower_hidden = 32;
  shape.tasks = 2;
  Model model = random_model(shape, 7);
  // One Activations for every call: what a call keeps for the next must not
  // leak into it, whatever the fields and the column count.
  Model::Activations a;
  expect_forward_varying_is_forward(model, {1, 2, 3}, 140, 1, a);  // the learner's item side
  expect_forward_varying_is_forward(model, {1, 2, 3}, 37, 2, a);
  expect_forward_varying_is_forward(model, {6, 0}, 5, 3, a);       // out of order, apart
  expect_forward_varying_is_forward(model, {4}, 1, 4, a);
  expect_forward_varying_is_forward(model, {}, 3, 5, a);           // nothing varies
  expect_forward_varying_is_forward(model, {0, 1, 2, 3, 4, 5, 6, 7}, 9, 6, a);  // everything does
  expect_forward_varying_is_forward(model, {1, 2, 3}, 0, 7, a);    // no column
}

INSTANTIATE_TEST_SUITE_P(Model, ForwardVarying,
                         testing::Values(Variant{Architecture::kMmoe, true, false},
                                         Variant{Architecture::kMmoe, true, true},
                                         Variant{Architecture::kMmoe, false, false},
                                         Variant{Architecture::kShared, true, true},
                                         Variant{Architecture::kShared, false, false},
                                         Variant{Architecture::kSingle, true, false},
                                         Variant{Architecture::kSingle, false, true}),
                         [](const testing::TestParamInfo<Variant>& info) {
                           const Variant& v = info.param;
                           std::string name = v.architecture == Architecture::kMmoe     ? "Mmoe"
                                              : v.architecture == Architecture::kShared ? "Shared"
                                                                                        : "Single";
                           name += v.interactions ? "WithDots" : "WithoutDots";
                           if (v.dot_head) name += "AndDotHead";
                           return name;
                         });

}  // namespace
}  // namespace streamrec::learner
