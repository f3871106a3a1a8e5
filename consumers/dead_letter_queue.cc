#include "consumers/dead_letter_queue.h"

#include <spdlog/spdlog.h>

namespace streamrec {

void DeadLetterQueue::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  std::unique_ptr<Origin> origin(static_cast<Origin*>(message->_private));
  if (!origin) return;
  Deliveries& d = *origin->deliveries;
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Stays pending: its partition is committed no further, and a restart
    // reads it and sends it again.
    ++d.failed;
    d.last_error = rd_kafka_err2str(message->err);
    spdlog::error("dead-letter queue: {}/{}@{} not delivered ({}); its offset is not committed, it is sent again "
                  "after a restart",
                  origin->partition.topic, origin->partition.partition, origin->offset, d.last_error);
    return;
  }
  auto it = d.pending.find(origin->partition);
  if (it == d.pending.end()) return;
  if (auto at = it->second.find(origin->offset); at != it->second.end()) it->second.erase(at);
  if (it->second.empty()) d.pending.erase(it);
}

Result<DeadLetterQueue> DeadLetterQueue::create(const KafkaConfig& config) {
  DeadLetterQueue dlq;
  dlq.deliveries_ = std::make_unique<Deliveries>();
  dlq.topic_ = config.dlq_topic;
  auto conf = make_kafka_conf(config, {{"client.id", "streamrec-dlq"}, {"linger.ms", "5"}, {"message.max.bytes", "10000000"}},
                              // Retried for as long as the topic is unavailable: the
                              // consumer goes on meanwhile, its commits held back.
                              {{"enable.idempotence", "true"}, {"acks", "all"}, {"message.timeout.ms", "0"}});
  if (!conf.ok()) return conf.error();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &DeadLetterQueue::on_delivery);
  auto producer = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer.ok()) return producer.error();
  dlq.producer_ = std::move(producer).value();
  return dlq;
}

Status DeadLetterQueue::send(const rd_kafka_message_t& original, std::string_view error) {
  TopicPartition partition(rd_kafka_topic_name(original.rkt), original.partition);
  deliveries_->pending[partition].insert(original.offset);
  std::string source = partition.topic + "/" + std::to_string(original.partition) + "@" + std::to_string(original.offset);
  auto origin = std::make_unique<Origin>(Origin{deliveries_.get(), partition, original.offset});
  rd_kafka_resp_err_t err;
  for (;;) {
    err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
                            RD_KAFKA_V_KEY(original.key, original.key_len),
                            RD_KAFKA_V_VALUE(original.payload, original.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_HEADER("error", error.data(), static_cast<ssize_t>(error.size())),
                            RD_KAFKA_V_HEADER("source", source.data(), static_cast<ssize_t>(source.size())),
                            RD_KAFKA_V_OPAQUE(origin.get()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    // The local queue is full (queue.buffering.max.messages dead letters
    // the topic has not taken): wait for it to take some.
    rd_kafka_poll(producer_.get(), 100);
  }
  if (err) return Error{"dead-letter queue: cannot produce to " + topic_ + ": " + rd_kafka_err2str(err)};
  origin.release();  // the delivery report frees it
  ++sent_;
  return {};
}

void DeadLetterQueue::poll() { rd_kafka_poll(producer_.get(), 0); }

Status DeadLetterQueue::flush(int timeout_ms) {
  rd_kafka_flush(producer_.get(), timeout_ms);
  if (int64_t left = pending(); left > 0)
    return Error{"dead-letter queue: " + std::to_string(left) + " message(s) not acknowledged by " + topic_ +
                 (deliveries_->last_error.empty() ? "" : " (last error: " + deliveries_->last_error + ")")};
  return {};
}

std::optional<int64_t> DeadLetterQueue::first_pending(const TopicPartition& partition) const {
  auto it = deliveries_->pending.find(partition);
  if (it == deliveries_->pending.end() || it->second.empty()) return std::nullopt;
  return *it->second.begin();
}

int64_t DeadLetterQueue::pending() const {
  int64_t n = 0;
  for (const auto& [partition, offsets] : deliveries_->pending) n += static_cast<int64_t>(offsets.size());
  return n;
}

}  // namespace streamrec
