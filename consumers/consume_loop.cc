#include "consumers/consume_loop.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>

namespace streamrec {
namespace {
// How long a stop waits for the dead-letter topic to take what is pending.
constexpr int kDeadLetterFlushMs = 5000;
using Clock = std::chrono::steady_clock;
}  // namespace

Result<std::unique_ptr<ConsumeLoop>> ConsumeLoop::create(const Config& config, EventSink& sink) {
  auto dlq = DeadLetterQueue::create(config.kafka);
  if (!dlq.ok()) return dlq.error();
  std::unique_ptr<ConsumeLoop> loop(new ConsumeLoop(config, sink, std::move(dlq).value()));
  ConsumeLoop* self = loop.get();
  // The group splits the events; every learner reads all of items (the
  // catalog), outside the group.
  auto consumer = GroupConsumer::create(
      config, {config.kafka.events_topic},
      [self](const std::vector<TopicPartition>& revoked) {
        self->in_revoke_ = true;
        if (Status s = self->finish_batch(); !s.ok() && self->failure_.ok()) self->failure_ = s;
        self->in_revoke_ = false;
        self->commit(/*force=*/true);
        // Held back for a dead letter: the next owner reads from there.
        for (const TopicPartition& p : revoked) {
          self->durable_offsets_.erase({p.topic, p.partition});
          self->committed_.erase({p.topic, p.partition});
        }
        self->sink_.partitions_revoked(revoked, self->closing_);
      },
      [self](const TopicPartition& partition) { return self->start_of(partition); });
  if (!consumer.ok()) return consumer.error();
  loop->consumer_ = std::move(consumer).value();
  auto items = TopicReader::create(config, config.kafka.items_topic,
                                   [self](const TopicPartition& partition) { return self->start_of(partition); });
  if (!items.ok()) return items.error();
  loop->items_ = std::move(items).value();
  return loop;
}

ConsumeLoop::ConsumeLoop(const Config& config, EventSink& sink, DeadLetterQueue dlq)
    : config_(config),
      sink_(sink),
      dlq_(std::move(dlq)),
      decoder_(DecodeLimits{.max_future_skew_ms = config.consumer.max_future_skew_s * 1000}) {}

const std::string& ConsumeLoop::cluster_id() {
  if (!cluster_id_) {
    cluster_id_ = consumer_->cluster_id(5000);
    if (cluster_id_->empty()) spdlog::warn("kafka: the cluster did not give its id; offset marks use topic/partition only");
  }
  return *cluster_id_;
}

ConsumeLoop::~ConsumeLoop() {
  closing_ = true;
  if (consumer_) consumer_->close();
}

std::optional<int64_t> ConsumeLoop::start_of(const TopicPartition& assigned) {
  std::optional<int64_t> start = sink_.start_offset(cluster_id(), assigned);
  if (assigned.topic != config_.kafka.events_topic) return start;
  Partition& partition = partition_of(assigned.topic, assigned.partition);
  partition.remember_until = -1;
  // Offsets committed mean their effects were in Redis: it must still have
  // marks for this partition (a check of Redis against Kafka after a
  // restart; the sink stops with a fatal error if they are gone).
  std::optional<int64_t> committed = consumer_->committed(assigned, 5000);
  if (committed && *committed > 0) sink_.expect_applied(partition.source);
  if (!start) start = committed;
  auto held = consumer_->watermarks(assigned, 5000);
  // The sink learns where its state of the partition begins before any
  // message comes: a checkpoint taken before the partition delivers must
  // name it, or a restart would read it from the offsets committed since,
  // past messages applied but not in that checkpoint's state.
  if (start) sink_.reading_from(assigned, *start);
  else if (held) sink_.reading_from(assigned, held->first);  // new to the group: from its beginning
  if (!start) return std::nullopt;  // new to the group: nothing before it was consumed
  // Re-read only what the partition holds: from no earlier than its first
  // offset (so auto.offset.reset never applies), and not at all when it
  // ends before the start (a truncated log: what comes is new).
  if (config_.consumer.dedupe_window == 0 || !held || held->second < *start) return start;
  const int64_t rewind = dedupe_window_per_partition();
  const int64_t from = std::max(*start - rewind, held->first);
  if (from >= *start) return start;
  partition.remember_until = *start;
  return from;
}

int64_t ConsumeLoop::dedupe_window_per_partition() {
  // Asked once; if the cluster does not say, each partition keeps the whole window.
  if (events_partitions_ == 0)
    events_partitions_ = std::max(consumer_->partition_count(config_.kafka.events_topic, 5000), 1);
  return config_.consumer.dedupe_window / events_partitions_;
}

ConsumeLoop::Partition& ConsumeLoop::partition_of(std::string_view topic, int32_t partition) {
  auto is = [&](const Partition& p) { return p.partition == partition && p.topic == topic; };
  if (last_partition_ && is(*last_partition_)) return *last_partition_;
  for (auto& p : partitions_)
    if (is(*p)) return *(last_partition_ = p.get());
  auto p = std::make_unique<Partition>();
  p->topic = topic;
  p->partition = partition;
  const std::string& cluster = cluster_id();
  p->source = (cluster.empty() ? "" : cluster + "/") + p->topic + "/" + std::to_string(p->partition);
  p->items = topic == config_.kafka.items_topic;
  if (topic == config_.kafka.events_topic && config_.consumer.dedupe_window > 0)
    p->recent_ids = RecentIds(static_cast<size_t>(dedupe_window_per_partition()));
  partitions_.push_back(std::move(p));
  return *(last_partition_ = partitions_.back().get());
}

void ConsumeLoop::add(KafkaMessage message) {
  if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    // Reported once the messages before it are applied (see finish_batch).
    reached_end_.push_back({{rd_kafka_topic_name(message->rkt), message->partition}, message->offset});
    return;
  }
  if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
    // E.g. FENCED_INSTANCE_ID: another learner joined with this
    // consumer.group_instance_id. The consumer can do nothing more: stop.
    if (failure_.ok())
      failure_ = Error{"kafka: fatal consumer error: " + std::string(rd_kafka_message_errstr(message.get())) +
                       (config_.consumer.group_instance_id.empty()
                            ? std::string()
                            : " (is consumer.group_instance_id \"" + config_.consumer.group_instance_id +
                                  "\" used by another learner?)")};
    return;
  }
  if (message->err) {
    spdlog::warn("kafka: {}", rd_kafka_message_errstr(message.get()));
    return;
  }
  Partition& from = partition_of(rd_kafka_topic_name(message->rkt), message->partition);
  std::string_view payload(static_cast<const char*>(message->payload), message->len);
  if (message->offset < from.remember_until) {
    // Applied (or dead-lettered) before this assignment: only its id counts.
    auto decoded = decoder_.decode_event(payload);
    if (auto* event = std::get_if<Event>(&decoded)) from.recent_ids.seen_before(event->event_id);
    ++stats_.remembered;
    return;
  }
  ++stats_.messages;
  ++batch_messages_;
  from.batch_next = message->offset + 1;

  rd_kafka_timestamp_type_t ts_type;
  int64_t kafka_ts = rd_kafka_message_timestamp(message.get(), &ts_type);
  MessageOrigin origin{from.source, from.topic, message->partition, message->offset, kafka_ts};
  auto dead_letter = [&](const DecodeError& error) {
    // Never stops the consumer: an unsent dead letter holds back its
    // partition's commits (DeadLetterQueue::first_pending).
    if (Status s = dlq_.send(*message, error.message); !s.ok()) spdlog::error("{}", s.message());
    ++stats_.dead_letters;
    ++stats_.dead_letters_by_reason[static_cast<size_t>(error.code)];
  };
  if (from.items) {
    auto decoded = decoder_.decode_item(payload);
    if (auto* error = std::get_if<DecodeError>(&decoded)) return dead_letter(*error);
    batch_.items.push_back({std::move(std::get<Item>(decoded)), origin});
    return;
  }
  auto decoded = decoder_.decode_event(payload);
  if (auto* error = std::get_if<DecodeError>(&decoded)) return dead_letter(*error);
  Event& event = std::get<Event>(decoded);
  if (from.recent_ids.seen_before(event.event_id)) {
    ++stats_.duplicates;
    return;
  }
  // Both within [0, kMaxTimestampMs] and the horizon within ten years: no overflow.
  if (config_.consumer.late_horizon_s > 0 && event.ts_ms < newest_event_ms_ - config_.consumer.late_horizon_s * 1000)
    ++stats_.late;
  newest_event_ms_ = std::max(newest_event_ms_, event.ts_ms);
  batch_.events.push_back({std::move(event), origin});
}

