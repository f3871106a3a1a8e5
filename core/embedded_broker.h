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
