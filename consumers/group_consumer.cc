#include "consumers/group_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace streamrec {

Result<std::unique_ptr<GroupConsumer>> GroupConsumer::create(const Config& config,
                                                             const std::vector<std::string>& topics,
                                                             RevokeHook on_revoke, StartOffset start_offset) {
  std::unique_ptr<GroupConsumer> self(new GroupConsumer());
  std::map<std::string, std::string> required = {{"group.id", config.kafka.group_id},
                                                 {"enable.partition.eof", "true"},  // the event-time merger needs it
                                                 {"enable.auto.commit", "false"},
                                                 {"enable.auto.offset.store", "false"}};
  // Static membership: the coordinator hands a restarted learner its dead
  // predecessor's partitions at once (no rebalance, no session-timeout wait).
  if (!config.consumer.group_instance_id.empty()) required["group.instance.id"] = config.consumer.group_instance_id;
  self->on_revoke_ = std::move(on_revoke);
  self->start_offset_ = std::move(start_offset);

  auto conf = make_kafka_conf(config.kafka,
                              {{"client.id", "streamrec-learn"},
                               {"auto.offset.reset", "earliest"},
                               {"session.timeout.ms", std::to_string(config.consumer.session_timeout_ms)},
                               // An empty fetch waits this long before it answers. Kafka answers
                               // early when data arrives; librdkafka's mock broker does not, so at
                               // the default 500 ms a caught-up consumer saw the stream in
                               // half-second bursts (ranking freshness p50 400 ms -> 125 ms at
                               // 10k events/s, bench/pipeline.sh). Against Kafka it costs 20
                               // idle fetches per second and broker.
                               {"fetch.wait.max.ms", "50"},
                               {"heartbeat.interval.ms", std::to_string(config.consumer.session_timeout_ms / 3)}},
                              required);
  if (!conf.ok()) return conf.error();
  rd_kafka_conf_set_rebalance_cb(conf->get(), &GroupConsumer::on_rebalance);
  rd_kafka_conf_set_opaque(conf->get(), self.get());
  auto client = make_kafka_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!client.ok()) return client.error();
  self->consumer_ = std::move(client).value();
  rd_kafka_poll_set_consumer(self->consumer_.get());

  KafkaPartitionList subscription(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& topic : topics)
    rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(self->consumer_.get(), subscription.get()))
    return Error{std::string("kafka: cannot subscribe: ") + rd_kafka_err2str(err)};
  return self;
}

GroupConsumer::~GroupConsumer() { close(); }

void GroupConsumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<GroupConsumer*>(opaque);
  bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    spdlog::info("kafka: {} partition(s) assigned", partitions->cnt);
    ++self->assignments_;
    for (int i = 0; i < partitions->cnt && self->start_offset_; ++i) {
      auto& tp = partitions->elems[i];
      if (auto start = self->start_offset_({tp.topic, tp.partition})) {
        tp.offset = *start;
        spdlog::info("kafka: {}/{} starts at offset {}", tp.topic, tp.partition, *start);
      }
    }
    if (cooperative) rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, partitions));
    else rd_kafka_assign(rk, partitions);
    return;
  }
  // Revoked (or lost): finish and commit what we hold before letting go.
  spdlog::info("kafka: {} partition(s) revoked", partitions->cnt);
  std::vector<TopicPartition> revoked;
  for (int i = 0; i < partitions->cnt; ++i) revoked.push_back({partitions->elems[i].topic, partitions->elems[i].partition});
  if (self->on_revoke_) self->on_revoke_(revoked);
  if (cooperative) rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, partitions));
  else rd_kafka_assign(rk, nullptr);
}

KafkaMessage GroupConsumer::poll(int timeout_ms) {
  return KafkaMessage(rd_kafka_consumer_poll(consumer_.get(), timeout_ms));
}

