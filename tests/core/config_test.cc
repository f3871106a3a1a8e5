// Settings layering: defaults < --config file < STREAMREC_* < --set, and every
// mistake named.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/config.h"
#include "tests/support/servers.h"

namespace streamrec {
namespace {

// The files a test writes go to one scratch directory, removed when the
// binary exits (a failure needs no file kept: its text is in the test).
std::string write_file(const std::string& text) {
  static const struct ScratchDir {
    std::string path = testing::make_scratch_dir("config");
    ~ScratchDir() { std::filesystem::remove_all(path); }
  } dir;
  static int files = 0;
  std::filesystem::path path = std::filesystem::path(dir.path) / std::to_string(files++) / "settings.yaml";
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path.string();
}

// Every scalar of a YAML tree as dotted key -> text.
void flatten(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node)
      flatten(kv.second, prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>(),
              out);
  } else {
    out[prefix] = node.as<std::string>();
  }
}

TEST(Config, DefaultYamlListsEverySettingWithItsBuiltInValue) {
  std::string path = std::string(STREAMREC_SOURCE_DIR) + "/configs/default.yaml";
  std::map<std::string, std::string> documented;
  flatten(YAML::LoadFile(path), "", documented);
  auto loaded = load_config({path, {}, {}});
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  Config builtin;
  auto builtin_settings = describe(builtin);
  EXPECT_EQ(describe(*loaded), builtin_settings) << "default.yaml disagrees with the built-in defaults";
  for (auto& [key, value] : builtin_settings) EXPECT_TRUE(documented.count(key)) << key << " is not in default.yaml";
  EXPECT_EQ(documented.size(), builtin_settings.size());
}

TEST(Config, ShippedConfigsLoad) {
  for (const char* name : {"default.yaml", "local.yaml", "docker.yaml"}) {
    std::string path = std::string(STREAMREC_SOURCE_DIR) + "/configs/" + name;
    auto loaded = load_config({path, {}, {}});
    EXPECT_TRUE(loaded.ok()) << name << ": " << loaded.error().message;
  }
}

