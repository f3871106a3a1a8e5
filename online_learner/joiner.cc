#include "online_learner/joiner.h"

#include <algorithm>

#include "core/hash.h"
#include "online_learner/byte_io.h"

namespace streamrec::learner {

Joiner::Joiner(const JoinerSettings& settings, const Catalog* catalog)
    : settings_(settings), catalog_(catalog), rng_(settings.seed ^ 0x6a6f696e6572ULL) {}

uint64_t Joiner::pair_key(const std::string& user, const std::string& item) { return hash64(item, hash64(user)); }

bool Joiner::is_duplicate(const std::string& event_id) {
  if (settings_.dedupe_window <= 0) return false;
  uint64_t h = hash64(event_id, 0x64656475ULL);
  if (!seen_ids_.insert(h)) return true;
  seen_fifo_.push_back(h);
  if (static_cast<int64_t>(seen_fifo_.size()) > settings_.dedupe_window) {
    seen_ids_.erase(seen_fifo_.front());
    seen_fifo_.pop_front();
  }
  return false;
}

const Sample* Joiner::last_impression() const {
  if (!last_was_impression_) return nullptr;
  auto it = pending_.find(next_seq_ - 1);
  return it == pending_.end() ? nullptr : &it->second.sample;
}

void Joiner::add(const Event& e, RecentClicks recent_clicks, std::vector<Sample>& out) {
  counters_.events++;
  last_was_impression_ = false;
  if (is_duplicate(e.event_id)) {
    counters_.duplicates++;
    return;
  }
  advance(e.ts_ms, out);
  switch (e.type) {
    case EventType::kImpression: add_impression(e, std::move(recent_clicks), out); break;
    case EventType::kClick: add_click(e, std::move(recent_clicks), out); break;
    case EventType::kPurchase: add_purchase(e, out); break;
    case EventType::kForget: break;  // Learner::forget_user's, never a sample
  }
}

void Joiner::advance(int64_t ts, std::vector<Sample>& out) {
  if (ts <= watermark_) return;
  watermark_ = ts;
  while (!deadlines_.empty() && deadlines_.top().first < watermark_) {
    auto [deadline, seq] = deadlines_.top();
    deadlines_.pop();
    auto it = pending_.find(seq);
    if (it != pending_.end() && it->second.deadline == deadline) on_deadline(seq, out);
  }
  while (!emitted_fifo_.empty() && emitted_fifo_.front().first < watermark_) {
    auto [forget_at, key] = emitted_fifo_.front();
    if (const Emitted* e = emitted_.find(key); e && e->forget_at == forget_at) emitted_.erase(key);
    emitted_fifo_.pop_front();
  }
}

void Joiner::copy_out(const Sample& s, uint8_t learns, uint8_t finalizes, std::vector<Sample>& out) {
  out.push_back(s);
  out.back().learns = learns;
  out.back().finalizes = finalizes;
}

void Joiner::on_deadline(uint64_t seq, std::vector<Sample>& out) {
  Pending& p = pending_.at(seq);
  const bool defer = settings_.feedback == Feedback::kDefer;
  if (p.click_ts < 0 || p.purchase_phase) {
    if (immediate()) {
      // Both labels final (unclicked: no purchase either), or the purchase
      // label. Its positives were learned when they joined; with defer a
      // real negative is learned a second time now.
      const uint8_t final_labels = p.click_ts < 0 ? kBothLabels : kPurchaseLabel;
      p.sample.finalizes = final_labels;
      p.sample.learns = defer && !p.sample.purchased ? final_labels : 0;
    }
    emit(seq, out);
    return;
  }
  if (immediate()) {
    copy_out(p.sample, 0, kClickLabel, out);  // the click was learned when it joined
  } else if (settings_.early_clicks) {
    copy_out(p.sample, kClickLabel, kClickLabel, out);
    p.sample.learns = p.sample.finalizes = kPurchaseLabel;
  }
  p.purchase_phase = true;
  p.deadline = p.click_ts + settings_.purchase_window_ms;
  deadlines_.emplace(p.deadline, seq);
}

// Puts `p`, the newest impression of its pair, at the head of its list in by_key_.
void Joiner::link(Pending& p) {
  auto [head, fresh] = by_key_.try_emplace(pair_key(p.sample.user_id, p.sample.item_id));
  p.older = fresh ? nullptr : *head;
  if (p.older) p.older->newer = &p;
  *head = &p;
}

// Takes `p` out of its pair's list in by_key_.
void Joiner::unlink(Pending& p) {
  if (p.older) p.older->newer = p.newer;
  if (p.newer) {
    p.newer->older = p.older;
    return;
  }
  uint64_t key = pair_key(p.sample.user_id, p.sample.item_id);
  if (p.older) *by_key_.find(key) = p.older;
  else by_key_.erase(key);
}

size_t Joiner::drop_pending_of(const std::unordered_set<std::string>& user_ids, std::vector<std::string>& dropped) {
  // One scan for all of them: forgetting is rare, and pending_ has no index
  // by user. Their
  // deadlines_ entries go stale and are skipped.
  size_t n = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!user_ids.contains(it->second.sample.user_id)) {
      ++it;
      continue;
    }
    unlink(it->second);
    dropped.push_back(std::move(it->second.sample.event_id));
    it = pending_.erase(it);
    ++n;
  }
  return n;
}

