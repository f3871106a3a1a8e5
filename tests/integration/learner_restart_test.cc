// SIGKILL `streamrec learn` mid-stream and restart it from its checkpoint:
// every counter is exact and the model ends where an uninterrupted run ends
// (click AUC within 0.005).
#include <signal.h>

#include <fstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

// Label windows short enough for this 10-minute (event time) stream.
// Effects written every 100 ms (not every second), so the kill lands
// between writes.
const std::vector<std::string> kLearnSettings = {"--set", "learner.click_window_s=180", "--set",
                                                 "learner.purchase_window_s=300", "--set",
                                                 "checkpoint.interval_s=1", "--set", "redis.write_interval_ms=100"};

class LearnerRestartTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    stream_ = dir_ + "/stream";
    int rc = -1;
    std::string out = run_shell(std::string(STREAMREC_BINARY) + " produce --synthetic --to-file " + stream_ +
                                    " --impressions 60000 --users 400 --items 150 2>&1",
                                &rc);
    ASSERT_EQ(rc, 0) << out;
    EventDecoder decoder;
    std::ifstream events(stream_ + "/events.jsonl");
    for (std::string line; std::getline(events, line);) expected_.add(std::get<Event>(decoder.decode_event(line)));
  }

  // Replays the stream into a broker with `streamrec produce --replay`.
  void replay(const std::string& bootstrap) {
    Subprocess producer({STREAMREC_BINARY, "produce", "--replay", stream_ + "/events.jsonl", "--replay-items",
                         stream_ + "/items.jsonl"},
                        {{"STREAMREC_KAFKA_BOOTSTRAP_SERVERS", bootstrap}}, "", dir_ + "/produce.log");
    ASSERT_EQ(producer.wait(std::chrono::seconds(120)), 0);
  }

  std::string stream_;
};

TEST_F(LearnerRestartTest, KilledAndRestartedLearnerEndsWithExactCountersAndTheSameAuc) {
  // The reference: the same stream, uninterrupted, on its own broker and Redis.
  double reference_auc = 0;
  {
    RedisServer redis;
    KafkaBroker broker;
    std::string stats = dir_ + "/reference-stats.json";
    std::vector<std::string> argv = {STREAMREC_BINARY, "learn", "--stats-file", stats, "--stop-after-idle", "3"};
    argv.insert(argv.end(), kLearnSettings.begin(), kLearnSettings.end());
    Subprocess learner(argv,
                       {{"STREAMREC_KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers()},
                        {"STREAMREC_REDIS_URL", redis.url()},
                        {"STREAMREC_CONSUMER_SESSION_TIMEOUT_MS", "6000"},
                        {"STREAMREC_CHECKPOINT_PATH", dir_ + "/reference.ckpt"}},
                       "", dir_ + "/reference-learn.log");
    replay(broker.bootstrap_servers());
    ASSERT_EQ(learner.wait(std::chrono::seconds(180)), 0);
    reference_auc = stats_number(stats, "auc_click");
    ASSERT_GT(reference_auc, 0.53) << "the reference run learned nothing";
  }

  std::vector<std::string> args = kLearnSettings;
  args.insert(args.end(), {"--checkpoint", dir_ + "/learner.ckpt"});
  auto first = start_learner(args);
  replay(broker_.bootstrap_servers());
  ASSERT_TRUE(eventually([&] { return events_in_redis() >= expected_.events / 2; }, std::chrono::seconds(120)));
  ASSERT_TRUE(eventually([&] { return std::ifstream(dir_ + "/learner.ckpt").good(); }, std::chrono::seconds(10)));
  first->signal(SIGKILL);
  ASSERT_EQ(first->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  ASSERT_LT(events_in_redis(), expected_.events) << "the stream ended before the kill";

  std::vector<std::string> again = args;
  again.insert(again.end(), {"--stop-after-idle", "3"});
  auto second = start_learner(again);
  ASSERT_EQ(second->wait(std::chrono::seconds(180)), 0);
  expect_exact_counters();
  double restarted_auc = stats_number(stats_file(), "auc_click");
  EXPECT_NEAR(restarted_auc, reference_auc, 0.005);
}

}  // namespace
}  // namespace streamrec::testing
