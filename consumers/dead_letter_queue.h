// Sends malformed messages to the dead-letter topic, unchanged, with headers
// that say why and where they came from:
//   error  = the decode error ("missing_field: user_id is required")
//   source = "<topic>/<partition>@<offset>" of the original message
//
// Owns its producer (idempotent, acks=all). send() only queues; flush()
// waits until every queued message is acknowledged and returns an Error if
// any was not -- the caller must then not commit the originals' offsets, so
// a bad message is never lost. Not thread-safe: one owner thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/kafka.h"
#include "core/status.h"

namespace streamrec {

class DeadLetterQueue {
 public:
  static Result<DeadLetterQueue> create(const KafkaConfig& config);

  DeadLetterQueue(DeadLetterQueue&&) = default;
  DeadLetterQueue& operator=(DeadLetterQueue&&) = default;

  Status send(const rd_kafka_message_t& original, std::string_view error);
  Status flush(int timeout_ms);

  int64_t sent() const { return sent_; }

 private:
  DeadLetterQueue() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

  // Delivery failures since the last flush(), counted by librdkafka's
  // delivery-report callback (served from flush() on this thread).
  struct Deliveries {
    int64_t failed = 0;
    std::string last_error;
  };
  std::unique_ptr<Deliveries> deliveries_;  // stable address for the callback
  KafkaClient producer_;
  std::string topic_;
  int64_t sent_ = 0;
};

}  // namespace streamrec
