// `streamrec produce` against a real Kafka protocol endpoint (the embedded
// broker), read back with a real kcat: every message arrives, keyed as the
// contract says, and replaying a file sends exactly its lines.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/embedded_broker.h"
#include "core/event.h"
#include "producers/kafka_producer.h"
#include "producers/produce.h"
#include "producers/synthetic_files.h"
#include "tests/support/subprocess.h"

extern char** environ;

namespace streamrec {
namespace {

namespace fs = std::filesystem;

using Message = std::pair<std::string, std::string>;  // key, value

class ProduceKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = EmbeddedBroker::start(1, {{"events", 6}, {"items", 1}, {"events.dlq", 1}});
    ASSERT_TRUE(broker.ok()) << broker.error().message;
    broker_.emplace(std::move(broker).value());
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::temp_directory_path() / ("streamrec-produce-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string bootstrap() const { return broker_->bootstrap_servers(); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  Config config() const {
    Config c;
    c.kafka.bootstrap_servers = bootstrap();
    c.producer.synthetic.users = 500;
    c.producer.synthetic.items = 300;
    c.producer.synthetic.impressions = 20000;
    c.producer.synthetic.churn_share = 0;  // a fixed catalog: every item sent once, first
    return c;
  }

  // Everything in `topic`, read by kcat, in per-partition order.
  std::vector<Message> consume(const std::string& topic) const { return consume(topic, bootstrap()); }
  static std::vector<Message> consume(const std::string& topic, const std::string& bootstrap) {
    std::string command = "kcat -C -b " + bootstrap + " -t " + topic + " -e -q -f '%k\\t%s\\n'";
    std::FILE* pipe = ::popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    std::vector<Message> out;
    std::string line;
    char buf[1 << 16];
    while (std::fgets(buf, sizeof buf, pipe)) {
      line += buf;
      if (line.empty() || line.back() != '\n') continue;
      line.pop_back();
      auto tab = line.find('\t');
      EXPECT_NE(tab, std::string::npos) << line;
      out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
      line.clear();
    }
    EXPECT_EQ(::pclose(pipe), 0) << command;
    return out;
  }

  std::optional<EmbeddedBroker> broker_;
  fs::path dir_;
};

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The values per key, in order: Kafka keeps order within a partition, and a
// key always maps to one partition. Keyless messages spread over partitions,
// so their order is not kept: they are compared sorted.
std::map<std::string, std::vector<std::string>> by_key(const std::vector<Message>& messages) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [key, value] : messages) out[key].push_back(value);
  if (auto keyless = out.find(""); keyless != out.end()) std::sort(keyless->second.begin(), keyless->second.end());
  return out;
}

// Runs the streamrec binary with `args`; returns its pid.
pid_t spawn(const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = {STREAMREC_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

int run(const std::vector<std::string>& args) { return wait_exit(spawn(args)); }

TEST_F(ProduceKafkaTest, SyntheticStreamArrivesWholeKeyedByUserAndItem) {
  Config c = config();
  auto report = produce_synthetic(c);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->failed, 0) << report->last_error;
  EXPECT_EQ(report->delivered, report->events + report->items);
  EXPECT_EQ(report->items, 300);

  // The same stream, written to files, is what must have arrived.
  ASSERT_TRUE(write_synthetic_files(c.producer.synthetic, path("files")).ok());
  auto expected_events = lines(path("files/events.jsonl"));
  auto expected_items = lines(path("files/items.jsonl"));
  ASSERT_EQ(report->events, static_cast<int64_t>(expected_events.size()));

  EventDecoder decoder;
  std::vector<Message> expected;
  for (const auto& line : expected_events) expected.emplace_back(std::get<Event>(decoder.decode_event(line)).user_id, line);
  EXPECT_EQ(by_key(consume("events")), by_key(expected));

  expected.clear();
  for (const auto& line : expected_items) expected.emplace_back(std::get<Item>(decoder.decode_item(line)).item_id, line);
  EXPECT_EQ(consume("items"), expected);  // one partition: exact order
}

TEST_F(ProduceKafkaTest, LaunchesAndRetirementsGoToTheItemsTopicAfterTheOpeningCatalogInOrder) {
  Config c = config();
  c.producer.synthetic.churn_share = 0.1;  // 30 of 300 items launch during the stream, 30 retire
  auto report = produce_synthetic(c);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->failed, 0) << report->last_error;
  EXPECT_EQ(report->items, 270 + 60);

  auto summary = write_synthetic_files(c.producer.synthetic, path("files"));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->item_changes, 60);
  EventDecoder decoder;
  std::vector<Message> expected;
  for (const auto& line : lines(path("files/items.jsonl")))
    expected.emplace_back(std::get<Item>(decoder.decode_item(line)).item_id, line);
  EXPECT_EQ(consume("items"), expected);  // one partition: exact order
  EXPECT_EQ(report->events, summary->events);
}

