#include "consumers/topic_reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>

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
                               // Never in a group, so no poll interval applies; librdkafka
                               // still wants it >= session.timeout.ms, which this reader
                               // leaves at its default, whatever the group consumer's.
                               {"max.poll.interval.ms", "86400000"},
                               // Past a trimmed start: from the oldest message kept
                               // (the gap is reported, see check_gap).
                               {"auto.offset.reset", "earliest"},
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
  expected_.assign(static_cast<size_t>(partitions), 0);
  for (int32_t p = 0; p < partitions; ++p) {
    std::optional<int64_t> start = start_ ? start_({topic_, p}) : std::nullopt;
    expected_[static_cast<size_t>(p)] = start.value_or(0);
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
  KafkaMessage message(rd_kafka_consumer_poll(consumer_.get(), timeout_ms));
  if (message) check_gap(*message);
  return message;
}

void TopicReader::check_gap(const rd_kafka_message_t& m) {
  if (m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    spdlog::error("kafka: {} partition {}: the broker no longer holds the offset this learner needs ({}); reading "
                  "on from the oldest message kept, the messages in between are LOST (the next line says how many)",
                  topic_, m.partition, rd_kafka_err2str(m.err));
    return;
  }
  if (m.err || m.partition < 0 || static_cast<size_t>(m.partition) >= expected_.size()) return;
  int64_t& expected = expected_[static_cast<size_t>(m.partition)];
  if (m.offset > expected) {
    int64_t lost = m.offset - expected;
    lost_ += lost;
    spdlog::error("kafka: {} partition {}: {} messages LOST (offsets {}..{}): the broker dropped them before this "
                  "learner read them{}; {} lost on {} so far. Load the catalog from a file (learn --catalog) or "
                  "give the topic more partitions or retention (docs/datasets.md, \"Catalogs that arrive whole\")",
                  topic_, m.partition, lost, expected, m.offset - 1,
                  expected == 0 ? " (the embedded broker keeps about 5 MiB per partition)" : "", lost_, topic_);
  }
  expected = std::max(expected, m.offset + 1);
}

}  // namespace streamrec
