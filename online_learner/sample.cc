#include "online_learner/sample.h"

#include "online_learner/byte_io.h"

namespace streamrec::learner {

void save_sample(ByteWriter& out, const Sample& s) {
  out.str(s.event_id);
  out.str(s.user_id);
  out.str(s.item_id);
  out.str(s.request_id);
  out.i64(s.ts_ms);
  out.u32(static_cast<uint32_t>(s.context.size()));
  for (const ContextFeature& c : s.context) {
    out.str(c.key);
    out.str(c.value);
    out.u8(c.numeric);
  }
  out.u32(static_cast<uint32_t>(s.recent_clicks.size()));
  for (const std::string& r : s.recent_clicks) out.str(r);
  out.u8(s.clicked);
  out.u8(s.purchased);
  out.f32(s.value);
  out.f32(s.log_correction);
  out.u8(s.learns);
  out.u8(s.finalizes);
}

Sample load_sample(ByteReader& in) {
  Sample s;
  s.event_id = in.str();
  s.user_id = in.str();
  s.item_id = in.str();
  s.request_id = in.str();
  s.ts_ms = in.i64();
  uint32_t n = in.u32();
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    ContextFeature c;
    c.key = in.str();
    c.value = in.str();
    c.numeric = in.u8() != 0;
    s.context.push_back(std::move(c));
  }
  n = in.u32();
  for (uint32_t i = 0; i < n && in.ok(); ++i) s.recent_clicks.push_back(in.str());
  s.clicked = in.u8() != 0;
  s.purchased = in.u8() != 0;
  s.value = in.f32();
  s.log_correction = in.f32();
  s.learns = in.u8();
  s.finalizes = in.u8();
  if (s.learns > kBothLabels || s.finalizes > kBothLabels) in.fail("bad sample label bits");
  return s;
}

}  // namespace streamrec::learner