TEST(Config, FileThenEnvironmentThenSetOverrideEachOther) {
  std::string file = write_file("redis:\n  url: redis://file:1/0\n  prefix: file\nconsumer:\n  batch_max_ms: 7\n");
  std::vector<std::string> env = {"STREAMREC_REDIS_URL=redis://env:2/0", "STREAMREC_REDIS_PREFIX=env",
                                  "UNRELATED=1"};
  auto c = load_config({file, env, {"redis.prefix=flag"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->consumer.batch_max_ms, 7);          // file only
  EXPECT_EQ(c->redis.url, "redis://env:2/0");       // env over file
  EXPECT_EQ(c->redis.prefix, "flag");               // --set over env
  EXPECT_EQ(c->kafka.bootstrap_servers, "127.0.0.1:9092");  // default
}

// Found by tests/fuzz/config_fuzz: a key that is a list or a map threw from
// yaml-cpp, uncaught, and stopped streamrec with no word on the file.
TEST(Config, AKeyThatIsAListOrAMapIsAnErrorNamingTheFile) {
  for (const char* text : {"? [a, b]\n: 1\n", "redis:\n  ? {x: 1}\n  : 2\n"}) {
    std::string file = write_file(text);
    auto c = load_config({file, {}, {}});
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.error().message.find(file), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("is a list or a map"), std::string::npos) << c.error().message;
  }
}

TEST(Config, TheTwoDeploymentSettingsComeFromTheEnvironment) {
  auto c = load_config({"", {"STREAMREC_KAFKA_BOOTSTRAP_SERVERS=k1:9092,k2:9092", "STREAMREC_REDIS_URL=redis://r:6380/2"}, {}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->kafka.bootstrap_servers, "k1:9092,k2:9092");
  EXPECT_EQ(c->redis.url, "redis://r:6380/2");
}

TEST(Config, KafkaPropertiesPassThroughFromEveryLayer) {
  std::string file = write_file("kafka:\n  properties:\n    socket.timeout.ms: 1000\n");
  auto c = load_config({file, {"STREAMREC_KAFKA_PROPERTIES_STATISTICS_INTERVAL_MS=500"},
                        {"kafka.properties.client.rack=r1"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->kafka.properties.at("socket.timeout.ms"), "1000");
  EXPECT_EQ(c->kafka.properties.at("statistics.interval.ms"), "500");
  EXPECT_EQ(c->kafka.properties.at("client.rack"), "r1");
}

struct BadRow {
  const char* what;
  std::function<Result<Config>()> load;
  const char* must_name;
};

TEST(Config, EveryMistakeStopsWithAMessageNamingTheKey) {
  std::vector<BadRow> rows = {
      {"unknown key in file", [] { return load_config({write_file("redis:\n  urll: x\n"), {}, {}}); }, "redis.urll"},
      {"bad integer", [] { return load_config({"", {}, {"consumer.batch_max_ms=soon"}}); },
       "consumer.batch_max_ms"},
      {"out of range", [] { return load_config({"", {}, {"consumer.batch_max_messages=0"}}); },
       "consumer.batch_max_messages"},
      {"bad redis url", [] { return load_config({"", {"STREAMREC_REDIS_URL=http://x"}, {}}); }, "redis.url"},
      {"bad log level", [] { return load_config({"", {}, {"log.level=loud"}}); }, "log.level"},
      {"unknown delay model", [] { return load_config({"", {}, {"producer.synthetic.delays=slow"}}); },
       "producer.synthetic.delays"},
      {"share above 1", [] { return load_config({"", {}, {"producer.synthetic.drift_share=1.5"}}); },
       "producer.synthetic.drift_share"},
      {"churn past its bound", [] { return load_config({"", {}, {"producer.synthetic.churn_share=0.5"}}); },
       "producer.synthetic.churn_share"},
      {"non-positive delay cap", [] { return load_config({"", {}, {"producer.synthetic.purchase_delay_max_s=0"}}); },
       "producer.synthetic.purchase_delay_max_s"},
      {"--set without =", [] { return load_config({"", {}, {"log.level"}}); }, "log.level"},
      {"unreadable file", [] { return load_config({"/nonexistent/x.yaml", {}, {}}); }, "/nonexistent/x.yaml"},
      {"list instead of value", [] { return load_config({write_file("redis:\n  url: [a, b]\n"), {}, {}}); },
       "redis.url"},
      {"group instance id with a space", [] { return load_config({"", {}, {"consumer.group_instance_id=learner 0"}}); },
       "consumer.group_instance_id"},
      {"group instance id too long",
       [] { return load_config({"", {"STREAMREC_CONSUMER_GROUP_INSTANCE_ID=" + std::string(250, 'a')}, {}}); },
       "consumer.group_instance_id"},
      {"broken YAML", [] { return load_config({write_file("redis: [\n"), {}, {}}); }, "settings.yaml"},
  };
  for (auto& row : rows) {
    auto c = row.load();
    ASSERT_FALSE(c.ok()) << row.what;
    EXPECT_NE(c.error().message.find(row.must_name), std::string::npos) << row.what << ": " << c.error().message;
  }
}

TEST(Config, AGroupInstanceIdIsKafkasLegalNameOrEmpty) {
  auto c = load_config({"", {"STREAMREC_CONSUMER_GROUP_INSTANCE_ID=learner-0.eu_1"}, {}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->consumer.group_instance_id, "learner-0.eu_1");
  EXPECT_EQ(ConsumerConfig{}.group_instance_id, "");  // dynamic membership by default
  auto bad = load_config({"", {}, {"consumer.group_instance_id=a/b"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("--set: consumer.group_instance_id: must be empty or 1-249 of"), std::string::npos)
      << bad.error().message;
}

TEST(Config, MemoryBoundsAreCheckedWithAMessageNamingTheKey) {
  for (const char* set : {"learner.max_users=0", "learner.max_items=-1", "learner.max_embedding_rows=3000000000",
                          "learner.max_held_events=0", "redis.user_ttl_s=-5", "learner.max_users=lots",
                          "rankings.covisit_redis_max_members=-1"}) {
    auto c = load_config({"", {}, {set}});
    ASSERT_FALSE(c.ok()) << set;
    const std::string key = std::string(set).substr(0, std::string(set).find('='));
    EXPECT_NE(c.error().message.find("--set: " + key + ": "), std::string::npos) << c.error().message;
  }
  auto c = load_config({"", {"STREAMREC_LEARNER_MAX_USERS=5000", "STREAMREC_REDIS_USER_TTL_S=86400"},
                        {"learner.max_held_events=1000"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->learner.max_users, 5000);
  EXPECT_EQ(c->redis.user_ttl_s, 86400);
  EXPECT_EQ(c->learner.max_held_events, 1000);
  EXPECT_EQ(LearnerConfig{}.max_items, 2000000);
  auto unbounded = load_config({"", {"STREAMREC_RANKINGS_COVISIT_REDIS_MAX_MEMBERS=0"}, {}});
  ASSERT_TRUE(unbounded.ok()) << unbounded.error().message;
  EXPECT_EQ(unbounded->rankings.covisit_redis_max_members, 0);
}

TEST(Config, UnknownEnvironmentVariablesAreWarningsNamingThemWithoutTheirValues) {
  // What a Kubernetes Service named streamrec injects into every pod.
  std::vector<std::string> warnings;
  auto c = load_config({"", {"STREAMREC_PORT=tcp://10.0.0.7:6379", "STREAMREC_SERVICE_HOST=10.0.0.7",
                             "STREAMREC_REDIS_PREFIX=k8s:"}, {}},
                       &warnings);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->redis.prefix, "k8s:");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("STREAMREC_PORT"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("STREAMREC_SERVICE_HOST"), std::string::npos) << warnings[1];
  for (const std::string& w : warnings) EXPECT_EQ(w.find("10.0.0.7"), std::string::npos) << w;
  // Unknown keys in a file or --set still stop start-up.
  EXPECT_FALSE(load_config({"", {}, {"redis.host=x"}}).ok());
}

TEST(Config, SecretsAreRedactedWhereverSettingsAreShown) {
  EXPECT_EQ(redacted("redis.url", "redis://alice:s3cret@cache:6380/2"), "redis://alice:***@cache:6380/2");
  EXPECT_EQ(redacted("redis.url", "redis://s3cret@cache:6380/2"), "redis://***@cache:6380/2");
  EXPECT_EQ(redacted("redis.url", "redis://a:p@ss@cache/0"), "redis://a:***@cache/0");  // an unencoded @
  EXPECT_EQ(redacted("redis.url", "redis://cache:6380/2"), "redis://cache:6380/2");
  for (const char* secret : {"kafka.properties.sasl.password", "kafka.properties.ssl.key.password",
                             "kafka.properties.ssl.keystore.password", "kafka.properties.sasl.oauthbearer.client.secret",
                             "kafka.properties.ssl.key.pem"})
    EXPECT_EQ(redacted(secret, "hunter2"), "***") << secret;
  EXPECT_EQ(redacted("kafka.properties.socket.timeout.ms", "30000"), "30000");
  EXPECT_EQ(redacted("redis.prefix", "sr:"), "sr:");

  // Nor does an error message repeat them.
  auto bad = load_config({"", {"STREAMREC_REDIS_URL=http://alice:s3cret@cache/0"}, {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("redis.url"), std::string::npos) << bad.error().message;
  EXPECT_EQ(bad.error().message.find("s3cret"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace streamrec