TEST_F(ProduceKafkaTest, ReplaySendsEveryLineAsIsIncludingMalformedOnes) {
  Config c = config();
  c.producer.synthetic.impressions = 3000;
  ASSERT_TRUE(write_synthetic_files(c.producer.synthetic, path("files")).ok());
  EventDecoder decoder;
  std::vector<Message> expected;
  for (const auto& line : lines(path("files/events.jsonl")))
    expected.emplace_back(std::get<Event>(decoder.decode_event(line)).user_id, line);
  // Malformed lines go through unchanged, keyed by their user_id if one can
  // be read.
  expected.insert(expected.begin() + 10, {"", "not json at all"});
  expected.insert(expected.begin() + 20, {"u7", R"({"event_id":"x1","type":"bogus","user_id":"u7","item_id":"i1","ts":1})"});
  expected.insert(expected.begin() + 30, {"", R"({"user_id":42})"});
  expected.insert(expected.begin() + 40, {"", ""});
  {
    std::ofstream out(path("replay.jsonl"));
    for (const auto& [key, line] : expected) out << line << "\n";
  }
  ASSERT_EQ(run({"produce", "--replay", path("replay.jsonl"), "--replay-items", path("files/items.jsonl"), "--set",
                 "kafka.bootstrap_servers=" + bootstrap()}),
            0);

  EXPECT_EQ(by_key(consume("events")), by_key(expected));
  auto items = consume("items");
  auto item_lines = lines(path("files/items.jsonl"));
  ASSERT_EQ(items.size(), item_lines.size());
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(items[i].second, item_lines[i]);
  EXPECT_EQ(items[0].first, "i0");
}

TEST_F(ProduceKafkaTest, ADatasetFileSendsItsCatalogThenItsEventsInEventTimeOrder) {
  {
    std::ofstream out(path("taobao.csv"));
    out << "u1,i1,c1,pv,1511658002\n"   // line 1
        << "u1,i2,c2,buy,1511658001\n"  // line 2: earlier, sorted before line 1
        << "u2,i1,c1,pv,oops\n"         // line 3: malformed, not sent
        << "u2,i3,c3,cart,1511658003\n";
  }
  ASSERT_EQ(run({"produce", "--replay", path("taobao.csv"), "--format", "taobao", "--set",
                 "kafka.bootstrap_servers=" + bootstrap()}),
            0);
  auto items = consume("items");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0], (Message{"i1", R"({"item_id":"i1","category":"c1","price":0,"available":true,"ts":1511658002000})"}));
  std::map<std::string, std::vector<std::string>> expected = {
      {"u1",
       {R"({"event_id":"taobao:2","type":"purchase","user_id":"u1","item_id":"i2","ts":1511658001000})",
        R"({"event_id":"taobao:1","type":"click","user_id":"u1","item_id":"i1","ts":1511658002000})"}},
      {"u2", {R"({"event_id":"taobao:4","type":"click","user_id":"u2","item_id":"i3","ts":1511658003000})"}}};
  EXPECT_EQ(by_key(consume("events")), expected);
}

// RetailRocket's events name items only; --replay-items gives the catalog
// sent before them the categories of item_properties.csv (kcat reads them).
TEST_F(ProduceKafkaTest, AnItemFileGivesTheReplayedCatalogItsCategories) {
  {
    std::ofstream out(path("events.csv"));
    out << "timestamp,visitorid,event,itemid,transactionid\n"
        << "1433221332117,257597,view,355908,\n";
    std::ofstream properties(path("item_properties.csv"));
    properties << "timestamp,itemid,property,value\n"
               << "1433221332000,355908,categoryid,1173\n";
  }
  ASSERT_EQ(run({"produce", "--replay", path("events.csv"), "--format", "retailrocket", "--replay-items",
                 path("item_properties.csv"), "--set", "kafka.bootstrap_servers=" + bootstrap()}),
            0);
  auto items = consume("items");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0],
            (Message{"355908", R"({"item_id":"355908","category":"1173","price":0,"available":true,"ts":1433221332117})"}));
}

TEST_F(ProduceKafkaTest, NoItemsSendsTheDatasetsEventsButNotItsCatalog) {
  {
    std::ofstream out(path("taobao.csv"));
    out << "u1,i1,c1,pv,1511658002\n"
        << "u1,i2,c2,buy,1511658001\n"
        << "u2,i3,c3,cart,1511658003\n";
  }
  ASSERT_EQ(run({"produce", "--replay", path("taobao.csv"), "--format", "taobao", "--no-items", "--set",
                 "kafka.bootstrap_servers=" + bootstrap()}),
            0);
  // The learners load the catalog themselves (learn --catalog): the items
  // topic stays empty, the events are all there, as without --no-items.
  EXPECT_TRUE(consume("items").empty());
  std::map<std::string, std::vector<std::string>> expected = {
      {"u1",
       {R"({"event_id":"taobao:2","type":"purchase","user_id":"u1","item_id":"i2","ts":1511658001000})",
        R"({"event_id":"taobao:1","type":"click","user_id":"u1","item_id":"i1","ts":1511658002000})"}},
      {"u2", {R"({"event_id":"taobao:3","type":"click","user_id":"u2","item_id":"i3","ts":1511658003000})"}}};
  EXPECT_EQ(by_key(consume("events")), expected);
}