Status GroupConsumer::commit(const CommitOffsets& offsets) {
  if (offsets.empty()) return {};
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [tp, next] : offsets)
    rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset = next;
  if (auto err = rd_kafka_commit(consumer_.get(), list.get(), /*async=*/0))
    return Error{std::string("kafka: commit failed: ") + rd_kafka_err2str(err)};
  return {};
}

void GroupConsumer::pause() {
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  KafkaPartitionList owned(list);
  rd_kafka_pause_partitions(consumer_.get(), list);
}

void GroupConsumer::resume() {
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  KafkaPartitionList owned(list);
  rd_kafka_resume_partitions(consumer_.get(), list);
}

void GroupConsumer::close() {
  if (closed_ || !consumer_) return;
  closed_ = true;
  rd_kafka_consumer_close(consumer_.get());
}

std::optional<int64_t> GroupConsumer::committed(const TopicPartition& partition, int timeout_ms) const {
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(list.get(), partition.topic.c_str(), partition.partition);
  if (auto err = rd_kafka_committed(consumer_.get(), list.get(), timeout_ms)) {
    spdlog::warn("kafka: cannot read the committed offset of {}/{}: {}", partition.topic, partition.partition,
                 rd_kafka_err2str(err));
    return std::nullopt;
  }
  if (tp->err || tp->offset < 0) return std::nullopt;
  return tp->offset;
}

std::optional<std::pair<int64_t, int64_t>> GroupConsumer::watermarks(const TopicPartition& partition,
                                                                     int timeout_ms) const {
  int64_t low = 0, high = 0;
  if (auto err = rd_kafka_query_watermark_offsets(consumer_.get(), partition.topic.c_str(), partition.partition, &low,
                                                  &high, timeout_ms)) {
    spdlog::warn("kafka: cannot read the offsets {}/{} holds: {}", partition.topic, partition.partition,
                 rd_kafka_err2str(err));
    return std::nullopt;
  }
  return std::pair{low, high};
}

int GroupConsumer::partition_count(const std::string& topic, int timeout_ms) const {
  KafkaTopic handle(rd_kafka_topic_new(consumer_.get(), topic.c_str(), nullptr));
  const rd_kafka_metadata_t* raw = nullptr;
  if (!handle || rd_kafka_metadata(consumer_.get(), /*all_topics=*/0, handle.get(), &raw, timeout_ms) !=
                     RD_KAFKA_RESP_ERR_NO_ERROR)
    return 0;
  KafkaMetadata metadata(raw);
  for (int t = 0; t < metadata->topic_cnt; ++t)
    if (topic == metadata->topics[t].topic) return metadata->topics[t].partition_cnt;
  return 0;
}

std::vector<std::string> GroupConsumer::assignment() const {
  std::vector<std::string> out;
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  KafkaPartitionList owned(list);
  for (int i = 0; i < list->cnt; ++i)
    out.push_back(std::string(list->elems[i].topic) + "/" + std::to_string(list->elems[i].partition));
  return out;
}

int64_t GroupConsumer::lag(const std::string& topic, std::map<int32_t, int64_t>* by_partition) const {
  if (by_partition) by_partition->clear();
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  KafkaPartitionList owned(list);
  if (rd_kafka_position(consumer_.get(), list) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  int64_t lag = 0;
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    if (topic != p.topic || p.offset < 0) continue;  // no position yet
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), p.topic, p.partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0)
      continue;
    const int64_t behind = std::max<int64_t>(0, high - p.offset);
    lag += behind;
    if (by_partition) (*by_partition)[p.partition] = behind;
  }
  return lag;
}

}  // namespace streamrec

namespace streamrec {

std::string GroupConsumer::cluster_id(int timeout_ms) const {
  char* id = rd_kafka_clusterid(consumer_.get(), timeout_ms);
  if (!id) return "";
  std::string out(id);
  rd_kafka_mem_free(consumer_.get(), id);
  return out;
}

}  // namespace streamrec