void Joiner::emit(uint64_t seq, std::vector<Sample>& out) {
  auto it = pending_.find(seq);
  Pending& p = it->second;
  unlink(p);
  // Remembered one click window past its deadline, to tell stragglers
  // (late) from events without any impression (orphan); not the whole
  // purchase window, which may be a day, for every impression shown.
  int64_t forget_at = std::max(p.deadline, watermark_) + settings_.click_window_ms;
  uint64_t ek = pair_key(p.sample.user_id, p.sample.item_id);
  emitted_[ek] = Emitted{p.sample.ts_ms, p.click_ts, forget_at};
  emitted_fifo_.emplace_back(forget_at, ek);
  // Bounded in count too (max_pending), not only in event time: a dense
  // stream emits more in a click window than memory should hold. A click
  // for one forgotten early counts as an orphan instead of late.
  while (emitted_fifo_.size() > static_cast<size_t>(std::max<int64_t>(1, settings_.max_pending))) {
    auto [oldest_forget_at, oldest] = emitted_fifo_.front();
    if (const Emitted* e = emitted_.find(oldest); e && e->forget_at == oldest_forget_at) emitted_.erase(oldest);
    emitted_fifo_.pop_front();
  }
  counters_.samples++;
  out.push_back(std::move(p.sample));
  pending_.erase(it);
}

void Joiner::emit_early(uint64_t seq, std::vector<Sample>& out) {
  if (immediate()) {
    // Everything it carried was learned already; what is not final yet
    // becomes final with the labels it has.
    Pending& p = pending_.at(seq);
    p.sample.learns = 0;
    p.sample.finalizes = p.purchase_phase ? kPurchaseLabel : kBothLabels;
  }
  emit(seq, out);
}

void Joiner::push_pending(Sample s, int64_t click_ts, std::vector<Sample>& out) {
  if (static_cast<int64_t>(pending_.size()) >= settings_.max_pending) {
    counters_.flushed_pending++;
    emit_early(pending_.begin()->first, out);
  }
  if (immediate()) {
    // Learned at once as a negative of every task (the fake negative), and
    // a click that stands for its own impression at once as a positive too.
    copy_out(s, kBothLabels, 0, out);
    out.back().clicked = out.back().purchased = false;
    out.back().value = 0;
    if (click_ts >= 0) copy_out(s, kClickLabel, 0, out);
  }
  uint64_t seq = next_seq_++;
  int64_t deadline = s.ts_ms + settings_.click_window_ms;
  deadlines_.emplace(deadline, seq);
  link(pending_.emplace(seq, Pending{std::move(s), click_ts, deadline, false}).first->second);
}

void Joiner::add_impression(const Event& e, RecentClicks recent_clicks, std::vector<Sample>& out) {
  counters_.impressions++;
  Sample s;
  s.event_id = e.event_id;
  s.user_id = e.user_id;
  s.item_id = e.item_id;
  s.request_id = e.request_id;
  s.ts_ms = e.ts_ms;
  s.context = e.context;
  s.recent_clicks = std::move(recent_clicks);
  push_pending(std::move(s), -1, out);
  last_was_impression_ = true;
}

