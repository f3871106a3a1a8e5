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

// Which losses a sample carries. With early clicks (JoinerSettings), a
// clicked impression is learned twice: its click at click time (kClick), its
// purchase outcome when that is known (kPurchase); together they are exactly
// the loss of one complete sample, but the click is not held back for the
// purchase window.
enum class SampleStage : uint8_t { kComplete = 0, kClick = 1, kPurchase = 2 };

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
  SampleStage stage = SampleStage::kComplete;
};

void save_sample(ByteWriter& out, const Sample& s);
Sample load_sample(ByteReader& in);

}  // namespace streamrec::learner
