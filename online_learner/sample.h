// A labelled training sample: one impression, the features known when it was
// shown, and the labels the joiner attached to it. A plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event.h"

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

// The label bits of Sample::learns and Sample::finalizes: the click label
// (click tasks) and the purchase label (every other task).
inline constexpr uint8_t kClickLabel = 1, kPurchaseLabel = 2, kBothLabels = kClickLabel | kPurchaseLabel;

struct Sample {
  std::string event_id;  // the impression's (or, for a sampled one, derived)
  std::string user_id;
  std::string item_id;
  std::string request_id;
  int64_t ts_ms = 0;
  std::vector<ContextFeature> context;
  std::vector<std::string> recent_clicks;  // the user's last clicked items at impression time, newest first
  bool clicked = false;
  bool purchased = false;
  float value = 0;  // purchase amount
  // The logQ correction of a sample standing for an unseen impression under
  // popularity sampling (NegativeSampler): subtracted from the click logit
  // in the loss, not when scoring. 0 for real impressions.
  float log_correction = 0;
  // One impression reaches the learner as one or more copies. `learns` says
  // which task losses this copy carries (0 = none: it only reports final
  // labels); `finalizes` which of its labels are final with this copy, so
  // that the metrics record them (score at impression time, final label).
  // Windowed feedback: one complete copy (both, both), or with early clicks
  // a click copy (click, click) and a purchase copy (purchase, purchase).
  // Immediate feedback (Feedback): the shown copy (both, none) with both
  // labels 0, positive copies (click, none) or (purchase, none) when the
  // click or purchase joins, and at each deadline a copy that finalizes
  // (learning nothing, or with defer the real negative again).
  uint8_t learns = kBothLabels;
  uint8_t finalizes = kBothLabels;
};

// The fake-negative copy learned when an impression is shown.
inline bool is_shown_copy(const Sample& s) { return s.learns == kBothLabels && s.finalizes == 0; }

void save_sample(ByteWriter& out, const Sample& s);
Sample load_sample(ByteReader& in);

}  // namespace streamrec::learner