void Joiner::add_click(const Event& e, RecentClicks recent_clicks, std::vector<Sample>& out) {
  counters_.clicks++;
  bool mismatch = false;
  if (Pending* const* newest = by_key_.find(pair_key(e.user_id, e.item_id))) {
    // The latest unclicked impression shown before the click, within the window.
    for (Pending* next = *newest; next;) {
      Pending& p = *next;
      next = p.older;
      if (p.sample.user_id != e.user_id || p.sample.item_id != e.item_id) continue;
      if (p.click_ts >= 0 || p.sample.ts_ms > e.ts_ms || e.ts_ms - p.sample.ts_ms > settings_.click_window_ms)
        continue;
      if (!e.request_id.empty() && p.sample.request_id != e.request_id) {
        mismatch = true;
        continue;
      }
      p.click_ts = e.ts_ms;
      p.sample.clicked = true;
      counters_.joined_clicks++;
      if (immediate()) copy_out(p.sample, kClickLabel, 0, out);  // the positive copy
      return;
    }
  }
  if (mismatch) {
    counters_.request_mismatches++;
    return;
  }
  // With negative sampling on (an impression-less stream) every click that
  // joins nothing is a positive, even a repeat of an earlier one.
  const int64_t negatives = negatives_per_click();
  if (emitted_.contains(pair_key(e.user_id, e.item_id)) && negatives <= 0) {
    counters_.late_clicks++;
    return;
  }
  counters_.orphan_clicks++;
  if (negatives <= 0 || catalog_ == nullptr) return;
  // Impression-less stream: the click stands for its own impression, and
  // random catalog items shown at the same moment stand for what the user
  // did not click; all wait out the click window like impressions.
  Sample positive;
  positive.event_id = e.event_id;
  positive.user_id = e.user_id;
  positive.item_id = e.item_id;
  positive.request_id = e.request_id;
  positive.ts_ms = e.ts_ms;
  positive.context = e.context;
  positive.clicked = true;
  positive.recent_clicks = std::move(recent_clicks);  // as they were before it
  if (settings_.popularity_negatives) positive.log_correction = catalog_->log_correction(e.item_id);
  for (int64_t i = 0; i < negatives; ++i) {
    float correction = 0;
    const Item* item = settings_.popularity_negatives ? catalog_->sample_popular(rng_, e.item_id, &correction)
                                                      : catalog_->sample_available(rng_, e.item_id);
    if (item == nullptr) break;
    Sample neg = positive;
    neg.event_id = e.event_id + "#neg" + std::to_string(i);
    neg.item_id = item->item_id;
    neg.log_correction = correction;
    neg.clicked = false;
    counters_.sampled_negatives++;
    push_pending(std::move(neg), -1, out);
  }
  push_pending(std::move(positive), e.ts_ms, out);
}

int64_t Joiner::negatives_per_click() const {
  if (settings_.negatives_until_impressions && counters_.impressions > 0) return 0;
  return settings_.negatives_per_click;
}

void Joiner::add_purchase(const Event& e, std::vector<Sample>& out) {
  counters_.purchases++;
  bool unclicked = false, mismatch = false;
  if (Pending* const* newest = by_key_.find(pair_key(e.user_id, e.item_id))) {
    for (Pending* next = *newest; next;) {
      Pending& p = *next;
      next = p.older;
      if (p.sample.user_id != e.user_id || p.sample.item_id != e.item_id) continue;
      if (p.click_ts < 0) {
        if (p.sample.ts_ms <= e.ts_ms) unclicked = true;
        continue;
      }
      if (p.sample.purchased || p.click_ts > e.ts_ms || e.ts_ms - p.click_ts > settings_.purchase_window_ms) continue;
      if (!e.request_id.empty() && p.sample.request_id != e.request_id) {
        mismatch = true;
        continue;
      }
      p.sample.purchased = true;
      p.sample.value = static_cast<float>(e.value.value_or(0.0));
      counters_.joined_purchases++;
      if (immediate()) copy_out(p.sample, kPurchaseLabel, 0, out);  // the positive copy
      return;
    }
  }
  if (mismatch) counters_.request_mismatches++;
  else if (unclicked) counters_.purchases_without_click++;
  else if (const Emitted* em = emitted_.find(pair_key(e.user_id, e.item_id)); em && em->click_ts >= 0)
    counters_.late_purchases++;
  else
    counters_.orphan_purchases++;
}

