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

namespace {
Status mock_result(rd_kafka_resp_err_t err, const std::string& what) {
  if (err) return Error{"broker: cannot " + what + ": " + rd_kafka_err2str(err)};
  return {};
}
}  // namespace

Status EmbeddedBroker::set_broker_down(int32_t broker_id) {
  return mock_result(rd_kafka_mock_broker_set_down(cluster_.get(), broker_id),
                     "take broker " + std::to_string(broker_id) + " down");
}

Status EmbeddedBroker::set_broker_up(int32_t broker_id) {
  return mock_result(rd_kafka_mock_broker_set_up(cluster_.get(), broker_id),
                     "bring broker " + std::to_string(broker_id) + " up");
}

Status EmbeddedBroker::set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id) {
  return mock_result(rd_kafka_mock_partition_set_leader(cluster_.get(), topic.c_str(), partition, broker_id),
                     "make broker " + std::to_string(broker_id) + " the leader of " + topic + "/" +
                         std::to_string(partition));
}

Status EmbeddedBroker::set_group_coordinator(const std::string& group_id, int32_t broker_id) {
  return mock_result(rd_kafka_mock_coordinator_set(cluster_.get(), "group", group_id.c_str(), broker_id),
                     "make broker " + std::to_string(broker_id) + " the coordinator of group " + group_id);
}

void EmbeddedBroker::push_request_errors(int16_t api_key, size_t count, rd_kafka_resp_err_t error) {
  std::vector<rd_kafka_resp_err_t> errors(count, error);
  rd_kafka_mock_push_request_errors_array(cluster_.get(), api_key, count, errors.data());
}

void EmbeddedBroker::ClusterDeleter::operator()(rd_kafka_mock_cluster_t* cluster) const {
  rd_kafka_mock_cluster_destroy(cluster);
}

}  // namespace streamrec
