#include "consumers/dead_letter_queue.h"

namespace streamrec {

void DeadLetterQueue::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* deliveries = static_cast<Deliveries*>(opaque);
  ++deliveries->failed;
  deliveries->last_error = rd_kafka_err2str(message->err);
}

Result<DeadLetterQueue> DeadLetterQueue::create(const KafkaConfig& config) {
  DeadLetterQueue dlq;
  dlq.deliveries_ = std::make_unique<Deliveries>();
  dlq.topic_ = config.dlq_topic;
  auto conf = make_kafka_conf(config, {{"client.id", "streamrec-dlq"}, {"linger.ms", "5"}, {"message.max.bytes", "10000000"}},
                              {{"enable.idempotence", "true"}, {"acks", "all"}});
  if (!conf.ok()) return conf.error();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &DeadLetterQueue::on_delivery);
  rd_kafka_conf_set_opaque(conf->get(), dlq.deliveries_.get());
  auto producer = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer.ok()) return producer.error();
  dlq.producer_ = std::move(producer).value();
  return dlq;
}

Status DeadLetterQueue::send(const rd_kafka_message_t& original, std::string_view error) {
  std::string source = std::string(rd_kafka_topic_name(original.rkt)) + "/" + std::to_string(original.partition) +
                       "@" + std::to_string(original.offset);
  rd_kafka_resp_err_t err;
  for (;;) {
    err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
                            RD_KAFKA_V_KEY(original.key, original.key_len),
                            RD_KAFKA_V_VALUE(original.payload, original.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_HEADER("error", error.data(), static_cast<ssize_t>(error.size())),
                            RD_KAFKA_V_HEADER("source", source.data(), static_cast<ssize_t>(source.size())),
                            RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    rd_kafka_poll(producer_.get(), 100);  // local queue full: let deliveries drain
  }
  if (err) return Error{"dead-letter queue: cannot produce to " + topic_ + ": " + rd_kafka_err2str(err)};
  ++sent_;
  return {};
}

Status DeadLetterQueue::flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), timeout_ms);
  if (err) return Error{"dead-letter queue: not every message reached " + topic_ + " within " +
                        std::to_string(timeout_ms) + " ms"};
  if (deliveries_->failed > 0) {
    std::string message = "dead-letter queue: " + std::to_string(deliveries_->failed) +
                          " message(s) could not be delivered to " + topic_ + ": " + deliveries_->last_error;
    *deliveries_ = {};
    return Error{message};
  }
  return {};
}

}  // namespace streamrec
