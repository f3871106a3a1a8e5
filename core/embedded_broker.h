// An in-process Kafka cluster for local runs and tests: librdkafka's mock
// cluster, which speaks the real Kafka protocol on 127.0.0.1 (ephemeral
// ports), so any client -- ours, kcat -- can produce to and consume from it.
//
// Limits that matter (librdkafka 2.0.2): each partition keeps only ~5 MiB and
// silently trims older messages, so consume while producing; there is no
// compaction and no transactions; a consumer-group rejoin waits about
// session.timeout.ms. The cluster lives as long as the object; not copyable;
// bootstrap_servers() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/kafka.h"
#include "core/status.h"

// librdkafka's mock cluster (rdkafka_mock.h), kept out of this header.
struct rd_kafka_mock_cluster_s;

namespace streamrec {

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

class EmbeddedBroker {
 public:
  // Starts `brokers` mock brokers and creates `topics` on them.
  static Result<EmbeddedBroker> start(int brokers, const std::vector<TopicSpec>& topics);

  EmbeddedBroker(EmbeddedBroker&&) = default;
  // No move-assignment: it would replace the client before the cluster
  // running on it.
  EmbeddedBroker& operator=(EmbeddedBroker&&) = delete;

  // "127.0.0.1:port,127.0.0.1:port,..."
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }

  // Faults, for tests (thread-safe; each is handed to the cluster's thread
  // and applies to requests from then on). Brokers are numbered from 1.
  // A broker set down drops its connections and refuses new ones; what it
  // leads stays led by it (the mock elects no new leader) until it is up.
  Status set_broker_down(int32_t broker_id);
  Status set_broker_up(int32_t broker_id);
  Status set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id);
  // Which broker coordinates consumer group `group_id`.
  Status set_group_coordinator(const std::string& group_id, int32_t broker_id);
  // The next `count` requests of type `api_key` (the Kafka protocol's: 0
  // Produce, 1 Fetch, 8 OffsetCommit, ...) to any broker fail with `error`.
  void push_request_errors(int16_t api_key, size_t count, rd_kafka_resp_err_t error);

 struct ClusterDeleter {
    void operator()(::rd_kafka_mock_cluster_s* cluster) const;
  };
 private:
  EmbeddedBroker() = default;

  // Declared in this order so that the cluster is destroyed before the client
  // whose background thread runs it.
  KafkaClient host_;
  std::unique_ptr<::rd_kafka_mock_cluster_s, ClusterDeleter> cluster_;
  std::string bootstrap_servers_;
};

}  // namespace streamrec
