// The multi-task loss, ESMM included.
//
// For task k with tower logit a_k over a mini-batch of B samples:
//   binary:     p_k = sigmoid(a_k),              L_k = mean BCE(y_k, p_k)
//   esmm:       p_k = p_click * sigmoid(a_k),    L_k = mean BCE(y_k, p_k)
//               (pCTCVR = pCTR * pCVR; its gradient reaches both towers)
//   regression: p_k = a_k,                       L_k = mean (a_k - log1p(y_k))^2
// Each sample's BCE (or squared error) is multiplied by its weight for that
// task: 0/1 for the losses a copy carries (windowed feedback), or the
// importance weight of the delayed-feedback correction (importance_weights).
// Total: sum_k w_k L_k, or with uncertainty weighting
// sum_k w_k (exp(-s_k) L_k + s_k) with learned s_k. The L2 term lives with
// the parameters (Learner), not here. Owns only the s_k parameter.
// Not thread-safe.
#pragma once

#include "online_learner/parameter.h"
#include "online_learner/task.h"

namespace streamrec::learner {

class MultiTaskLoss {
 public:
  MultiTaskLoss(TaskSet tasks, bool uncertainty_weighting, Feedback feedback = Feedback::kWindowed);

  const TaskSet& tasks() const { return tasks_; }

  // predictions: what each task predicts (see above), tasks x batch.
  void predict(const Mat& logits, Mat& predictions) const;
  // labels: tasks x batch, the raw label of each task (value for
  // regression). Returns the loss; accumulates dL/dlogits into dlogits
  // (resized and zeroed here) and dL/ds into log_var.grad.
  // weights (tasks x batch, >= 0) multiply each sample's task loss (0 = the
  // sample does not carry it); each task's loss is still averaged over the
  // whole batch. The weights are constants here (no gradient flows through
  // them), whoever computed them.
  // logit_offsets (tasks x batch, optional) are subtracted from the logits
  // before the loss: the logQ correction of popularity-sampled negatives
  // (NegativeSampler). A constant shift: dlogits is the same with respect
  // to the logits as to the shifted logits.
  double forward_backward(const Mat& logits, const Mat& labels, const Mat& weights, Mat& dlogits,
                          const Mat* logit_offsets = nullptr);

  // The weights of the losses a batch carries: `mask` (tasks x batch, 0 or
  // 1) times, for binary and esmm tasks under immediate feedback, the
  // importance weight that makes the expected gradient on the stream of
  // copies equal that of each impression learned once with its final label.
  // With p the task's prediction (taken as a constant, as the papers'
  // stop-gradient) and y the copy's label:
  //   fake_negative (FNW): y = 1: 1 + p;   y = 0: (1 - p)(1 + p)
  //     (a positive is seen twice, as a fake negative and as a positive, so
  //      the copies' label rate is p / (1 + p));
  //   defer: y = 1: 1;   y = 0: (1 - p) / (2 - p)
  //     (every impression is seen twice, so the copies' label rate is p/2;
  //      the weights are the paper's 2 and 2(1 - p)/(2 - p), halved).
  // Windowed feedback: the mask itself.
  void importance_weights(const Mat& predictions, const Mat& labels, const Mat& mask, Mat& weights) const;

  Parameter log_var;  // 1 x tasks; the s_k, used only with uncertainty weighting

 private:
  TaskSet tasks_;
  bool uncertainty_;
  Feedback feedback_;
};

}  // namespace streamrec::learner
