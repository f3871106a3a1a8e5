#include "serving/event_publisher.h"

#include <pthread.h>

namespace streamrec::serving {

// One publish(): its `done`, one result per message, and how many are still
// out (plus one held by publish() itself until everything is queued).
struct EventPublisher::Batch {
  Done done;
  std::vector<std::string> errors;
  std::atomic<size_t> remaining{0};
};

// A message's librdkafka opaque: which batch, which entry.
struct EventPublisher::Slot {
  std::shared_ptr<Batch> batch;
  size_t index;
};

void EventPublisher::finish(const std::shared_ptr<Batch>& batch) {
  if (batch->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) batch->done(std::move(batch->errors));
}

void EventPublisher::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  std::unique_ptr<Slot> slot(static_cast<Slot*>(message->_private));
  if (!slot) return;
  if (message->err) slot->batch->errors[slot->index] = std::string("kafka: ") + rd_kafka_err2str(message->err);
  finish(slot->batch);
}

Result<std::unique_ptr<EventPublisher>> EventPublisher::create(const KafkaConfig& config) {
  // An answer within seconds, not librdkafka's five minutes: the client waits.
  auto conf = make_kafka_conf(config, {{"client.id", "streamrec-serve"}, {"linger.ms", "1"},
                                       {"message.timeout.ms", "10000"}},
                              {{"enable.idempotence", "true"}});
  if (!conf.ok()) return conf.error();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &EventPublisher::on_delivery);
  auto client = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!client.ok()) return client.error();
  std::unique_ptr<EventPublisher> publisher(new EventPublisher());
  publisher->producer_ = std::move(client).value();
  publisher->acks_ = std::thread([p = publisher.get()] {
    pthread_setname_np(pthread_self(), "streamrec-acks");
    while (!p->stopping_.load(std::memory_order_relaxed)) rd_kafka_poll(p->producer_.get(), 50);
  });
  return publisher;
}

EventPublisher::~EventPublisher() {
  stopping_ = true;
  if (acks_.joinable()) acks_.join();
  rd_kafka_flush(producer_.get(), 10'000);
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_.get(), 0);  // purged messages report as failed
}

void EventPublisher::publish(const std::string& topic, const std::vector<KeyedMessage>& messages, Done done) {
  auto batch = std::make_shared<Batch>();
  batch->done = std::move(done);
  batch->errors.resize(messages.size());
  batch->remaining = messages.size() + 1;
  for (size_t i = 0; i < messages.size(); ++i) {
    const KeyedMessage& m = messages[i];
    auto* slot = new Slot{batch, i};
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    if (err) {
      delete slot;
      batch->errors[i] = "kafka: cannot queue for " + topic + ": " + rd_kafka_err2str(err);
      finish(batch);
    }
  }
  finish(batch);  // publish()'s own hold
}

Status EventPublisher::reachable(int timeout_ms) {
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 0, nullptr, &metadata, timeout_ms);
  if (metadata) rd_kafka_metadata_destroy(metadata);
  if (err) return Error{std::string("kafka: no broker answered within ") + std::to_string(timeout_ms) + " ms: " +
                        rd_kafka_err2str(err)};
  return {};
}

}  // namespace streamrec::serving
