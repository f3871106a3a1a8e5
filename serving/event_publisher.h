// Produces the events of POST /v1/events to Kafka and reports, per request,
// once the broker acknowledged (or refused) every one of them.
//
// Owns one idempotent librdkafka producer (enable.idempotence: acks=all, no
// duplicates or reordering on retries) and one thread (streamrec-acks) that
// serves its delivery reports. publish() only queues; `done` is called
// exactly once per publish(), on that thread (or in publish() itself when
// nothing could be queued), with one entry per message: "" when the broker
// acknowledged it, else why not.
//
// Threads: publish() and reachable() may be called from any thread.
// Destruction waits up to 10 s for what is in flight, then purges the rest,
// which is reported to its `done` as failed: no `done` is lost.
// Errors: create() names a rejected Kafka property; a message that cannot be
// queued (the local queue is full, the topic unknown) fails at once.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/kafka.h"
#include "core/status.h"

namespace streamrec::serving {

struct KeyedMessage {
  std::string key;
  std::string value;
};

class EventPublisher {
 public:
  using Done = std::function<void(std::vector<std::string> errors)>;

  static Result<std::unique_ptr<EventPublisher>> create(const KafkaConfig& config);
  ~EventPublisher();
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;

  void publish(const std::string& topic, const std::vector<KeyedMessage>& messages, Done done);

  // Whether a broker answers a metadata request within `timeout_ms`.
  Status reachable(int timeout_ms);

 private:
  struct Batch;
  struct Slot;
  EventPublisher() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*);
  static void finish(const std::shared_ptr<Batch>& batch);

  KafkaClient producer_;
  std::atomic<bool> stopping_{false};
  std::thread acks_;
};

}  // namespace streamrec::serving
