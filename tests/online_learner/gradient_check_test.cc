// Finite-difference gradient checks: every layer's backward pass, the
// multi-task loss, and the whole model + embeddings + L2 loss of the learner.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "online_learner/interaction.h"
#include "online_learner/layers.h"
#include "online_learner/learner.h"
#include "online_learner/loss.h"
#include "online_learner/model.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::learner {

struct GradientCheckAccess {
  static Model& model(Learner& l) { return l.model_; }
  static EmbeddingTable& table(Learner& l) { return l.table_; }
};

namespace {

Mat random_mat(int rows, int cols, SplitMix& rng, float scale = 1.0f) {
  Mat m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>((2 * rng.uniform() - 1) * scale);
  return m;
}

// sum(c .* y) in double, the probe loss for layer checks.
double probe(const Mat& c, const Mat& y) { return (c.cast<double>().array() * y.cast<double>().array()).sum(); }

// Central differences on every entry of `x` against `analytic`.
void expect_gradient(const std::string& what, float* x, Eigen::Index n, const Mat& analytic,
                     const std::function<double()>& loss, float eps = 1e-2f, double tol = 2e-2) {
  ASSERT_EQ(analytic.size(), n) << what;
  int checked = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    float saved = x[i];
    x[i] = saved + eps;
    double up = loss();
    x[i] = saved - eps;
    double down = loss();
    x[i] = saved;
    double numeric = (up - down) / (2.0 * eps);
    double a = analytic.data()[i];
    EXPECT_NEAR(numeric, a, tol * std::max({1.0, std::abs(numeric), std::abs(a)})) << what << " entry " << i;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(GradientCheck, Dense) {
  SplitMix rng(1);
  Dense layer("d", ParamGroup::kShared, 5, 3, rng);
  layer.b.value = random_mat(3, 1, rng);
  Mat x = random_mat(5, 4, rng), c = random_mat(3, 4, rng), y, dx;
  auto loss = [&] {
    layer.forward(x, y);
    return probe(c, y);
  };
  loss();
  layer.backward(x, c, &dx);
  Mat dw = layer.w.grad, db = layer.b.grad;
  expect_gradient("dense.w", layer.w.value.data(), layer.w.value.size(), dw, loss);
  expect_gradient("dense.b", layer.b.value.data(), layer.b.value.size(), db, loss);
  expect_gradient("dense.x", x.data(), x.size(), dx, loss);
}

TEST(GradientCheck, Relu) {
  SplitMix rng(2);
  Mat x = random_mat(6, 5, rng), c = random_mat(6, 5, rng);
  for (Eigen::Index i = 0; i < x.size(); ++i)  // keep away from the kink
    if (std::abs(x.data()[i]) < 0.05f) x.data()[i] = 0.3f;
  auto loss = [&] {
    Mat y = x;
    relu_forward(y);
    return probe(c, y);
  };
  Mat y = x;
  relu_forward(y);
  Mat dy = c;
  relu_backward(y, dy);
  expect_gradient("relu", x.data(), x.size(), dy, loss);
}

TEST(GradientCheck, Softmax) {
  SplitMix rng(3);
  Mat x = random_mat(4, 5, rng, 2), c = random_mat(4, 5, rng);
  auto loss = [&] {
    Mat p = x;
    softmax_forward(p);
    return probe(c, p);
  };
  Mat p = x, dz;
  softmax_forward(p);
  softmax_backward(p, c, dz);
  expect_gradient("softmax", x.data(), x.size(), dz, loss, 1e-2f);
}

TEST(GradientCheck, DotInteraction) {
  SplitMix rng(4);
  DotInteraction dots(4, 3);
  Mat e = random_mat(12, 5, rng), c = random_mat(dots.pairs(), 5, rng), out;
  auto loss = [&] {
    dots.forward(e, out);
    return probe(c, out);
  };
  Mat de = Mat::Zero(12, 5);
  dots.forward(e, out);
  dots.backward(e, c, de);
  expect_gradient("dots", e.data(), e.size(), de, loss);
}

class ModelGradient : public ::testing::TestWithParam<std::tuple<Architecture, bool, bool>> {};

TEST_P(ModelGradient, EveryParameterAndTheInput) {
  ModelShape shape;
  shape.fields = 4;
  shape.dim = 3;
  shape.architecture = std::get<0>(GetParam());
  shape.interactions = std::get<1>(GetParam());
  shape.dot_head = std::get<2>(GetParam());
  shape.experts = 3;
  shape.expert_hidden = 6;
  shape.tower_hidden = 4;
  shape.tasks = 2;
  Model model(shape, 7);
  SplitMix rng(5);
  for (Parameter* p : model.parameters()) {
    if (p->name.back() == 'b') p->value = random_mat(static_cast<int>(p->value.rows()), 1, rng, 0.5f);
    if (p->name == "dot_head.w") p->value = random_mat(2, static_cast<int>(p->value.cols()), rng, 0.5f);
  }
  Mat x0 = random_mat(12, 6, rng), c = random_mat(2, 6, rng), dx0;
  Model::Activations a;
  auto loss = [&] {
    model.forward(x0, a);
    return probe(c, a.logits);
  };
  loss();
  for (Parameter* p : model.parameters()) p->grad.setZero();
  model.backward(x0, a, c, &dx0);
  for (Parameter* p : model.parameters()) {
    Mat g = p->grad;
    expect_gradient(p->name, p->value.data(), p->value.size(), g, loss, 5e-4f, 3e-2);
  }
  expect_gradient("x0", x0.data(), x0.size(), dx0, loss, 5e-4f, 3e-2);
}

INSTANTIATE_TEST_SUITE_P(Architectures, ModelGradient,
                         ::testing::Combine(::testing::Values(Architecture::kMmoe, Architecture::kShared,
                                                              Architecture::kSingle),
                                            ::testing::Bool(), ::testing::Bool()));

TEST(GradientCheck, MultiTaskLossWithEsmmRegressionAndUncertainty) {
  auto tasks = parse_tasks("click:binary:1,purchase:esmm:0.7,value:regression:0.3");
  ASSERT_TRUE(tasks.ok()) << tasks.error().message;
  for (bool uncertainty : {false, true}) {
    MultiTaskLoss loss(*tasks, uncertainty);
    SplitMix rng(6);
    loss.log_var.value = random_mat(1, 3, rng, 0.5f);
    Mat logits = random_mat(3, 8, rng, 2), labels(3, 8), dlogits, mask = Mat::Ones(3, 8);
    mask(1, 2) = mask(2, 2) = 0;  // a click-stage sample
    mask(0, 5) = 0;               // a purchase-stage sample
    for (int s = 0; s < 8; ++s) {
      labels(0, s) = s % 2;
      labels(1, s) = s % 4 == 1;
      labels(2, s) = s % 4 == 1 ? 12.5f : 0.0f;
    }
    auto f = [&] {
      Mat d;
      return loss.forward_backward(logits, labels, mask, d);
    };
    loss.log_var.grad.setZero();
    loss.forward_backward(logits, labels, mask, dlogits);
    Mat dlv = loss.log_var.grad;
    expect_gradient("logits", logits.data(), logits.size(), dlogits, f, 1e-3f);
    if (uncertainty) expect_gradient("log_var", loss.log_var.value.data(), 3, dlv, f, 1e-3f);
  }
}

// The delayed-feedback corrections: the importance weights are constants of
// the loss (the papers' stop-gradient), computed once from the predictions;
// the weighted losses' gradients are checked with those weights fixed,
// with and without learned uncertainty weights (the default) on top.
TEST(GradientCheck, ImportanceWeightedLossesOfEachFeedbackMode) {
  auto tasks = parse_tasks("click:binary:1,purchase:esmm:0.7");
  ASSERT_TRUE(tasks.ok()) << tasks.error().message;
  for (bool uncertainty : {false, true})
  for (Feedback feedback : {Feedback::kFakeNegative, Feedback::kDefer}) {
    SCOPED_TRACE(uncertainty ? "uncertainty weighting" : "fixed task weights");
    MultiTaskLoss loss(*tasks, uncertainty, feedback);
    SplitMix rng(7);
    if (uncertainty) loss.log_var.value = random_mat(1, 2, rng, 0.5f);
    Mat logits = random_mat(2, 8, rng, 2), labels(2, 8), mask = Mat::Ones(2, 8), predictions, weights, dlogits;
    mask(1, 2) = 0;  // a click copy
    mask(0, 5) = 0;  // a purchase copy
    for (int s = 0; s < 8; ++s) {
      labels(0, s) = s % 2;
      labels(1, s) = s % 4 == 1;
    }
    loss.predict(logits, predictions);
    loss.importance_weights(predictions, labels, mask, weights);
    for (int k = 0; k < 2; ++k)
      for (int s = 0; s < 8; ++s) {
        const float p = predictions(k, s);
        const bool y = labels(k, s) > 0.5f;
        float expected = feedback == Feedback::kFakeNegative ? (y ? 1 + p : (1 - p) * (1 + p))
                                                             : (y ? 1.0f : (1 - p) / (2 - p));
        EXPECT_FLOAT_EQ(weights(k, s), mask(k, s) * expected) << "task " << k << " sample " << s;
      }
    auto f = [&] {
      Mat d;
      return loss.forward_backward(logits, labels, weights, d);
    };
    loss.log_var.grad.setZero();
    loss.forward_backward(logits, labels, weights, dlogits);
    Mat dlv = loss.log_var.grad;
    expect_gradient("logits", logits.data(), logits.size(), dlogits, f, 1e-3f);
    if (uncertainty) expect_gradient("log_var", loss.log_var.value.data(), 2, dlv, f, 1e-3f);
  }
}

// The point of the weights: on the stream of copies each mode produces, the
// expected gradient of a constant predictor vanishes at the true rate, so
// the model stays calibrated although every positive is first learned as a
// negative. One logit, one task, impressions positive with probability q.
TEST(GradientCheck, ImportanceWeightsMakeTheTrueRateTheStationaryPoint) {
  auto tasks = parse_tasks("click:binary:1");
  ASSERT_TRUE(tasks.ok());
  for (bool uncertainty : {false, true})  // a task's learned scale exp(-s) leaves its stationary point
  for (Feedback feedback : {Feedback::kFakeNegative, Feedback::kDefer}) {
    MultiTaskLoss loss(*tasks, uncertainty, feedback);
    if (uncertainty) loss.log_var.value(0, 0) = 1.5f;
    for (float q : {0.02f, 0.1f, 0.4f}) {
      // The copies of one positive and one negative impression, in the
      // proportions q : 1 - q: fake negatives of both, the positive's
      // positive copy, and (defer) the negative's real negative again.
      Mat logits = Mat::Constant(1, 4, std::log(q / (1 - q))), labels(1, 4), mask(1, 4);
      labels << 0, 1, 0, 0;
      mask << q, q, 1 - q, feedback == Feedback::kDefer ? 1 - q : 0;  // frequency of each copy
      Mat predictions, weights, dlogits;
      loss.predict(logits, predictions);
      loss.importance_weights(predictions, labels, mask, weights);
      loss.forward_backward(logits, labels, weights, dlogits);
      EXPECT_NEAR(dlogits.sum(), 0.0, 1e-6) << "q=" << q;
      // Without the weights the fake negatives pull the prediction down.
      loss.forward_backward(logits, labels, mask, dlogits);
      EXPECT_GT(dlogits.sum(), 1e-5) << "q=" << q;
    }
  }
}

// The whole loss the learner minimizes: embeddings (incl. the recent-click
// bag) -> dots -> MMoE -> towers -> ESMM, plus L2 on dense weights and on the
// touched embedding rows.
TEST(GradientCheck, WholeLearnerLoss) {
  LearnerConfig config;
  config.embedding_dim = 4;
  config.experts = 2;
  config.expert_hidden = 8;
  config.tower_hidden = 4;
  config.init_scale = 0.5;
  config.l2 = 0.01;
  config.context_fields = "device";
  // The importance weights of immediate feedback are constants of the loss
  // (stop-gradient), which finite differences cannot hold fixed here; the
  // weighted losses have their own check above.
  config.feedback = "windowed";
  config.bias_terms = true;
  config.dot_head = true;
  auto created = Learner::create(config);
  ASSERT_TRUE(created.ok()) << created.error().message;
  Learner& learner = **created;
  for (const Item& item : testing::make_items(5)) learner.add_item(item);

  std::vector<Sample> samples;
  for (int s = 0; s < 6; ++s) {
    Sample x;
    x.event_id = "e" + std::to_string(s);
    x.user_id = "u" + std::to_string(s % 3);
    x.item_id = "i" + std::to_string(s % 5);
    x.context = {{"device", s % 2 ? "ios" : "web", false}};
    x.recent_clicks = {"i" + std::to_string((s + 1) % 5), "i" + std::to_string((s + 2) % 5)};
    x.clicked = s % 2 == 0;
    x.purchased = s == 0 || s == 4;
    samples.push_back(x);
  }
  Batch batch;
  learner.prepare(samples, batch);  // creates the rows
  auto loss = [&] {
    learner.prepare(samples, batch);
    return learner.forward_backward(batch);
  };
  loss();
  for (Parameter* p : GradientCheckAccess::model(learner).parameters()) {
    Mat g = p->grad;
    expect_gradient(p->name, p->value.data(), p->value.size(), g, loss, 2e-3f, 3e-2);
    loss();  // restore batch gradients for the next parameter
  }
  std::vector<uint32_t> touched = batch.touched;
  std::vector<float> grads = batch.touched_grad;
  ASSERT_GT(touched.size(), 10u);
  const int d = learner.table().dim();
  for (size_t i = 0; i < touched.size(); ++i) {
    Mat g = Eigen::Map<Mat>(&grads[i * d], d, 1);
    expect_gradient("row " + std::to_string(touched[i]), GradientCheckAccess::table(learner).row(touched[i]), d, g, loss, 2e-3f, 3e-2);
  }
}

}  // namespace
}  // namespace streamrec::learner