TEST_F(ProduceKafkaTest, NoItemsWithJsonlIsBadUsageThatNamesTheFlagAndSendsNothing) {
  {
    std::ofstream out(path("events.jsonl"));
    out << R"({"event_id":"e1","type":"click","user_id":"u1","item_id":"i1","ts":1})" << "\n";
  }
  // stderr is read here, so not through spawn() (which discards it).
  std::string command = std::string(STREAMREC_BINARY) + " produce --replay " + path("events.jsonl") +
                        " --no-items --set kafka.bootstrap_servers=" + bootstrap() + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 2) << output;
  EXPECT_NE(output.find("--no-items"), std::string::npos) << output;
  EXPECT_NE(output.find("--format"), std::string::npos) << output;
  EXPECT_TRUE(consume("events").empty());
}

TEST_F(ProduceKafkaTest, ReplayOfAProducedStreamYieldsTheSameMessages) {
  Config c = config();
  c.producer.synthetic.impressions = 5000;
  ASSERT_TRUE(write_synthetic_files(c.producer.synthetic, path("files")).ok());
  auto report = produce_replay(c, path("files/events.jsonl"), "");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->failed, 0);
  auto replayed = by_key(consume("events"));

  // A second, independent broker receives the synthetic stream directly.
  auto other = EmbeddedBroker::start(1, {{"events", 6}, {"items", 1}});
  ASSERT_TRUE(other.ok());
  c.kafka.bootstrap_servers = other->bootstrap_servers();
  ASSERT_TRUE(produce_synthetic(c).ok());
  EXPECT_EQ(by_key(consume("events", other->bootstrap_servers())), replayed);
}

TEST_F(ProduceKafkaTest, RateLimitsTheStream) {
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run({"produce", "--synthetic", "--impressions", "1000", "--users", "100", "--items", "50", "--rate", "2000",
                 "--set", "kafka.bootstrap_servers=" + bootstrap()}),
            0);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto events = consume("events");
  // ~1,050 events at 2,000/s take at least ~0.5 s.
  EXPECT_GE(seconds, 0.9 * events.size() / 2000.0);
  EXPECT_GT(events.size(), 1000u);
}

TEST_F(ProduceKafkaTest, UndeliverableMessagesMakeTheExitStatusNonZero) {
  // Port 1: nothing listens, so every message times out.
  EXPECT_EQ(run({"produce", "--synthetic", "--impressions", "50", "--users", "10", "--items", "20", "--set",
                 "kafka.bootstrap_servers=127.0.0.1:1", "--set", "kafka.properties.message.timeout.ms=1000"}),
            1);
}

TEST_F(ProduceKafkaTest, InterruptStopsSendingAndDeliversWhatWasSent) {
  pid_t pid = spawn({"produce", "--synthetic", "--impressions", "100000", "--users", "100", "--items", "50", "--rate",
                     "200", "--set", "kafka.bootstrap_servers=" + bootstrap()});
  // Interrupt once the stream is visibly flowing.
  auto deadline = std::chrono::steady_clock::now() + testing::scaled(std::chrono::seconds(20));
  while (consume("events").size() < 50 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_exit(pid), 130);
  EXPECT_LT(std::chrono::steady_clock::now() - start, testing::scaled(std::chrono::seconds(5)));
  // The whole stream is ~105,000 events, 500 s at this rate.
  auto events = consume("events");
  EXPECT_GE(events.size(), 50u);
  EXPECT_LT(events.size(), 5000u);
}

TEST(KafkaProducer, CountsFailuresAsValues) {
  Config c;
  c.kafka.bootstrap_servers = "127.0.0.1:1";
  c.kafka.properties["message.timeout.ms"] = "500";
  auto producer = KafkaProducer::create(c.kafka);
  ASSERT_TRUE(producer.ok()) << producer.error().message;
  EXPECT_TRUE(producer->send("events", "u1", "{}").ok());
  EXPECT_TRUE(producer->send("events", "", "{}").ok());
  EXPECT_TRUE(producer->flush(10'000).ok());
  EXPECT_EQ(producer->queued(), 2);
  EXPECT_EQ(producer->delivered(), 0);
  EXPECT_EQ(producer->failed(), 2);
  EXPECT_NE(producer->last_error().find("events"), std::string::npos) << producer->last_error();
}

TEST(KafkaProducer, RejectsABadPropertyNamingIt) {
  Config c;
  c.kafka.properties["no.such.property"] = "1";
  auto producer = KafkaProducer::create(c.kafka);
  ASSERT_FALSE(producer.ok());
  EXPECT_NE(producer.error().message.find("no.such.property"), std::string::npos) << producer.error().message;
}

}  // namespace
}  // namespace streamrec
