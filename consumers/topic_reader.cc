#include "consumers/topic_reader.h"

#include <spdlog/spdlog.h>

namespace streamrec {

Result<std::unique_ptr<TopicReader>> TopicReader::create(const Config& config, std::string topic, StartOffset start) {
  std::unique_ptr<TopicReader> self(new TopicReader());
  self->topic_ = std::move(topic);
  self->start_ = std::move(start);
  auto conf = make_kafka_conf(config.kafka,
                              {{"client.id", "streamrec-learn-" + self->topic_},
                               {"fetch.wait.max.ms", "50"}},  // as the group consumer's (group_consumer.cc)
                              // A group.id librdkafka wants for a consumer; this one never
                              // joins it (assign, not subscribe) and never commits.
                              {{"group.id", config.kafka.group_id + "." + self->topic_ + ".reader"},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"enable.partition.eof", "false"}});
  if (!conf.ok()) return conf.error();
  auto client = make_kafka_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!client.ok()) return client.error();
  self->consumer_ = std::move(client).value();
  rd_kafka_poll_set_consumer(self->consumer_.get());
  return self;
}

TopicReader::~TopicReader() {
  if (consumer_) rd_kafka_consumer_close(consumer_.get());
}

void TopicReader::assign_if_due() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_attempt_ < std::chrono::seconds(5)) return;
  last_attempt_ = now;
  KafkaTopic handle(rd_kafka_topic_new(consumer_.get(), topic_.c_str(), nullptr));
  const rd_kafka_metadata_t* raw = nullptr;
  int partitions = 0;
  if (handle && rd_kafka_metadata(consumer_.get(), /*all_topics=*/0, handle.get(), &raw, 2000) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR) {
    KafkaMetadata metadata(raw);
    for (int t = 0; t < metadata->topic_cnt; ++t)
      if (topic_ == metadata->topics[t].topic && !metadata->topics[t].err)
        partitions = metadata->topics[t].partition_cnt;
  }
  if (partitions == 0) {
    if (!reported_missing_) spdlog::warn("kafka: topic {} not found yet; asking again every 5 s", topic_);
    reported_missing_ = true;
    return;
  }
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    std::optional<int64_t> start = start_ ? start_({topic_, p}) : std::nullopt;
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset =
        start.value_or(RD_KAFKA_OFFSET_BEGINNING);
  }
  if (auto err = rd_kafka_assign(consumer_.get(), list.get())) {
    spdlog::warn("kafka: cannot assign the partitions of {}: {}", topic_, rd_kafka_err2str(err));
    return;
  }
  assigned_ = true;
  spdlog::info("kafka: reading all {} partition(s) of {} (outside the group)", partitions, topic_);
}

KafkaMessage TopicReader::poll(int timeout_ms) {
  if (!assigned_) assign_if_due();
  return KafkaMessage(rd_kafka_consumer_poll(consumer_.get(), timeout_ms));
}

}  // namespace streamrec
