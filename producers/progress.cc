#include "producers/progress.h"

#include <algorithm>

namespace streamrec {

namespace {
constexpr int kBarWidth = 24;
}

Progress::Progress(std::FILE* out, bool enabled, int64_t total)
    : out_(out), enabled_(enabled), total_(total), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::update(int64_t done, int64_t events, int64_t failed) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(done, events, failed);
}

void Progress::draw(int64_t done, int64_t events, int64_t failed) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = seconds > 0 ? events / seconds : 0;
  char bar[kBarWidth + 1];
  double fraction = total_ > 0 ? std::clamp(static_cast<double>(done) / total_, 0.0, 1.0) : 0;
  int filled = static_cast<int>(fraction * kBarWidth);
  for (int i = 0; i < kBarWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kBarWidth] = '\0';
  std::fprintf(out_, "\r\033[Kproduce [%s] %3d%%  %lld events  %.0f ev/s  %lld failed", bar,
               static_cast<int>(fraction * 100), static_cast<long long>(events), rate, static_cast<long long>(failed));
  std::fflush(out_);
  drawn_ = true;
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace streamrec
