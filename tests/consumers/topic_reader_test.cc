// TopicReader (consumers/topic_reader.h) against the embedded broker, which
// keeps about 5 MiB per partition: a catalog too big for it is never lost
// silently -- the reader counts the messages it never saw and logs an error.
#include "consumers/topic_reader.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>

#include "core/embedded_broker.h"
#include "producers/kafka_producer.h"

namespace streamrec {
namespace {

class TopicReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = EmbeddedBroker::start(1, {{"items", 1}});
    ASSERT_TRUE(broker.ok()) << broker.error().message;
    broker_.emplace(std::move(broker).value());
    config_.kafka.bootstrap_servers = broker_->bootstrap_servers();
    config_.kafka.group_id = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  void TearDown() override { spdlog::default_logger()->sinks().pop_back(); }

  // `n` items of about 1 KB each.
  void send_items(int n) {
    auto producer = KafkaProducer::create(config_.kafka);
    ASSERT_TRUE(producer.ok()) << producer.error().message;
    std::string padding(1000, 'x');
    for (int i = 0; i < n; ++i) {
      std::string id = "i" + std::to_string(i);
      ASSERT_TRUE(producer->send("items", id, "{\"item_id\":\"" + id + "\",\"ts\":1,\"category\":\"" + padding + "\"}").ok());
      if (i % 1000 == 0) producer->poll();
    }
    ASSERT_TRUE(producer->flush(30000).ok());
    ASSERT_EQ(producer->failed(), 0);
  }

  // Reads until two seconds pass without a message; returns the offsets read.
  std::set<int64_t> read_all(TopicReader& reader) {
    std::set<int64_t> offsets;
    auto last = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - last < std::chrono::seconds(2)) {
      KafkaMessage m = reader.poll(100);
      if (!m || m->err) continue;
      offsets.insert(m->offset);
      last = std::chrono::steady_clock::now();
    }
    return offsets;
  }

  int lost_lines() const {
    int n = 0;
    for (const std::string& line : sink_->last_formatted()) n += line.find("LOST") != std::string::npos;
    return n;
  }

  std::optional<EmbeddedBroker> broker_;
  Config config_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

TEST_F(TopicReaderTest, ACatalogTheBrokerKeptWholeIsReadWholeAndNothingIsReportedLost) {
  send_items(1000);  // ~1 MB
  auto reader = TopicReader::create(config_, "items", nullptr);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  std::set<int64_t> offsets = read_all(**reader);
  EXPECT_EQ(offsets.size(), 1000u);
  EXPECT_EQ((*reader)->lost_messages(), 0);
  EXPECT_EQ(lost_lines(), 0);
}

TEST_F(TopicReaderTest, ItemsTheBrokerTrimmedAreCountedAndReportedAsLost) {
  constexpr int kItems = 9000;  // ~9 MB: more than the ~5 MiB one partition keeps
  send_items(kItems);
  auto reader = TopicReader::create(config_, "items", nullptr);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  std::set<int64_t> offsets = read_all(**reader);
  ASSERT_FALSE(offsets.empty());
  EXPECT_GT(*offsets.begin(), 0) << "the broker should have trimmed the oldest items";
  EXPECT_EQ((*reader)->lost_messages(), *offsets.begin()) << "every offset before the first one read is lost";
  EXPECT_EQ(static_cast<int64_t>(offsets.size()) + (*reader)->lost_messages(), kItems);
  ASSERT_GE(lost_lines(), 1);
  bool named = false;
  for (const std::string& line : sink_->last_formatted())
    if (line.find("items partition 0: " + std::to_string(*offsets.begin()) + " messages LOST") != std::string::npos)
      named = true;
  EXPECT_TRUE(named) << "the error names the topic, the partition and how many were lost";
}

TEST_F(TopicReaderTest, AStartOffsetTheBrokerNoLongerHoldsIsReportedWithTheGap) {
  constexpr int kItems = 9000;
  send_items(kItems);
  auto reader = TopicReader::create(config_, "items", [](const TopicPartition&) { return std::optional<int64_t>(10); });
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  std::set<int64_t> offsets = read_all(**reader);
  ASSERT_FALSE(offsets.empty());
  ASSERT_GT(*offsets.begin(), 10);
  EXPECT_EQ((*reader)->lost_messages(), *offsets.begin() - 10);
  EXPECT_GE(lost_lines(), 1);
}

}  // namespace
}  // namespace streamrec
