#include "online_learner/task.h"

#include <charconv>
#include <cmath>

namespace streamrec::learner {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

}  // namespace

Result<TaskSet> parse_tasks(std::string_view spec) {
  TaskSet set;
  for (const std::string& entry : split(spec, ',')) {
    auto parts = split(entry, ':');
    std::string where = "learner.tasks: \"" + entry + "\": ";
    if (parts.size() != 3) return Error{where + "expected label:kind:weight, e.g. click:binary:1"};
    TaskSpec t;
    t.name = parts[0];
    if (parts[0] == "click") t.label = TaskLabel::kClick;
    else if (parts[0] == "purchase") t.label = TaskLabel::kPurchase;
    else if (parts[0] == "value") t.label = TaskLabel::kValue;
    else return Error{where + "label must be click, purchase or value"};
    if (parts[1] == "binary") t.kind = TaskKind::kBinary;
    else if (parts[1] == "esmm") t.kind = TaskKind::kEsmm;
    else if (parts[1] == "regression") t.kind = TaskKind::kRegression;
    else return Error{where + "kind must be binary, esmm or regression"};
    double w = 0;
    auto [end, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), w);
    if (ec != std::errc() || end != parts[2].data() + parts[2].size() || !std::isfinite(w) || w < 0)
      return Error{where + "weight must be a number >= 0"};
    t.weight = static_cast<float>(w);
    for (const TaskSpec& other : set.tasks)
      if (other.name == t.name) return Error{where + "label used twice"};
    if (t.label == TaskLabel::kClick && t.kind == TaskKind::kBinary) set.click_task = set.size();
    set.tasks.push_back(t);
  }
  for (const TaskSpec& t : set.tasks)
    if (t.kind == TaskKind::kEsmm && set.click_task < 0)
      return Error{"learner.tasks: an esmm task needs a click:binary task (pCTCVR = pCTR * pCVR)"};
  return set;
}

Result<Feedback> parse_feedback(std::string_view name, const TaskSet& tasks) {
  Feedback f;
  if (name == "windowed") return Feedback::kWindowed;
  if (name == "fake_negative") f = Feedback::kFakeNegative;
  else if (name == "defer") f = Feedback::kDefer;
  else return Error{"learner.feedback: \"" + std::string(name) + "\": must be windowed, fake_negative or defer"};
  for (const TaskSpec& t : tasks.tasks)
    if (t.kind == TaskKind::kRegression)
      return Error{"learner.feedback: " + std::string(name) + " corrects binary and esmm losses only; learner.tasks has " +
                   t.name + ":regression (use learner.feedback=windowed)"};
  return f;
}

}  // namespace streamrec::learner
