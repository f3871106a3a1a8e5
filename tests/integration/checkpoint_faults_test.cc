// Checkpoints under faults: a full disk (a file-size limit, RLIMIT_FSIZE)
// while checkpointing leaves the previous checkpoint intact and the learner
// learning; a damaged newest checkpoint at start falls back to the previous
// one (<path>.prev, kept by every write) instead of stopping start-up; and
// every write is durable: the file fsynced before it is renamed into place,
// the directory fsynced after (seen with strace), made only once Redis holds
// the effects of the messages before its positions, and naming every
// partition the learner reads.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "core/config.h"
#include "online_learner/learner.h"
#include "pipeline/pipeline_checkpoint.h"
#include "pipeline/ranking_debouncer.h"
#include "ranking/ranker.h"
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
  const auto started = std::chrono::steady_clock::now();
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
  // A failed write is tried again an interval (1 s) later, not on every
  // tick: each try serializes the whole model on its thread, and retried
  // every 10 ms they left an instrumented learner too little time to learn.
  const double ran_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  size_t failed_writes = 0;
  const std::string text = read_file(log);
  for (size_t at = text.find("not written (the previous one is kept)"); at != std::string::npos;
       at = text.find("not written (the previous one is kept)", at + 1))
    ++failed_writes;
  EXPECT_LE(failed_writes, ran_s / 1.0 + 2) << "in " << ran_s << " s";
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

// bench/soak.sh found it: at 30k events/s each checkpoint (~280 MB, with a
// million pending impressions) stopped consuming for 5-25 s while its file
// was written and fsynced. A write that takes long (here: its FILE.tmp a
// named pipe nobody reads, so it blocks at open) must not stop the learner.
TEST_F(CheckpointFaultsTest, ASlowCheckpointWriteDoesNotStopTheLearner) {
  ASSERT_EQ(::mkfifo((checkpoint() + ".tmp").c_str(), 0600), 0);
  auto learner = start_learner(args());
  produce_events(make_events(2000, 200, 60));
  // The first checkpoint (at the items' first position) is due at once.
  ASSERT_TRUE(eventually([&] { return events_in_redis() == 2000; }, std::chrono::seconds(60)))
      << "the learner stopped while its checkpoint was being written: Redis holds " << events_in_redis()
      << " of 2000 events\n" << read_file(dir_ + "/learn-0.log");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_FALSE(std::filesystem::exists(checkpoint())) << "the checkpoint was written past its blocked FILE.tmp";
  produce_events(make_events(2000, 200, 60, /*first_id=*/2000));
  EXPECT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(30)))
      << "the learner stopped while its checkpoint was being written: Redis holds " << events_in_redis() << " of "
      << expected_.events << " events\n" << read_file(dir_ + "/learn-0.log");

  // The write goes on once the pipe is read (it fails: a pipe cannot be
  // fsynced), and the next one lands.
  std::ifstream(checkpoint() + ".tmp", std::ios::binary).ignore(std::numeric_limits<std::streamsize>::max());
  EXPECT_TRUE(eventually([&] { return std::filesystem::is_regular_file(checkpoint()); }, std::chrono::seconds(30)))
      << read_file(dir_ + "/learn-0.log");
  EXPECT_EQ(learner->stop(), 0);
  expect_exact_counters();
}

// A restart from a checkpoint skips the messages before its positions, so
// their effects must be in Redis before the file is: a checkpoint taken
// while Redis does not answer waits for it (the consumer does not: it goes
// on). Killed during the stall, the learner has no newer checkpoint than the
// one from before it, and its successor re-reads what the stall held back:
// every counter exact.
TEST_F(CheckpointFaultsTest, ACheckpointIsWrittenOnlyOnceRedisHoldsTheEffectsBeforeIt) {
  std::vector<std::string> stalled_args = args();
  stalled_args.insert(stalled_args.end(), {"--set", "redis.timeout_ms=300"});
  auto learner = start_learner(stalled_args);
  produce_events(make_events(3000, 200, 60));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(checkpoint()); }, std::chrono::seconds(30)));
  // Two intervals with nothing new: the last checkpoint holds every position.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const std::string before = read_file(checkpoint());

  // Redis asleep for 4 s; events meanwhile, then the learner killed while
  // their effects are still only in its memory (checkpoints due every 1 s).
  run_shell("redis-cli -p " + std::to_string(redis_.port()) + " DEBUG SLEEP 4 >/dev/null 2>&1 &");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  produce_events(make_events(2000, 200, 60, /*first_id=*/3000));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  learner->signal(SIGKILL);
  learner->wait(std::chrono::seconds(10));
  EXPECT_EQ(read_file(checkpoint()), before) << "a checkpoint was written while Redis did not hold the effects before it\n"
                                               << read_file(dir_ + "/learn-0.log");

  auto successor = start_learner(args());
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)))
      << "Redis holds " << events_in_redis() << " of " << expected_.events << " events";
  expect_exact_counters();
  EXPECT_EQ(successor->stop(), 0);
}

