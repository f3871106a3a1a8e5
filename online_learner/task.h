// The learning tasks, parsed from learner.tasks ("label:kind:weight,...").
//
// Labels: click, purchase, value (the purchase amount, 0 without purchase).
// Kinds: binary (BCE on sigmoid(tower)), esmm (BCE on pCTR * sigmoid(tower),
// the ESMM conversion task; needs a binary click task), regression (MSE on
// log1p(label)). Plain values; parse errors name the offending entry.
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

}  // namespace streamrec::learner