void Joiner::flush(std::vector<Sample>& out) {
  last_was_impression_ = false;
  while (!pending_.empty()) emit_early(pending_.begin()->first, out);
  deadlines_ = {};
}

void Joiner::save(ByteWriter& out) const {
  const uint64_t* c = reinterpret_cast<const uint64_t*>(&counters_);
  for (size_t i = 0; i < sizeof counters_ / sizeof(uint64_t); ++i) out.u64(c[i]);
  out.u64(rng_.state());
  out.i64(watermark_);
  out.u64(next_seq_);
  out.u64(pending_.size());
  for (auto& [seq, p] : pending_) {
    out.u64(seq);
    save_sample(out, p.sample);
    out.i64(p.click_ts);
    out.i64(p.deadline);
    out.u8(p.purchase_phase);
  }
  out.u64(emitted_fifo_.size());
  for (auto& [forget_at, key] : emitted_fifo_) {
    out.i64(forget_at);
    out.u64(key);
    const Emitted* e = emitted_.find(key);
    bool live = e && e->forget_at == forget_at;
    out.u8(live);
    out.i64(live ? e->ts : 0);
    out.i64(live ? e->click_ts : 0);
  }
  out.pod_vector(std::vector<uint64_t>(seen_fifo_.begin(), seen_fifo_.end()));
}

namespace {
// A time read back from a checkpoint: within reach of an event's (at most
// kMaxTimestampMs, plus windows of years), so that adding a window to it or
// subtracting two of them cannot overflow whatever a corrupt file holds.
bool plausible_time(int64_t ts_ms) { return ts_ms >= -4 * kMaxTimestampMs && ts_ms <= 4 * kMaxTimestampMs; }
}  // namespace

bool Joiner::load(ByteReader& in) {
  uint64_t* c = reinterpret_cast<uint64_t*>(&counters_);
  for (size_t i = 0; i < sizeof counters_ / sizeof(uint64_t); ++i) c[i] = in.u64();
  rng_.set_state(in.u64());
  watermark_ = in.i64();
  if (watermark_ != INT64_MIN && !plausible_time(watermark_)) in.fail("implausible watermark");
  next_seq_ = in.u64();
  pending_.clear();
  uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    uint64_t seq = in.u64();
    Pending p;
    p.sample = load_sample(in);
    p.click_ts = in.i64();
    p.deadline = in.i64();
    p.purchase_phase = in.u8() != 0;
    if (!plausible_time(p.sample.ts_ms) || !plausible_time(p.click_ts) || !plausible_time(p.deadline))
      in.fail("pending impression with an implausible time");
    pending_.emplace(seq, std::move(p));
  }
  emitted_.clear();
  emitted_fifo_.clear();
  n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    int64_t forget_at = in.i64();
    uint64_t key = in.u64();
    bool live = in.u8() != 0;
    int64_t ts = in.i64(), click_ts = in.i64();
    if (!plausible_time(forget_at) || !plausible_time(ts) || !plausible_time(click_ts))
      in.fail("emitted impression with an implausible time");
    emitted_fifo_.emplace_back(forget_at, key);
    if (live) emitted_[key] = Emitted{ts, click_ts, forget_at};
  }
  std::vector<uint64_t> seen;
  in.pod_vector(seen);
  seen_fifo_.assign(seen.begin(), seen.end());
  seen_ids_.clear();
  for (uint64_t h : seen) seen_ids_.insert(h);
  if (!in.ok()) return false;
  rebuild_indexes();
  return true;
}

void Joiner::rebuild_indexes() {
  by_key_.clear();
  deadlines_ = {};
  for (auto& [seq, p] : pending_) {  // oldest first, so each link() puts the newest at the head
    p.older = p.newer = nullptr;
    link(p);
    deadlines_.emplace(p.deadline, seq);
  }
}

}  // namespace streamrec::learner
