// Sends messages to Kafka and counts what the brokers acknowledged.
//
// KafkaProducer owns one librdkafka producer, idempotent
// (enable.idempotence=true, so acks=all and no duplicates or reordering
// within a partition on retries). send() only queues a copy of the message;
// when librdkafka's local queue is full it waits, serving delivery reports,
// until there is room. Every message ends as delivered() or failed(), counted
// by the delivery-report callback, which runs on the calling thread inside
// send(), poll() and flush(). flush() waits for all of them; the destructor
// flushes too (for up to 10 s) so that nothing queued is silently dropped.
//
// Errors are values: a message that cannot even be queued (too large, unknown
// topic) is an Error from send() and is also counted as failed.
// Not thread-safe: one owner thread. Movable, not copyable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/kafka.h"
#include "core/status.h"

namespace streamrec {

class KafkaProducer {
 public:
  // kafka.bootstrap_servers and kafka.properties.* apply; `client_id` names
  // the client in broker logs.
  static Result<KafkaProducer> create(const KafkaConfig& config, const std::string& client_id = "streamrec-producer");

  KafkaProducer(KafkaProducer&&) = default;
  KafkaProducer& operator=(KafkaProducer&&) = default;
  ~KafkaProducer();

  // Queues `value` for `topic`, keyed by `key` (a null key when empty: the
  // partitioner then spreads such messages).
  Status send(const std::string& topic, std::string_view key, std::string_view value);

  // Serves pending delivery reports without waiting.
  void poll();

  // Waits up to `timeout_ms` (-1: no limit) for every queued message to be
  // delivered or failed. An Error if some are still in flight.
  Status flush(int timeout_ms);

  // Drops whatever is still queued; those messages count as failed.
  void purge();

  int64_t queued() const { return queued_; }
  int64_t delivered() const { return counts_->delivered; }
  int64_t failed() const { return counts_->failed; }
  int64_t in_flight() const { return queued_ - counts_->delivered - counts_->failed; }
  // The most recent failure, "" if none.
  const std::string& last_error() const { return counts_->last_error; }

 private:
  KafkaProducer() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);

  struct Counts {
    int64_t delivered = 0;
    int64_t failed = 0;
    std::string last_error;
  };
  // Declared before producer_ so it outlives it: the callback writes here.
  std::unique_ptr<Counts> counts_;
  KafkaClient producer_;
  int64_t queued_ = 0;
};

}  // namespace streamrec