// A checkpoint names every events partition the learner reads, from where
// its reading began, also one that has delivered nothing yet: a restart
// would otherwise read such a partition from the offsets committed since,
// past messages the checkpoint's model never learned (LearnerRestartTest's
// AUC came out 0.01 off, half the time, that way).
TEST_F(CheckpointFaultsTest, ACheckpointNamesEveryAssignedPartitionAlsoOneThatDeliveredNothing) {
  auto learner = start_learner(args());
  produce_events(make_events(200, /*users=*/1, 20));  // one user: one of the six partitions
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  ASSERT_EQ(learner->stop(), 0);

  Config config = std::move(load_config(ConfigSources{})).value();
  auto learner_state = std::move(learner::Learner::create(config.learner)).value();
  ranking::Ranker ranker(config.rankings, config.popularity, *learner_state);
  pipeline::RankingDebouncer users(config.rankings, config.learner.recent_clicks);
  pipeline::StreamPositions positions;
  std::vector<learner::EventWithRecentClicks> held;
  auto restored = pipeline::restore_pipeline_checkpoint(checkpoint(), positions, users, held, ranker, *learner_state);
  ASSERT_TRUE(restored.ok() && !restored->empty()) << (restored.ok() ? "no checkpoint" : restored.error().message);
  int events_partitions = 0, delivered = 0;
  for (const auto& [partition, next] : positions.next) {
    if (partition.topic != "events") continue;
    ++events_partitions;
    if (next > 0) ++delivered;
  }
  EXPECT_EQ(events_partitions, 6) << read_file(dir_ + "/learn-0.log");
  EXPECT_EQ(delivered, 1);
}

// The system calls of each thread, from `strace -ff -o PREFIX`: one file per
// thread (PREFIX.<tid>), its lines in order. One file each, because in one
// shared file a call that another thread interrupts is split in two lines
// ("fsync(5 <unfinished ...>", "<... fsync resumed>) = 0"), and since the
// checkpoint is written on a thread of its own, any traced call of the other
// threads during a slow fsync did that (CI failed on it).
std::vector<std::vector<std::string>> calls_by_thread(const std::string& prefix) {
  std::vector<std::vector<std::string>> threads;
  const std::filesystem::path base(prefix);
  for (const auto& entry : std::filesystem::directory_iterator(base.parent_path())) {
    if (entry.path().filename().string().rfind(base.filename().string() + ".", 0) != 0) continue;
    std::istringstream lines(read_file(entry.path().string()));
    auto& calls = threads.emplace_back();
    for (std::string line; std::getline(lines, line);) calls.push_back(line);
  }
  return threads;
}

// The fd an `openat(...) = N` line returned, or -1.
int returned_fd(const std::string& call) {
  size_t eq = call.rfind(") = ");
  return eq == std::string::npos ? -1 : std::atoi(call.c_str() + eq + 4);
}

