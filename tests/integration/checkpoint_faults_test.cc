// Checkpoints under faults: a full disk (a file-size limit, RLIMIT_FSIZE)
// while checkpointing leaves the previous checkpoint intact and the learner
// learning; a damaged newest checkpoint at start falls back to the previous
// one (<path>.prev, kept by every write) instead of stopping start-up.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/pipeline_fixture.h"

namespace streamrec::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CheckpointFaultsTest : public PipelineTest {
 protected:
  std::string checkpoint() const { return dir_ + "/learner.ckpt"; }
  std::vector<std::string> args() const {
    return {"--checkpoint", checkpoint(), "--set", "checkpoint.interval_s=1", "--set", "redis.write_interval_ms=100"};
  }
  // A first learner that learns `n` events and stops cleanly: its
  // checkpoint (and the one before it) are on disk.
  void learn_and_stop(int n) {
    auto learner = start_learner(args());
    produce_events(make_events(n, 200, 60));
    ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(checkpoint()); }, std::chrono::seconds(30)));
    ASSERT_EQ(learner->stop(), 0);
  }
};

TEST_F(CheckpointFaultsTest, AFullDiskWhileCheckpointingKeepsThePreviousCheckpointAndTheLearnerRunning) {
  learn_and_stop(3000);
  const std::string before = read_file(checkpoint());
  ASSERT_GT(before.size(), 4096u);

  // Files this learner writes may not grow past half the checkpoint (its
  // log and stats stay far below).
  std::vector<std::string> argv = {"prlimit", "--fsize=" + std::to_string(before.size() / 2), STREAMREC_BINARY,
                                   "learn", "--stats-file", stats_file()};
  for (const std::string& a : args()) argv.push_back(a);
  const std::string log = dir_ + "/learn-limited.log";
  Subprocess learner(argv, env(), "", log);
  produce_events(make_events(3000, 200, 60, /*first_id=*/3000));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events\n" << read_file(log);
  ASSERT_TRUE(eventually([&] { return read_file(log).find("File too large") != std::string::npos; },
                         std::chrono::seconds(30)))
      << read_file(log);
  EXPECT_TRUE(learner.running());
  expect_exact_counters();
  EXPECT_NE(read_file(log).find("not written (the previous one is kept)"), std::string::npos) << read_file(log);
  EXPECT_EQ(read_file(checkpoint()), before);
  EXPECT_FALSE(std::filesystem::exists(checkpoint() + ".tmp"));
  EXPECT_EQ(learner.stop(), 0) << read_file(log);
  EXPECT_EQ(read_file(checkpoint()), before);
}

TEST_F(CheckpointFaultsTest, ADamagedNewestCheckpointAtStartFallsBackToThePreviousOne) {
  learn_and_stop(3000);
  ASSERT_TRUE(std::filesystem::exists(checkpoint() + ".prev"));
  {
    std::string damaged = read_file(checkpoint());
    damaged[damaged.size() / 2] ^= 0x5a;
    std::ofstream(checkpoint(), std::ios::binary | std::ios::trunc) << damaged;
  }
  auto learner = start_learner(args());
  produce_events(make_events(3000, 200, 60, /*first_id=*/3000));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  EXPECT_EQ(learner->stop(), 0);
  std::string log = read_file(dir_ + "/learn-1.log");
  EXPECT_NE(log.find("checksum mismatch"), std::string::npos) << log;
  EXPECT_NE(log.find("restoring the previous checkpoint " + checkpoint() + ".prev"), std::string::npos) << log;
  EXPECT_TRUE(std::filesystem::exists(checkpoint() + ".corrupt"));
  EXPECT_NE(log.find("learn: restored checkpoint " + checkpoint() + ".prev ("), std::string::npos) << log;
}

}  // namespace
}  // namespace streamrec::testing
