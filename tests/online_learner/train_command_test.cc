// `streamrec train` end to end on a small JSONL stream: the report and the
// predictions, byte-identical reruns, stop + resume equal to one run, and a
// corrupted checkpoint refused with a clear message.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/online_learner/test_stream.h"

namespace streamrec::learner {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class TrainCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("streamrec_train_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream events(dir_ / "events.jsonl"), items(dir_ / "items.jsonl");
    for (const Event& e : testing::make_stream(4000, 60, 20, 9)) events << encode_event(e) << "\n";
    events << "{not json}\n";  // counted, skipped
    for (const Item& i : testing::make_items(20)) items << encode_item(i) << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs streamrec train with small settings; returns the exit status.
  int train(const std::string& args, const std::string& log = "log.txt") {
    std::string cmd = std::string(STREAMREC_BINARY) + " train --events " + (dir_ / "events.jsonl").string() +
                      " --items " + (dir_ / "items.jsonl").string() +
                      " --set learner.batch_size=64 --set learner.click_window_s=1 --set learner.purchase_window_s=1"
                      " --set learner.expert_hidden=16 --set learner.tower_hidden=8 --set learner.embedding_dim=8 " +
                      args + " > " + (dir_ / log).string() + " 2>&1";
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  fs::path dir_;
};

TEST_F(TrainCommand, ReportAndPredictions) {
  ASSERT_EQ(train("--report-json " + (dir_ / "r.json").string() + " --predictions-out " + (dir_ / "p.csv").string()), 0)
      << slurp(dir_ / "log.txt");
  std::string report = slurp(dir_ / "r.json");
  for (const char* field : {"\"events\": ", "\"samples\": 4000", "\"seconds\": ", "\"samples_per_sec\": ",
                            "\"parameters\": ", "\"embedding_rows\": ", "\"embedding_bytes\": ", "\"bad_events\": 1",
                            "\"click\": {\"whole\": {\"count\": 4000, \"auc\": ", "\"last_20pct\"", "\"ctcvr\"", "\"cvr\"",
                            "\"baseline_click\"", "\"calibration\""})
    EXPECT_NE(report.find(field), std::string::npos) << field << "\n" << report;
  std::istringstream p(slurp(dir_ / "p.csv"));
  std::string line;
  std::getline(p, line);
  EXPECT_EQ(line, "event_id,p_click,p_cvr,p_ctcvr");
  int rows = 0;
  while (std::getline(p, line)) ++rows;
  EXPECT_EQ(rows, 4000);
  EXPECT_NE(slurp(dir_ / "log.txt").find("click "), std::string::npos) << "a human report on stdout";
}

TEST_F(TrainCommand, SameInputSameReportAndCheckpointBytes) {
  for (const char* run : {"a", "b"})
    ASSERT_EQ(train(std::string("--no-timing --report-json ") + (dir_ / run).string() + ".json --checkpoint-out " +
                    (dir_ / run).string() + ".ckpt"),
              0);
  EXPECT_EQ(slurp(dir_ / "a.json"), slurp(dir_ / "b.json"));
  EXPECT_EQ(slurp(dir_ / "a.ckpt"), slurp(dir_ / "b.ckpt"));
  EXPECT_EQ(slurp(dir_ / "a.json").find("seconds"), std::string::npos);
}

TEST_F(TrainCommand, StopAndResumeEqualsOneRun) {
  auto p = [&](const char* f) { return (dir_ / f).string(); };
  ASSERT_EQ(train("--no-timing --report-json " + p("whole.json") + " --predictions-out " + p("whole.csv") +
                  " --checkpoint-out " + p("whole.ckpt")),
            0);
  ASSERT_EQ(train("--stop-after 2001 --predictions-out " + p("first.csv") + " --checkpoint-out " + p("mid.ckpt")), 0)
      << slurp(dir_ / "log.txt");
  ASSERT_EQ(train("--no-timing --resume-from " + p("mid.ckpt") + " --report-json " + p("resumed.json") +
                  " --predictions-out " + p("second.csv") + " --checkpoint-out " + p("resumed.ckpt")),
            0)
      << slurp(dir_ / "log.txt");
  EXPECT_EQ(slurp(dir_ / "resumed.json"), slurp(dir_ / "whole.json"));
  EXPECT_EQ(slurp(dir_ / "resumed.ckpt"), slurp(dir_ / "whole.ckpt"));
  std::string second = slurp(dir_ / "second.csv");
  EXPECT_EQ(slurp(dir_ / "first.csv") + second.substr(second.find('\n') + 1), slurp(dir_ / "whole.csv"));
}

TEST_F(TrainCommand, CorruptedCheckpointIsRefused) {
  std::string ckpt = (dir_ / "c.ckpt").string();
  ASSERT_EQ(train("--stop-after 1000 --checkpoint-out " + ckpt), 0);
  std::string bytes = slurp(ckpt);
  bytes[bytes.size() / 3] ^= 1;
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(train("--resume-from " + ckpt, "bad.txt"), 1);
  EXPECT_NE(slurp(dir_ / "bad.txt").find("checksum mismatch: the file is corrupted"), std::string::npos)
      << slurp(dir_ / "bad.txt");
}

// Runs the binary with `args` (small model settings added); returns the exit status.
int run_train(const std::string& args, const fs::path& log) {
  std::string cmd = std::string(STREAMREC_BINARY) + " train " + args +
                    " --set learner.batch_size=64 --set learner.expert_hidden=16 --set learner.tower_hidden=8"
                    " --set learner.embedding_dim=8 > " + log.string() + " 2>&1";
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(TrainCommand, ATaobaoFileLearnsByDefaultWithSampledNegativesAndReportsItsMalformedRows) {
  std::ofstream csv(dir_ / "taobao.csv");
  for (int k = 0; k < 300; ++k)  // each click by a user of its own: 300 orphan clicks
    csv << k << "," << k % 25 << "," << k % 4 << ",pv," << 1511658000 + k << "\n";
  csv << "7,1,1,pv,yesterday\n";  // line 301
  csv.close();
  ASSERT_EQ(run_train((dir_ / "taobao.csv").string() + " --format taobao --report-json " + (dir_ / "r.json").string(),
                      dir_ / "log.txt"),
            0)
      << slurp(dir_ / "log.txt");
  std::string report = slurp(dir_ / "r.json"), log = slurp(dir_ / "log.txt");
  for (const char* field : {"\"events\": 300,", "\"bad_events\": 1,", "\"sampled_negatives\": 1200", "\"samples\": 1500"})
    EXPECT_NE(report.find(field), std::string::npos) << field << "\n" << report;
  EXPECT_NE(log.find("1 malformed row rejected (first: line 301: ts: \"yesterday\""), std::string::npos) << log;
  EXPECT_NE(log.find("301 rows -> 300 events (0 impressions, 300 clicks, 0 purchases), 25 items"), std::string::npos)
      << log;
}

// A MovieLens ratings file names films only: without --items the command
// says which file gives them categories; with it, it reads the genres.
TEST_F(TrainCommand, AMovieLensFileWithoutItsMoviesFileIsToldAndWithItReadsTheGenres) {
  {
    std::ofstream ratings(dir_ / "ratings.csv");
    ratings << "userId,movieId,rating,timestamp\n";
    for (int k = 0; k < 50; ++k) ratings << k % 7 << "," << k % 5 << ",4.0," << 1260759144 + k << "\n";
    std::ofstream movies(dir_ / "movies.csv");
    movies << "movieId,title,genres\n";
    for (int m = 0; m < 5; ++m) movies << m << ",\"Film " << m << ", The (1995)\",Comedy|Drama\n";
  }
  const std::string ratings = (dir_ / "ratings.csv").string() + " --format movielens";
  ASSERT_EQ(run_train(ratings, dir_ / "without.txt"), 0) << slurp(dir_ / "without.txt");
  EXPECT_NE(slurp(dir_ / "without.txt").find("movielens files name items only: give --items movies.csv"),
            std::string::npos)
      << slurp(dir_ / "without.txt");
  ASSERT_EQ(run_train(ratings + " --items " + (dir_ / "movies.csv").string(), dir_ / "with.txt"), 0)
      << slurp(dir_ / "with.txt");
  EXPECT_EQ(slurp(dir_ / "with.txt").find("name items only"), std::string::npos) << slurp(dir_ / "with.txt");
  ASSERT_EQ(run_train(ratings + " --items " + (dir_ / "ratings.csv").string(), dir_ / "bad.txt"), 1);
  EXPECT_NE(slurp(dir_ / "bad.txt").find("ratings.csv:1: expected the header movieId,title,genres"), std::string::npos)
      << slurp(dir_ / "bad.txt");
}

TEST_F(TrainCommand, ACatalogFileGivesAClicksOnlyStreamItsNegatives) {
  std::ofstream events(dir_ / "clicks.jsonl");
  for (int k = 0; k < 1200; ++k)
    events << encode_event(testing::make_event("c" + std::to_string(k), EventType::kClick, "u" + std::to_string(k),
                                               "i" + std::to_string(k % 20), 1'000'000 + 1000 * k))
           << "\n";
  events.close();
  ASSERT_EQ(run_train((dir_ / "clicks.jsonl").string() + " --report-json " + (dir_ / "none.json").string(),
                      dir_ / "none.txt"),
            0);
  EXPECT_NE(slurp(dir_ / "none.json").find("\"sampled_negatives\": 0,"), std::string::npos);
  EXPECT_NE(slurp(dir_ / "none.txt").find("the catalog is empty"), std::string::npos) << slurp(dir_ / "none.txt");
  ASSERT_EQ(run_train((dir_ / "clicks.jsonl").string() + " --catalog " + (dir_ / "items.jsonl").string() +
                          " --report-json " + (dir_ / "with.json").string(),
                      dir_ / "with.txt"),
            0)
      << slurp(dir_ / "with.txt");
  EXPECT_NE(slurp(dir_ / "with.json").find("\"sampled_negatives\": 4800,"), std::string::npos) << slurp(dir_ / "with.json");
}

}  // namespace
}  // namespace streamrec::learner
