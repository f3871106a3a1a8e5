#include "producers/produce.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include "producers/kafka_producer.h"
#include "producers/message_key.h"
#include "producers/pacer.h"
#include "producers/synthetic_stream.h"

namespace streamrec {

namespace {

constexpr int64_t kPollEvery = 1024;       // serve delivery reports this often
constexpr int kDrainAfterStopMs = 5000;    // delivery grace after a stop request

bool stopping(const ProduceHooks& hooks) { return hooks.stop && hooks.stop(); }

// One run: the producer, the clock, and the counts.
class Run {
 public:
  Run(KafkaProducer producer, const ProduceHooks& hooks, int64_t total)
      : producer_(std::move(producer)), hooks_(hooks), total_(total), start_(std::chrono::steady_clock::now()) {}

  void send(const std::string& topic, std::string_view key, std::string_view value, bool is_event) {
    // A message that cannot be queued is already counted as failed.
    (void)producer_.send(topic, key, value);
    (is_event ? report_.events : report_.items)++;
    if ((report_.events + report_.items) % kPollEvery == 0) producer_.poll();
  }

  void progress(int64_t done) {
    if ((report_.events + report_.items) % 256 == 0 && hooks_.progress) {
      hooks_.progress(done, total_, report_.events, producer_.failed());
    }
  }

  // Waits for every acknowledgement (each message is delivered or fails
  // within message.timeout.ms), or drops the rest soon after a stop.
  ProduceReport finish(int64_t done) {
    report_.interrupted = stopping(hooks_);
    auto stop_seen = std::optional<std::chrono::steady_clock::time_point>();
    while (producer_.in_flight() > 0) {
      (void)producer_.flush(100);
      if (hooks_.progress) hooks_.progress(done, total_, report_.events, producer_.failed());
      if (stopping(hooks_)) {
        report_.interrupted = true;
        auto now = std::chrono::steady_clock::now();
        if (!stop_seen) stop_seen = now;
        if (now - *stop_seen > std::chrono::milliseconds(kDrainAfterStopMs)) producer_.purge();
      }
    }
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    report_.delivered = producer_.delivered();
    report_.failed = producer_.failed();
    report_.last_error = producer_.last_error();
    return report_;
  }

 private:
  KafkaProducer producer_;
  const ProduceHooks& hooks_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_;
  ProduceReport report_;
};

}  // namespace

Result<ProduceReport> produce_synthetic(const Config& config, const ProduceHooks& hooks) {
  auto stream = SyntheticStream::create(config.producer.synthetic);
  if (!stream.ok()) return stream.error();
  auto producer = KafkaProducer::create(config.kafka);
  if (!producer.ok()) return producer.error();
  Run run(std::move(producer).value(), hooks, config.producer.synthetic.impressions);

  for (const Item& item : stream->opening_catalog()) {
    if (stopping(hooks)) return run.finish(0);
    run.send(config.kafka.items_topic, item.item_id, encode_item(item), false);
  }
  Pacer pacer(config.producer.rate);
  GeneratedEvent g;
  int64_t impressions = 0;
  for (int64_t n = 0; !stopping(hooks) && stream->next(g);) {
    if (g.item) {  // a launch or retirement, in its place in event time
      run.send(config.kafka.items_topic, g.item->item_id, encode_item(*g.item), false);
      continue;
    }
    pacer.wait_turn(n++, hooks.stop);
    impressions += g.truth.has_value();
    run.send(config.kafka.events_topic, g.event.user_id, encode_event(g.event), true);
    run.progress(impressions);
  }
  return run.finish(impressions);
}

Result<ProduceReport> produce_replay(const Config& config, const std::string& events_file,
                                     const std::string& items_file, const ProduceHooks& hooks) {
  if (events_file.empty() && items_file.empty()) return Error{"replay: no file given"};
  struct Source {
    const std::string& path;
    const std::string& topic;
    const char* key_field;
    bool events;
  };
  const Source sources[] = {{items_file, config.kafka.items_topic, "item_id", false},
                            {events_file, config.kafka.events_topic, "user_id", true}};
  int64_t total_bytes = 0;
  for (const Source& s : sources) {
    if (s.path.empty()) continue;
    std::error_code ec;
    auto size = std::filesystem::file_size(s.path, ec);
    if (ec) return Error{"replay: " + s.path + ": " + ec.message()};
    total_bytes += static_cast<int64_t>(size);
  }

  auto producer = KafkaProducer::create(config.kafka);
  if (!producer.ok()) return producer.error();
  Run run(std::move(producer).value(), hooks, total_bytes);
  Pacer pacer(config.producer.rate);
  int64_t bytes = 0, events = 0;
  for (const Source& s : sources) {
    if (s.path.empty()) continue;
    std::ifstream in(s.path, std::ios::binary);
    if (!in) return Error{"replay: cannot open " + s.path};
    KeyReader keys(s.key_field);
    for (std::string line; !stopping(hooks) && std::getline(in, line);) {
      if (s.events) pacer.wait_turn(events++, hooks.stop);
      run.send(s.topic, keys.read(line), line, s.events);
      bytes += static_cast<int64_t>(line.size()) + 1;
      run.progress(bytes);
    }
    if (in.bad()) return Error{"replay: error reading " + s.path};
  }
  return run.finish(bytes);
}

Result<ProduceReport> produce_dataset(const Config& config, const Dataset& dataset, const ProduceHooks& hooks) {
  auto producer = KafkaProducer::create(config.kafka);
  if (!producer.ok()) return producer.error();
  const int64_t total = static_cast<int64_t>(dataset.events.size());
  Run run(std::move(producer).value(), hooks, total);
  for (const DatasetItem& i : dataset.items) {
    if (stopping(hooks)) return run.finish(0);
    run.send(config.kafka.items_topic, i.item.item_id, encode_item(i.item), false);
  }
  Pacer pacer(config.producer.rate);
  int64_t n = 0;
  for (const Event& e : dataset.events) {
    if (stopping(hooks)) break;
    pacer.wait_turn(n++, hooks.stop);
    run.send(config.kafka.events_topic, e.user_id, encode_event(e), true);
    run.progress(n);
  }
  return run.finish(n);
}

}  // namespace streamrec
