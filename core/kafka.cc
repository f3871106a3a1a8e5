#include "core/kafka.h"

namespace streamrec {

Result<KafkaConf> make_kafka_conf(const KafkaConfig& config,
                                  const std::map<std::string, std::string>& defaults,
                                  const std::map<std::string, std::string>& required) {
  KafkaConf conf(rd_kafka_conf_new());
  char errstr[512];
  auto set = [&](const std::string& origin, const std::string& name, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      // librdkafka's message quotes the value: not for a secret.
      if (is_secret_setting(origin)) return Error{origin + ": librdkafka refuses the value (not shown: a secret)"};
      return Error{origin + ": " + errstr};
    }
    return {};
  };
  for (auto& [name, value] : defaults)
    if (Status s = set(name, name, value); !s.ok()) return Error{s.message()};
  if (Status s = set("kafka.bootstrap_servers", "bootstrap.servers", config.bootstrap_servers); !s.ok())
    return Error{s.message()};
  for (auto& [name, value] : config.properties)
    if (Status s = set("kafka.properties." + name, name, value); !s.ok()) return Error{s.message()};
  for (auto& [name, value] : required)
    if (Status s = set(name, name, value); !s.ok()) return Error{s.message()};
  return conf;
}

Result<KafkaClient> make_kafka_client(rd_kafka_type_t type, KafkaConf conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (!rk) return Error{std::string("kafka: cannot create client: ") + errstr};
  conf.release();  // rd_kafka_new took ownership
  return KafkaClient(rk);
}

}  // namespace streamrec