Status ConsumeLoop::finish_batch() {
  if (batch_messages_ == 0) return {};
  if (!failure_.ok()) return failure_;

  if (Status s = until_sink_succeeds([&] { return sink_.apply(batch_); }); !s.ok()) return s;
  stats_.events += static_cast<int64_t>(batch_.events.size());
  stats_.items += static_cast<int64_t>(batch_.items.size());
  ++stats_.batches;
  CommitOffsets& applied = applied_offsets_[sink_.write_mark()];
  for (auto& p : partitions_) {
    if (p->batch_next < 0) continue;
    // Items are read outside the group: nothing to commit (a checkpoint
    // keeps their positions).
    if (!p->items) applied[{p->topic, p->partition}] = p->batch_next;
    p->batch_next = -1;
  }
  batch_.items.clear();
  batch_.events.clear();
  batch_messages_ = 0;
  report_partition_ends();
  return {};
}

void ConsumeLoop::report_partition_ends() {
  for (const auto& [partition, end_offset] : reached_end_) sink_.partition_end(partition, end_offset);
  reached_end_.clear();
}

void ConsumeLoop::log_sink_failure(const Status& failure, const char* then) {
  sink_failures_in_a_row_ = failure.message() == last_sink_failure_ ? sink_failures_in_a_row_ + 1 : 1;
  last_sink_failure_ = failure.message();
  const double failing_s = std::chrono::duration<double>(Clock::now() - sink_failing_since_).count();
  // A blip (Redis restarting, a timeout) is a warning; the same failure
  // again and again (Redis rejecting the write, full, read-only) is an
  // error that says so, since nothing is committed until it is fixed.
  if (sink_failures_in_a_row_ < 3)
    spdlog::warn("{}; {}", failure.message(), then);
  else
    spdlog::error("the sink failed the same way {} times in {:.0f} s; nothing is committed until it succeeds: {}; {}",
                  sink_failures_in_a_row_, failing_s, failure.message(), then);
}

