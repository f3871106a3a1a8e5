#include "online_learner/loss.h"

#include <cmath>

#include "online_learner/layers.h"

namespace streamrec::learner {

MultiTaskLoss::MultiTaskLoss(TaskSet tasks, bool uncertainty_weighting, Feedback feedback)
    : log_var("task_log_var", ParamGroup::kTaskWeight, 1, tasks.size()),
      tasks_(std::move(tasks)),
      uncertainty_(uncertainty_weighting),
      feedback_(feedback) {
  log_var.frozen = !uncertainty_;
}

void MultiTaskLoss::predict(const Mat& logits, Mat& predictions) const {
  predictions.resize(logits.rows(), logits.cols());
  for (int k = 0; k < tasks_.size(); ++k) {
    const TaskSpec& t = tasks_.tasks[k];
    for (Eigen::Index s = 0; s < logits.cols(); ++s) {
      float a = logits(k, s);
      switch (t.kind) {
        case TaskKind::kBinary: predictions(k, s) = sigmoid(a); break;
        case TaskKind::kEsmm: predictions(k, s) = sigmoid(logits(tasks_.click_task, s)) * sigmoid(a); break;
        case TaskKind::kRegression: predictions(k, s) = a; break;
      }
    }
  }
}

void MultiTaskLoss::importance_weights(const Mat& predictions, const Mat& labels, const Mat& mask, Mat& weights) const {
  weights = mask;
  if (feedback_ == Feedback::kWindowed) return;
  for (int k = 0; k < tasks_.size(); ++k) {
    if (tasks_.tasks[k].kind == TaskKind::kRegression) continue;  // parse_feedback refuses these
    for (Eigen::Index s = 0; s < mask.cols(); ++s) {
      if (mask(k, s) == 0.0f) continue;
      const float p = predictions(k, s);
      const bool positive = labels(k, s) > 0.5f;
      float w;
      if (feedback_ == Feedback::kFakeNegative) w = positive ? 1 + p : (1 - p) * (1 + p);
      else w = positive ? 1.0f : (1 - p) / (2 - p);
      weights(k, s) = mask(k, s) * w;
    }
  }
}

double MultiTaskLoss::forward_backward(const Mat& logits, const Mat& labels, const Mat& weights, Mat& dlogits,
                                       const Mat* logit_offsets) {
  if (logit_offsets != nullptr) {
    const Mat shifted = logits - *logit_offsets;
    return forward_backward(shifted, labels, weights, dlogits, nullptr);
  }
  const Eigen::Index batch = logits.cols();
  dlogits = Mat::Zero(logits.rows(), batch);
  if (batch == 0) return 0;
  const double inv_b = 1.0 / static_cast<double>(batch);
  double total = 0;
  for (int k = 0; k < tasks_.size(); ++k) {
    const TaskSpec& t = tasks_.tasks[k];
    double task_loss = 0;
    double scale = t.weight;
    if (uncertainty_) scale *= std::exp(-static_cast<double>(log_var.value(0, k)));
    for (Eigen::Index s = 0; s < batch; ++s) {
      const float w = weights(k, s);
      if (w == 0.0f) continue;
      const float g = static_cast<float>(scale * inv_b) * w;
      float a = logits(k, s), y = labels(k, s);
      switch (t.kind) {
        case TaskKind::kBinary: {
          float p = sigmoid(a);
          task_loss -= w * (y * std::log(p) + (1 - y) * std::log(1 - p));
          dlogits(k, s) += g * (p - y);
          break;
        }
        case TaskKind::kEsmm: {
          float pc = sigmoid(logits(tasks_.click_task, s)), pv = sigmoid(a);
          float p = pc * pv;
          task_loss -= w * (y * std::log(p) + (1 - y) * std::log(1 - p));
          // dBCE/dp = (p - y) / (p (1 - p)); dp/da_v = p (1 - pv); dp/da_c = p (1 - pc).
          float common = (p - y) / (1 - p);
          dlogits(k, s) += g * common * (1 - pv);
          dlogits(tasks_.click_task, s) += g * common * (1 - pc);
          break;
        }
        case TaskKind::kRegression: {
          float target = std::log1p(std::max(0.0f, y));
          float d = a - target;
          task_loss += w * d * d;
          dlogits(k, s) += g * 2 * d;
          break;
        }
      }
    }
    task_loss *= inv_b;
    if (uncertainty_) {
      double s_k = log_var.value(0, k);
      total += t.weight * (std::exp(-s_k) * task_loss + s_k);
      log_var.grad(0, k) += static_cast<float>(t.weight * (1 - std::exp(-s_k) * task_loss));
    } else {
      total += t.weight * task_loss;
    }
  }
  return total;
}

}  // namespace streamrec::learner
