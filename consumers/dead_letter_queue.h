// Sends malformed messages to the dead-letter topic, unchanged, with headers
// that say why and where they came from:
//   error  = the decode error ("missing_field: user_id is required")
//   source = "<topic>/<partition>@<offset>" of the original message
//
// Never blocks on the topic: send() only queues (librdkafka retries for as
// long as it takes: message.timeout.ms is infinite), and the original stays
// pending until the topic acknowledged it. first_pending() tells the owner
// how far a partition may be committed, so a bad message is never lost: an
// unavailable dead-letter topic holds back commits, not the consumer, and a
// dead letter never acknowledged (the learner stopped first, or the topic
// refused it for good) is read and sent again after a restart.
//
// Owns its producer (idempotent, acks=all). Not thread-safe: one owner
// thread, which must call poll() now and then (it serves the
// acknowledgements).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/consumed.h"
#include "core/kafka.h"
#include "core/status.h"

namespace streamrec {

class DeadLetterQueue {
 public:
  static Result<DeadLetterQueue> create(const KafkaConfig& config);

  DeadLetterQueue(DeadLetterQueue&&) = default;
  DeadLetterQueue& operator=(DeadLetterQueue&&) = default;

  // Queues `original` for the topic; it is pending until acknowledged. An
  // Error (the producer refused it at once) leaves it pending for good.
  Status send(const rd_kafka_message_t& original, std::string_view error);
  // Serves acknowledgements without waiting.
  void poll();
  // Waits up to `timeout_ms` for every pending dead letter; an Error says
  // how many are still pending.
  Status flush(int timeout_ms);

  // The lowest offset of `partition` whose dead letter is not acknowledged.
  std::optional<int64_t> first_pending(const TopicPartition& partition) const;
  int64_t pending() const;
  int64_t sent() const { return sent_; }

 private:
  DeadLetterQueue() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

  // Shared with librdkafka's delivery-report callback, which runs inside
  // poll()/flush() on the owner's thread.
  struct Deliveries {
    std::map<TopicPartition, std::multiset<int64_t>> pending;  // originals not acknowledged
    int64_t failed = 0;
    std::string last_error;
  };
  // One per message in flight: where its original came from.
  struct Origin {
    Deliveries* deliveries;
    TopicPartition partition;
    int64_t offset;
  };
  std::unique_ptr<Deliveries> deliveries_;  // stable address for the callback
  KafkaClient producer_;
  std::string topic_;
  int64_t sent_ = 0;
};

}  // namespace streamrec
