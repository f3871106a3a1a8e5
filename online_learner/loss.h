// The multi-task loss, ESMM included.
//
// For task k with tower logit a_k over a mini-batch of B samples:
//   binary:     p_k = sigmoid(a_k),              L_k = mean BCE(y_k, p_k)
//   esmm:       p_k = p_click * sigmoid(a_k),    L_k = mean BCE(y_k, p_k)
//               (pCTCVR = pCTR * pCVR; its gradient reaches both towers)
//   regression: p_k = a_k,                       L_k = mean (a_k - log1p(y_k))^2
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
  MultiTaskLoss(TaskSet tasks, bool uncertainty_weighting);

  const TaskSet& tasks() const { return tasks_; }

  // predictions: what each task predicts (see above), tasks x batch.
  void predict(const Mat& logits, Mat& predictions) const;
  // labels: tasks x batch, the raw label of each task (value for
  // regression). Returns the loss; accumulates dL/dlogits into dlogits
  // (resized and zeroed here) and dL/ds into log_var.grad.
  // mask (tasks x batch, 0 or 1) says which task losses each sample carries;
  // each task's loss is still averaged over the whole batch.
  double forward_backward(const Mat& logits, const Mat& labels, const Mat& mask, Mat& dlogits);

  Parameter log_var;  // 1 x tasks; the s_k, used only with uncertainty weighting

 private:
  TaskSet tasks_;
  bool uncertainty_;
};

}  // namespace streamrec::learner