TEST_F(CheckpointFaultsTest, ACheckpointIsFsyncedBeforeItIsRenamedIntoPlaceAndItsDirectoryAfter) {
  std::filesystem::create_directory(dir_ + "/strace");
  const std::string trace = dir_ + "/strace/trace";
  // The learner is strace's child: setpriv ties it to strace (SIGKILL when
  // strace dies, as Subprocess ties strace to the test).
  std::vector<std::string> argv = {"strace", "-ff", "-qq", "-o", trace, "-e",
                                   "trace=openat,fsync,fdatasync,rename,renameat,renameat2", "setpriv",
                                   "--pdeathsig", "KILL", STREAMREC_BINARY, "learn", "--stats-file", stats_file()};
  for (const std::string& a : args()) argv.push_back(a);
  // LeakSanitizer cannot run under ptrace (an ASan build of the learner
  // would exit 1 with "LeakSanitizer has encountered a fatal error"): its
  // leak check is off for this one traced run. No effect on a plain build.
  auto environment = env();
  const char* asan = std::getenv("ASAN_OPTIONS");
  environment["ASAN_OPTIONS"] = (asan && *asan ? std::string(asan) + ":" : std::string()) + "detect_leaks=0";
  Subprocess traced(argv, environment, "", dir_ + "/learn-traced.log");
  // strace killed would leave the learner running until strace's exit is
  // noticed, so it is killed first whenever the test ends.
  pid_t learner = 0;
  // By its name: strace forks short-lived children of its own at start (to
  // probe what ptrace supports), and a SIGTERM sent to one of those reaches
  // nobody.
  ASSERT_TRUE(eventually([&] { return (learner = std::atoi(run_shell("pgrep -x streamrec -P " + std::to_string(traced.pid())).c_str())) > 0; },
                         std::chrono::seconds(10)));
  struct KillFirst {
    pid_t pid;
    ~KillFirst() { ::kill(pid, SIGKILL); }
  } kill_first{learner};
  produce_events(make_events(2000, 200, 60));
  ASSERT_TRUE(eventually([&] { return events_in_redis() == expected_.events; }, std::chrono::seconds(60)));
  // One checkpoint on the interval; the clean stop writes another.
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(checkpoint()); }, std::chrono::seconds(30)));
  ::kill(learner, SIGTERM);
  // Should the stop not come, each thread's signal state says where SIGTERM went.
  auto signal_state = [&] {
    return run_shell("grep -H -E 'Name|State|SigQ|SigPnd|ShdPnd|SigBlk|SigCgt|TracerPid' /proc/" +
                     std::to_string(learner) + "/task/*/status 2>&1");
  };
  int status = traced.wait(std::chrono::seconds(30));
  ASSERT_EQ(status, 0) << (status == -1 ? signal_state() : "") << read_file(dir_ + "/learn-traced.log");
  ASSERT_TRUE(std::filesystem::exists(checkpoint() + ".prev"));

  // Every write of the checkpoint, on the thread that made it: open FILE.tmp,
  // fsync it, FILE -> FILE.prev, FILE.tmp -> FILE, open the directory, fsync it.
  const std::string tmp = checkpoint() + ".tmp";
  std::string text;  // every thread's calls, for the messages
  int writes = 0;
  for (const std::vector<std::string>& calls : calls_by_thread(trace)) {
    for (const std::string& call : calls) text += call + "\n";
    for (auto at = calls.begin(); at != calls.end(); ++at) {
      if (at->find("openat(") == std::string::npos || at->find("\"" + tmp + "\"") == std::string::npos) continue;
      ++writes;
      const int file_fd = returned_fd(*at);
      ASSERT_GE(file_fd, 0) << *at;
      std::vector<std::string> after(at + 1, calls.end());
      auto find = [&](size_t from, const std::string& needle, const std::string& also = "") {
        for (size_t i = from; i < after.size(); ++i)
          if (after[i].find(needle) != std::string::npos && after[i].find(also) != std::string::npos) return i;
        return after.size();
      };
      size_t file_sync = find(0, "fsync(" + std::to_string(file_fd) + ")", "= 0");
      size_t into_place = find(0, "rename", "\"" + tmp + "\", ");
      ASSERT_LT(file_sync, after.size()) << "FILE.tmp not fsynced:\n" << text;
      ASSERT_LT(into_place, after.size()) << "FILE.tmp not renamed:\n" << text;
      EXPECT_LT(file_sync, into_place) << "renamed before it was fsynced";
      EXPECT_NE(after[into_place].find(", \"" + checkpoint() + "\""), std::string::npos) << after[into_place];
      EXPECT_NE(after[into_place].find(" = 0"), std::string::npos) << after[into_place];
      size_t open_dir = find(into_place, "\"" + dir_ + "\", O_RDONLY", "O_DIRECTORY");
      ASSERT_LT(open_dir, after.size()) << "the directory was not opened after the rename";
      EXPECT_LT(find(open_dir, "fsync(" + std::to_string(returned_fd(after[open_dir])) + ")", "= 0"), after.size())
          << "the directory was not fsynced";
    }
  }
  EXPECT_GE(writes, 2) << text;  // at least one on the interval, and the one at the stop
}

}  // namespace
}  // namespace streamrec::testing
