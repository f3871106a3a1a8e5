// `streamrec produce --synthetic --to-file DIR` and the library behind it:
// three files, byte-identical for a seed, every line in the wire format.
#include "producers/synthetic_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/event.h"

namespace streamrec {
namespace {

namespace fs = std::filesystem;

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    path_ = fs::temp_directory_path() / ("streamrec-producers-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }
  std::string dir() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

SyntheticConfig small_config() {  // the original stream: short delays, no drift, no churn
  SyntheticConfig c;
  c.delays = "short";
  c.drift_share = 0;
  c.churn_share = 0;
  c.users = 300;
  c.items = 200;
  c.impressions = 10000;
  return c;
}

TEST(SyntheticFiles, SameSeedWritesByteIdenticalFiles) {
  TempDir tmp;
  ASSERT_TRUE(write_synthetic_files(small_config(), tmp.sub("a")).ok());
  ASSERT_TRUE(write_synthetic_files(small_config(), tmp.sub("b")).ok());
  for (const char* file : {"items.jsonl", "events.jsonl", "truth.csv"}) {
    std::string a = read_all(tmp.sub("a") + "/" + file);
    EXPECT_FALSE(a.empty()) << file;
    EXPECT_EQ(a, read_all(tmp.sub("b") + "/" + file)) << file;
  }
}

TEST(SyntheticFiles, DifferentSeedWritesDifferentFiles) {
  TempDir tmp;
  SyntheticConfig other = small_config();
  other.seed = 7;
  ASSERT_TRUE(write_synthetic_files(small_config(), tmp.sub("a")).ok());
  ASSERT_TRUE(write_synthetic_files(other, tmp.sub("b")).ok());
  EXPECT_NE(read_all(tmp.sub("a") + "/events.jsonl"), read_all(tmp.sub("b") + "/events.jsonl"));
  EXPECT_NE(read_all(tmp.sub("a") + "/items.jsonl"), read_all(tmp.sub("b") + "/items.jsonl"));
}

TEST(SyntheticFiles, EveryLineDecodesAndEveryImpressionHasOneTruthRow) {
  TempDir tmp;
  auto summary = write_synthetic_files(small_config(), tmp.dir());
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EventDecoder decoder;

  auto items = lines(tmp.dir() + "/items.jsonl");
  ASSERT_EQ(items.size(), 200u);
  EXPECT_EQ(summary->items, 200);
  for (const auto& line : items) {
    auto item = decoder.decode_item(line);
    ASSERT_TRUE(std::holds_alternative<Item>(item)) << line;
    EXPECT_GT(std::get<Item>(item).price, 0);
  }

  std::vector<std::string> impression_ids;
  auto events = lines(tmp.dir() + "/events.jsonl");
  EXPECT_EQ(static_cast<int64_t>(events.size()), summary->events);
  for (const auto& line : events) {
    auto ev = decoder.decode_event(line);
    ASSERT_TRUE(std::holds_alternative<Event>(ev)) << line << ": " << std::get<DecodeError>(ev).message;
    EXPECT_EQ(encode_event(std::get<Event>(ev)), line);
    if (std::get<Event>(ev).type == EventType::kImpression) impression_ids.push_back(std::get<Event>(ev).event_id);
  }
  EXPECT_EQ(static_cast<int64_t>(impression_ids.size()), 10000);

  auto truth = lines(tmp.dir() + "/truth.csv");
  ASSERT_EQ(truth.size(), impression_ids.size() + 1);
  EXPECT_EQ(truth[0], "event_id,p_click,p_cvr,p_ctcvr,clicked,purchased");
  int64_t clicked = 0, purchased = 0;
  for (size_t i = 0; i < impression_ids.size(); ++i) {
    std::stringstream row(truth[i + 1]);
    std::string id, p_click, p_cvr, p_ctcvr, c, p;
    std::getline(row, id, ',');
    std::getline(row, p_click, ',');
    std::getline(row, p_cvr, ',');
    std::getline(row, p_ctcvr, ',');
    std::getline(row, c, ',');
    std::getline(row, p, ',');
    EXPECT_EQ(id, impression_ids[i]);
    double pc = std::stod(p_click), pv = std::stod(p_cvr), pcv = std::stod(p_ctcvr);
    EXPECT_GT(pc, 0);
    EXPECT_LT(pc, 1);
    EXPECT_DOUBLE_EQ(pcv, pc * pv);
    ASSERT_TRUE(c == "0" || c == "1") << truth[i + 1];
    ASSERT_TRUE(p == "0" || p == "1") << truth[i + 1];
    clicked += c == "1";
    purchased += p == "1";
  }
  EXPECT_EQ(clicked, summary->clicks);
  EXPECT_EQ(purchased, summary->purchases);
}

TEST(SyntheticFiles, ItemsFileHoldsTheOpeningCatalogThenLaunchesAndRetirementsInTimeOrder) {
  TempDir tmp;
  SyntheticConfig config = small_config();
  config.churn_share = 0.1;  // 20 of 200 launch, 20 retire
  auto summary = write_synthetic_files(config, tmp.dir());
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->items, 180);
  EXPECT_EQ(summary->item_changes, 40);
  EventDecoder decoder;
  auto items = lines(tmp.dir() + "/items.jsonl");
  ASSERT_EQ(items.size(), 220u);
  int64_t last_ts = 0, launches = 0, retirements = 0;
  for (size_t n = 0; n < items.size(); ++n) {
    auto decoded = decoder.decode_item(items[n]);
    ASSERT_TRUE(std::holds_alternative<Item>(decoded)) << items[n];
    const Item& item = std::get<Item>(decoded);
    if (n < 180) {
      EXPECT_TRUE(item.available);
      EXPECT_EQ(item.ts_ms, config.start_ts_ms);
      continue;
    }
    EXPECT_GE(item.ts_ms, last_ts) << items[n];
    last_ts = item.ts_ms;
    (item.available ? launches : retirements) += 1;
  }
  EXPECT_EQ(launches, 20);
  EXPECT_EQ(retirements, 20);
}

TEST(SyntheticFiles, ReportsAnUnwritableDirectory) {
  TempDir tmp;
  std::ofstream(tmp.sub("file")) << "x";
  auto summary = write_synthetic_files(small_config(), tmp.sub("file") + "/sub");
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.error().message.find("file/sub"), std::string::npos) << summary.error().message;
}

int run(const std::string& args) { return std::system((std::string(STREAMREC_BINARY) + " " + args).c_str()); }

TEST(ProduceCommand, ToFileWritesTheStreamAndHonoursTheShorthands) {
  TempDir tmp;
  const std::string fixed_catalog = " --set producer.synthetic.churn_share=0";  // items.jsonl: one line per item
  ASSERT_EQ(run("produce --synthetic --to-file " + tmp.sub("a") + " --impressions 3000 --users 100 --items 50" +
                fixed_catalog + " 2>/dev/null"),
            0);
  ASSERT_EQ(run("produce --synthetic --to-file " + tmp.sub("b") +
                " --set producer.synthetic.impressions=3000 --set producer.synthetic.users=100"
                " --set producer.synthetic.items=50" + fixed_catalog + " 2>/dev/null"),
            0);
  ASSERT_EQ(run("produce --synthetic --to-file " + tmp.sub("c") + " --impressions 3000 --users 100 --items 50 --seed 9" +
                fixed_catalog + " 2>/dev/null"),
            0);
  EXPECT_EQ(lines(tmp.sub("a") + "/items.jsonl").size(), 50u);
  EXPECT_EQ(lines(tmp.sub("a") + "/truth.csv").size(), 3001u);
  EXPECT_EQ(read_all(tmp.sub("a") + "/events.jsonl"), read_all(tmp.sub("b") + "/events.jsonl"));
  EXPECT_NE(read_all(tmp.sub("a") + "/events.jsonl"), read_all(tmp.sub("c") + "/events.jsonl"));
}

TEST(ProduceCommand, BadSettingExitsWithStatusTwo) {
  TempDir tmp;
  int status = run("produce --synthetic --to-file " + tmp.sub("a") + " --set producer.synthetic.base_ctr=x 2>/dev/null");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace streamrec
