#include "core/embedded_broker.h"

#include <librdkafka/rdkafka_mock.h>

#include <algorithm>

namespace streamrec {

Result<EmbeddedBroker> EmbeddedBroker::start(int brokers, const std::vector<TopicSpec>& topics) {
  if (brokers < 1) return Error{"broker: --brokers must be >= 1"};
  KafkaConf conf(rd_kafka_conf_new());
  char errstr[256];
  // The host client never talks to a broker itself; keep it quiet.
  rd_kafka_conf_set(conf.get(), "log_level", "3", errstr, sizeof errstr);
  auto host = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf));
  if (!host.ok()) return host.error();

  EmbeddedBroker broker;
  broker.host_ = std::move(host).value();
  broker.cluster_.reset(rd_kafka_mock_cluster_new(broker.host_.get(), brokers));
  if (!broker.cluster_) return Error{"broker: cannot start the mock cluster"};
  for (const TopicSpec& topic : topics) {
    if (topic.partitions < 1) return Error{"broker: topic " + topic.name + " needs >= 1 partition"};
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(broker.cluster_.get(), topic.name.c_str(), topic.partitions,
                                                         std::min(brokers, 3));
    if (err) return Error{"broker: cannot create topic " + topic.name + ": " + rd_kafka_err2str(err)};
  }
  broker.bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(broker.cluster_.get());
  return broker;
}

void EmbeddedBroker::ClusterDeleter::operator()(rd_kafka_mock_cluster_t* cluster) const {
  rd_kafka_mock_cluster_destroy(cluster);
}

}  // namespace streamrec
