// Microbenchmarks of the per-event work of `streamrec learn` outside Redis
// and Kafka, on the synthetic stream that bench/pipeline.sh produces
// (10 000 users, 2 000 items, slates of 5, 5% clicks, 10% purchases).
//
//   DecodeDedupe  one events-topic message: decode + duplicate-id window,
//                 as ConsumeLoop::add does it (without Kafka).
//   JoinLearn     one event: event-time merge over 6 partitions, joiner,
//                 impression-time scoring, training (the default learner
//                 with 30 s / 90 s label windows, so training starts early).
// Both report CPU time per event (the "per_event" counter, in seconds) and
// events/s.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "consumers/recent_ids.h"
#include "core/event.h"
#include "core/hash.h"
#include "pipeline/event_time_merger.h"
#include "online_learner/learner.h"
#include "producers/synthetic_stream.h"

namespace streamrec {
namespace {

constexpr int kPartitions = 6;

struct Stream {
  std::vector<Item> items;
  std::vector<Event> events;
};

const Stream& stream() {
  static const Stream s = [] {
    SyntheticConfig config;
    config.impressions = 200000;
    auto synthetic = SyntheticStream::create(config);
    Stream out;
    out.items = synthetic->catalog();
    GeneratedEvent g;
    while (synthetic->next(g)) out.events.push_back(std::move(g.event));
    return out;
  }();
  return s;
}

void per_event(benchmark::State& state, size_t events) {
  const auto n = static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(events);
  state.SetItemsProcessed(n);
  state.counters["per_event"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void DecodeDedupe(benchmark::State& state) {
  std::vector<std::string> messages;
  for (const Event& e : stream().events) messages.push_back(encode_event(e));
  for (auto _ : state) {
    state.PauseTiming();
    EventDecoder decoder;
    RecentIds recent(200000);  // consumer.dedupe_window
    std::vector<Event> batch;
    state.ResumeTiming();
    for (const std::string& m : messages) {
      auto decoded = decoder.decode_event(m);
      Event& event = std::get<Event>(decoded);
      if (recent.seen_before(event.event_id)) continue;
      batch.push_back(std::move(event));
      if (batch.size() == 5000) batch.clear();  // consumer.batch_max_messages
    }
  }
  per_event(state, messages.size());
}
BENCHMARK(DecodeDedupe)->Unit(benchmark::kMillisecond);

void JoinLearn(benchmark::State& state) {
  const Stream& s = stream();
  LearnerConfig config;
  config.click_window_s = 30;
  config.purchase_window_s = 90;
  for (auto _ : state) {
    state.PauseTiming();
    auto learner = std::move(learner::Learner::create(config)).value();
    for (const Item& item : s.items) learner->add_item(item);
    pipeline::EventTimeMerger merger;
    learner::RecentClicksBook recent_clicks(config.recent_clicks, config.max_users);  // the consumer side's
    std::vector<learner::EventWithRecentClicks> ready;
    state.ResumeTiming();
    int64_t offset = 0;
    for (size_t i = 0; i < s.events.size(); ++i) {
      const Event& e = s.events[i];
      merger.push({"events", static_cast<int32_t>(hash64(e.user_id) % kPartitions)}, offset++, e,
                  learner::needs_recent_clicks(e) ? recent_clicks.of(e.user_id) : learner::RecentClicks{});
      if (e.type == EventType::kClick) recent_clicks.remember(e);
      if (i % 5000 == 4999 || i + 1 == s.events.size()) {  // one consumer batch
        ready.clear();
        merger.pop_ready(ready);
        for (auto& r : ready) learner->add_event(r.event, std::move(r.recent_clicks));
      }
    }
    ready.clear();
    merger.pop_all(ready);
    for (auto& r : ready) learner->add_event(r.event, std::move(r.recent_clicks));
    benchmark::DoNotOptimize(learner->samples_learned());
    state.PauseTiming();
    learner.reset();
    state.ResumeTiming();
  }
  per_event(state, s.events.size());
}
BENCHMARK(JoinLearn)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace streamrec

BENCHMARK_MAIN();