void ConsumeLoop::note_sink_result(const Status& result, const char* then) {
  if (result.ok()) {
    sink_failures_in_a_row_ = 0;
    last_sink_failure_.clear();
    return;
  }
  if (sink_failures_in_a_row_ == 0) sink_failing_since_ = Clock::now();
  log_sink_failure(result, then);
}

Status ConsumeLoop::until_sink_succeeds(const std::function<Status()>& attempt) {
  auto backoff = std::chrono::milliseconds(100);
  const auto failing_since = Clock::now();
  for (int attempts = 1;; ++attempts) {
    Status s = attempt();
    // Retrying cannot help (Redis lost data): the run ends, loudly.
    if (s.fatal()) return s;
    if (s.ok()) {
      resume_after_retry();
      if (attempts > 1) spdlog::info("sink: written after {} attempts", attempts);
      note_sink_result(s, "");
      return {};
    }
    ++stats_.sink_retries;
    if (stop_ && stop_->stop_requested())
      return Error{"stopped while a batch was not durable (not committed): " + s.message()};
    // A run that ends when the stream goes quiet also ends when it cannot
    // go on: nothing is consumed while the sink fails.
    if (stop_after_idle_.count() > 0 && Clock::now() - failing_since >= stop_after_idle_)
      return Error{fmt::format("gave up after {:.1f} s of failed writes (--stop-after-idle), the batch is not durable "
                               "(not committed): {}",
                               std::chrono::duration<double>(Clock::now() - failing_since).count(), s.message())};
    note_sink_result(s, fmt::format("retrying in {} ms", backoff.count()).c_str());
    wait_for_retry(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

void ConsumeLoop::wait_for_retry(std::chrono::milliseconds how_long) {
  const auto until = Clock::now() + how_long;
  auto stopping = [&] { return stop_ && stop_->stop_requested(); };
  // Inside the revoke hook (or before run()) the consumer cannot be polled:
  // sleep, in slices, so that a stop does not wait for the whole backoff.
  if (in_revoke_ || !stop_) {
    while (Clock::now() < until && !stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return;
  }
  if (!paused_) {
    consumer_->pause();
    paused_ = true;
    spdlog::warn("sink failing: pausing the events partitions, polling on to keep this learner in the group");
  }
  while (!stopping()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) break;
    // Serves heartbeats and rebalances; a partition assigned meanwhile is
    // not paused, and what it yields waits for the retry.
    if (KafkaMessage message = consumer_->poll(static_cast<int>(std::min<int64_t>(left, 50))))
      kept_.push_back(std::move(message));
  }
}

void ConsumeLoop::resume_after_retry() {
  if (!paused_) return;
  consumer_->resume();
  paused_ = false;
  spdlog::info("sink written again: events partitions resumed");
}

KafkaMessage ConsumeLoop::next_message(int timeout_ms) {
  if (kept_.empty()) return consumer_->poll(timeout_ms);
  KafkaMessage message = std::move(kept_.front());
  kept_.pop_front();
  return message;
}

void ConsumeLoop::commit(bool force) {
  // Before partitions go elsewhere, or at the end, what the sink holds back
  // is written; otherwise only what it has written already is committed.
  // After a failure that ends the run, nothing more is tried.
  if (force && !applied_offsets_.empty() && failure_.ok())
    if (Status s = until_sink_succeeds([&] { return sink_.flush(); }); !s.ok() && failure_.ok()) failure_ = s;
  // Nothing is committed after a fatal failure: Redis cannot be trusted.
  if (failure_.fatal()) return;
  const uint64_t durable = sink_.durable_mark();
  for (auto it = applied_offsets_.begin(); it != applied_offsets_.end() && it->first <= durable;
       it = applied_offsets_.erase(it))
    for (const auto& [partition, next] : it->second) durable_offsets_[partition] = next;
  if (durable_offsets_.empty()) return;
  auto now = Clock::now();
  if (!force && now - last_commit_ < std::chrono::milliseconds(config_.consumer.commit_interval_ms)) return;
  last_commit_ = now;
  // No further than the first dead letter the dead-letter topic has not
  // acknowledged: the rest of such a partition is committed later (or, if
  // the learner stops first, read again, the dead letter with it).
  CommitOffsets now_committed;
  for (auto it = durable_offsets_.begin(); it != durable_offsets_.end();) {
    std::optional<int64_t> held = dlq_.first_pending({it->first.first, it->first.second});
    if (held && *held < it->second) {
      auto& last = committed_[it->first];
      if (*held > last) now_committed[it->first] = last = *held;
      ++it;
      continue;
    }
    now_committed[it->first] = committed_[it->first] = it->second;
    it = durable_offsets_.erase(it);
  }
  if (now_committed.empty()) return;
  // A failed commit is not fatal: the effects are idempotent, so the worst
  // case is that these messages are re-delivered and skipped.
  if (Status s = consumer_->commit(now_committed); !s.ok()) {
    ++stats_.commit_failures;
    spdlog::warn("{}", s.message());
  } else {
    ++stats_.commits;
  }
}

std::string to_json(const ConsumeStats& s) {
  std::string reasons;
  for (int code = 0; code < kDecodeErrorCodeCount; ++code) {
    if (s.dead_letters_by_reason[code] == 0) continue;
    fmt::format_to(std::back_inserter(reasons), "{}\"{}\":{}", reasons.empty() ? "" : ",",
                   to_string(static_cast<DecodeErrorCode>(code)), s.dead_letters_by_reason[code]);
  }
  std::string lags;
  for (const auto& [partition, lag] : s.lag_by_partition)
    fmt::format_to(std::back_inserter(lags), "{}\"{}\":{}", lags.empty() ? "" : ",", partition, lag);
  return fmt::format(
      "{{\"messages\":{},\"events\":{},\"items\":{},\"duplicates\":{},\"late\":{},\"remembered\":{},\"dead_letters\":{},\"dead_letters_pending\":{},\"dead_letters_by_reason\":{{{}}},"
      "\"batches\":{},\"commits\":{},\"sink_retries\":{},\"commit_failures\":{},\"lag\":{},\"lag_by_partition\":{{{}}}}}",
      s.messages, s.events, s.items, s.duplicates, s.late, s.remembered, s.dead_letters, s.dead_letters_pending, reasons, s.batches, s.commits, s.sink_retries,
      s.commit_failures, s.lag, lags);
}

void ConsumeLoop::report(const char* what, const ConsumeOptions& options) {
  stats_.lag = consumer_->lag(config_.kafka.events_topic, &stats_.lag_by_partition);
  stats_.dead_letters_pending = dlq_.pending();
  spdlog::info("learn {}: {} messages, {} events, {} items, {} dead-lettered, {} duplicates, {} batches, {} commits, "
               "lag {} events",
               what, stats_.messages, stats_.events, stats_.items, stats_.dead_letters, stats_.duplicates,
               stats_.batches, stats_.commits, stats_.lag);
  if (options.stats_file.empty() && !options.on_report) return;
  const std::string json = "{\"consumer\":" + to_json(stats_) +
                           ",\"sink\":" + sink_.stats_json(/*final=*/std::string_view(what) == "done") + "}";
  if (options.on_report) options.on_report(json);
  if (options.stats_file.empty()) return;
  // Written then renamed, so a reader never sees half a file.
  std::string tmp = options.stats_file + ".tmp";
  {
    std::ofstream out(tmp);
    out << json << "\n";
  }
  std::rename(tmp.c_str(), options.stats_file.c_str());
}

Status ConsumeLoop::run(const StopSignal& stop, const ConsumeOptions& options) {
  stop_ = &stop;
  stop_after_idle_ = options.stop_after_idle;
  const auto batch_window = std::chrono::milliseconds(config_.consumer.batch_max_ms);
  const auto max_messages = static_cast<size_t>(config_.consumer.batch_max_messages);
  last_commit_ = Clock::now();
  auto last_message = Clock::now();
  auto last_status = Clock::now();
  auto batch_started = Clock::now();
  auto last_tick = Clock::now();
  int64_t assignments = consumer_->assignments();

  while (!stop.stop_requested() && failure_.ok()) {
    auto now = Clock::now();
    int timeout_ms = 100;
    if (batch_messages_ > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(batch_started + batch_window - now).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 100));
    }
    // Items first, without waiting: a catalog change is due before the
    // events that may name its items.
    for (size_t n = 0; n < max_messages && batch_messages_ < max_messages; ++n) {
      KafkaMessage item = items_->poll(0);
      if (!item) break;
      if (batch_messages_ == 0) batch_started = Clock::now();
      if (!item->err) last_message = Clock::now();
      add(std::move(item));
    }
    KafkaMessage message = next_message(batch_messages_ >= max_messages ? 0 : timeout_ms);
    now = Clock::now();
    if (message) {
      if (batch_messages_ == 0) batch_started = now;
      if (!message->err) last_message = now;
      add(std::move(message));
    }
    if (batch_messages_ == 0) report_partition_ends();
    if (batch_messages_ >= max_messages || (batch_messages_ > 0 && now - batch_started >= batch_window)) {
      if (Status s = finish_batch(); !s.ok()) failure_ = s;
      commit(/*force=*/false);
    }
    dlq_.poll();
    if (now - last_tick >= std::chrono::milliseconds(10)) {
      last_tick = now;
      Status ticked = sink_.tick();
      // A tick that wrote nothing says nothing about the sink: only its failures count.
      if (!ticked.ok()) note_sink_result(ticked, "retried with the next write");
      if (ticked.fatal() && failure_.ok()) failure_ = ticked;
      commit(/*force=*/false);  // the tick may have made the sink durable
    }
    if (now - last_status >= options.status_interval) {
      report("status", options);
      last_status = now;
    }
    // Idle time counts from the latest assignment, never before the first:
    // joining the group alone takes seconds, and a new partition may bring a
    // backlog.
    if (consumer_->assignments() != assignments) {
      assignments = consumer_->assignments();
      last_message = now;
    }
    if (options.stop_after_idle.count() > 0 && assignments > 0 && now - last_message >= options.stop_after_idle) {
      spdlog::info("learn: no message for {} ms, stopping", options.stop_after_idle.count());
      break;
    }
  }
  if (failure_.ok())
    if (Status s = finish_batch(); !s.ok()) failure_ = s;
  if (Status s = dlq_.flush(kDeadLetterFlushMs); !s.ok())
    spdlog::error("{}; their partitions are committed up to the first of them, which the next start reads again",
                  s.message());
  commit(/*force=*/true);
  closing_ = true;
  consumer_->close();
  report("done", options);
  return failure_;
}

}  // namespace streamrec
