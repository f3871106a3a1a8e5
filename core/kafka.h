// RAII owners for librdkafka handles, and the one place a librdkafka
// configuration is built from streamrec's Config.
//
// Every handle here is a std::unique_ptr with a deleter, so ownership is
// explicit and nothing leaks on an early return. Handles follow librdkafka's
// own thread-safety: an rd_kafka_t may be used from any thread; a message or
// list must not be shared.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace streamrec {

struct KafkaDeleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_message_t* p) const { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const { rd_kafka_topic_partition_list_destroy(p); }
  void operator()(rd_kafka_headers_t* p) const { rd_kafka_headers_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
  void operator()(const rd_kafka_metadata_t* p) const { rd_kafka_metadata_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const { rd_kafka_topic_destroy(p); }
};

using KafkaClient = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using KafkaPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaHeaders = std::unique_ptr<rd_kafka_headers_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using KafkaMetadata = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;
using KafkaTopic = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;

// Builds a librdkafka configuration. Precedence, lowest first: `defaults`
// (the caller's sensible choices), kafka.bootstrap_servers and
// kafka.properties.* (the user's), then `required` (what the caller's
// correctness depends on, e.g. enable.auto.commit=false). A rejected property
// is an Error naming it.
Result<KafkaConf> make_kafka_conf(const KafkaConfig& config,
                                  const std::map<std::string, std::string>& defaults,
                                  const std::map<std::string, std::string>& required);

// Creates a client of `type` from `conf` (taking ownership of it).
Result<KafkaClient> make_kafka_client(rd_kafka_type_t type, KafkaConf conf);

}  // namespace streamrec
