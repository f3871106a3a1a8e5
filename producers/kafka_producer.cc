#include "producers/kafka_producer.h"

#include <spdlog/spdlog.h>

namespace streamrec {

void KafkaProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* counts = static_cast<Counts*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++counts->delivered;
    return;
  }
  ++counts->failed;
  counts->last_error = std::string(rd_kafka_topic_name(message->rkt)) + ": " + rd_kafka_err2str(message->err);
}

Result<KafkaProducer> KafkaProducer::create(const KafkaConfig& config, const std::string& client_id) {
  KafkaProducer producer;
  producer.counts_ = std::make_unique<Counts>();
  // Defaults favour throughput (batches of up to 10k messages, 5 ms linger)
  // and a failure reported within 30 s rather than librdkafka's 5 minutes;
  // kafka.properties.* overrides them. Idempotence is not negotiable.
  auto conf = make_kafka_conf(config,
                              {{"client.id", client_id},
                               {"linger.ms", "5"},
                               {"batch.num.messages", "10000"},
                               {"queue.buffering.max.messages", "500000"},
                               {"message.timeout.ms", "30000"}},
                              {{"enable.idempotence", "true"}});
  if (!conf.ok()) return conf.error();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaProducer::on_delivery);
  rd_kafka_conf_set_opaque(conf->get(), producer.counts_.get());
  auto client = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!client.ok()) return client.error();
  producer.producer_ = std::move(client).value();
  return producer;
}

KafkaProducer::~KafkaProducer() {
  if (!producer_) return;  // moved from
  if (Status s = flush(10'000); !s.ok()) spdlog::warn("{}", s.message());
}

Status KafkaProducer::send(const std::string& topic, std::string_view key, std::string_view value) {
  rd_kafka_resp_err_t err;
  for (;;) {
    err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    rd_kafka_poll(producer_.get(), 10);  // local queue full: let deliveries drain
  }
  ++queued_;
  if (err) {
    ++counts_->failed;
    counts_->last_error = topic + ": " + rd_kafka_err2str(err);
    return Error{"kafka: cannot produce to " + counts_->last_error};
  }
  return {};
}

void KafkaProducer::poll() { rd_kafka_poll(producer_.get(), 0); }

Status KafkaProducer::flush(int timeout_ms) {
  rd_kafka_flush(producer_.get(), timeout_ms);
  rd_kafka_poll(producer_.get(), 0);  // serve the last reports
  if (int64_t left = in_flight(); left > 0) {
    return Error{"kafka: " + std::to_string(left) + " message(s) still unacknowledged after " +
                 std::to_string(timeout_ms) + " ms"};
  }
  return {};
}

void KafkaProducer::purge() {
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_.get(), 0);  // purged messages report as failed
}

}  // namespace streamrec
