// The learning tasks, parsed from learner.tasks ("label:kind:weight,..."),
// and how their labels reach the learner (learner.feedback).
//
// Labels: click, purchase, value (the purchase amount, 0 without purchase).
// Kinds: binary (BCE on sigmoid(tower)), esmm (BCE on pCTR * sigmoid(tower),
// the ESMM conversion task; needs a binary click task), regression (MSE on
// log1p(label)). Plain values; parse errors name the offending entry or key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace streamrec::learner {

enum class TaskLabel : uint8_t { kClick, kPurchase, kValue };
enum class TaskKind : uint8_t { kBinary, kEsmm, kRegression };

struct TaskSpec {
  std::string name;  // the label's name, used in reports
  TaskLabel label = TaskLabel::kClick;
  TaskKind kind = TaskKind::kBinary;
  float weight = 1.0f;
};

struct TaskSet {
  std::vector<TaskSpec> tasks;
  int click_task = -1;  // index of the binary click task, -1 when absent

  int size() const { return static_cast<int>(tasks.size()); }
};

Result<TaskSet> parse_tasks(std::string_view spec);

// How labels reach the learner (docs/model.md, "Delayed feedback"):
//  - kWindowed: a label is learned once, when it is final (after its window);
//  - kFakeNegative: every impression is learned at once as a negative of
//    every task, and again as a positive of a task when its click (or
//    purchase) arrives; the losses are importance-weighted (FNW, Ktena et
//    al. 2019);
//  - kDefer: as kFakeNegative, and an impression whose label stays negative
//    is learned again as a negative when its window closes, so every
//    impression is learned exactly twice per task (DEFER, Gu et al. 2021,
//    with a waiting window of zero), with its own weights.
enum class Feedback : uint8_t { kWindowed, kFakeNegative, kDefer };

// learner.feedback: "windowed", "fake_negative" or "defer". The immediate
// modes (all but windowed) weight binary and esmm losses only: a regression
// task is refused with an error naming both keys.
Result<Feedback> parse_feedback(std::string_view name, const TaskSet& tasks);

}  // namespace streamrec::learner
