// Checkpoints: restore-and-continue is bit-identical to never stopping;
// corrupted and truncated files are rejected with a clear error; runs are
// deterministic; warm start copies the model and freezes what is asked.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "online_learner/byte_io.h"
#include "online_learner/checkpoint.h"
#include "online_learner/learner.h"
#include "tests/online_learner/test_stream.h"

namespace streamrec::learner {
namespace {

LearnerConfig small_config() {
  LearnerConfig c;
  c.embedding_dim = 8;
  c.experts = 2;
  c.expert_hidden = 16;
  c.tower_hidden = 8;
  c.batch_size = 32;
  c.click_window_s = 1;
  c.purchase_window_s = 1;
  c.ttl_s = 2;
  c.admit_after = 2;
  return c;
}

std::unique_ptr<Learner> make(const LearnerConfig& c, std::vector<std::string>* scores = nullptr) {
  auto l = Learner::create(c);
  EXPECT_TRUE(l.ok());
  for (const Item& item : testing::make_items(20)) (*l)->add_item(item);
  if (scores)
    (*l)->set_sink([scores](const Sample& s, const Scores& p) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "%s,%a,%a,%a", s.event_id.c_str(), p.p_click, p.p_cvr, p.p_ctcvr);
      scores->push_back(buf);
    });
  return std::move(l).value();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("streamrec_ckpt_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { events_ = testing::make_stream(3000, 40, 20, 5); }
  std::vector<Event> events_;
};

const char* const kFeedbackModes[] = {"windowed", "fake_negative", "defer"};

LearnerConfig config_with(const std::string& feedback) {
  LearnerConfig c = small_config();
  c.feedback = feedback;
  return c;
}

TEST_F(CheckpointTest, SameInputSameBytes) {
  for (const char* mode : kFeedbackModes) {
    SCOPED_TRACE(mode);
    auto a = make(config_with(mode)), b = make(config_with(mode));
    for (const Event& e : events_) {
      a->add_event(e);
      b->add_event(e);
    }
    a->finish();
    b->finish();
    EXPECT_EQ(a->samples_learned(), 3000u) << "every impression's labels are recorded once";
    EXPECT_EQ(a->checkpoint_bytes(7), b->checkpoint_bytes(7));
  }
}

// append_checkpoint() writes in place what str(checkpoint_bytes()) copies,
// after whatever the writer holds, and reads back as a checkpoint.
TEST_F(CheckpointTest, AppendedInPlaceIsTheLengthAndTheBytes) {
  auto learner = make(small_config());
  for (const Event& e : events_) learner->add_event(e);
  ByteWriter copied, in_place;
  copied.str("before");
  in_place.str("before");
  copied.str(learner->checkpoint_bytes(7));
  learner->append_checkpoint(in_place, 7);
  EXPECT_EQ(in_place.bytes(), copied.bytes());
  ByteReader in(in_place.bytes());
  EXPECT_EQ(in.str(), "before");
  auto restored = make(small_config());
  auto position = restored->restore_checkpoint_bytes(in.str(), "appended");
  ASSERT_TRUE(position.ok()) << position.error().message;
  EXPECT_EQ(*position, 7u);
  EXPECT_EQ(restored->checkpoint_bytes(7), learner->checkpoint_bytes(7));
}

TEST_F(CheckpointTest, RestoreAndContinueIsBitIdentical) {
  for (const char* mode : kFeedbackModes) {
    SCOPED_TRACE(mode);
    std::vector<std::string> whole_scores, part_scores;
    auto whole = make(config_with(mode), &whole_scores);
    for (const Event& e : events_) whole->add_event(e);
    whole->finish();

    const size_t cut = events_.size() / 2 + 3;  // mid-batch, with joins pending
    auto first = make(config_with(mode), &part_scores);
    for (size_t i = 0; i < cut; ++i) first->add_event(events_[i]);
    std::string path = temp_path("resume");
    ASSERT_TRUE(first->save_checkpoint(path, cut).ok());
    first.reset();

    auto second = make(config_with(mode), &part_scores);
    auto position = second->restore_checkpoint(path);
    ASSERT_TRUE(position.ok()) << position.error().message;
    EXPECT_EQ(*position, cut);
    for (size_t i = cut; i < events_.size(); ++i) second->add_event(events_[i]);
    second->finish();
    std::remove(path.c_str());

    EXPECT_EQ(part_scores, whole_scores);
    EXPECT_EQ(second->checkpoint_bytes(0), whole->checkpoint_bytes(0));
  }
}

TEST_F(CheckpointTest, CorruptedTruncatedAndForeignFilesAreRejected) {
  auto l = make(small_config());
  for (size_t i = 0; i < 500; ++i) l->add_event(events_[i]);
  std::string path = temp_path("bad");
  ASSERT_TRUE(l->save_checkpoint(path, 500).ok());
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& b) { std::ofstream(path, std::ios::binary | std::ios::trunc) << b; };

  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  write(flipped);
  auto r = make(small_config())->restore_checkpoint(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("checksum mismatch"), std::string::npos) << r.error().message;

  write(bytes.substr(0, bytes.size() - 100));
  r = make(small_config())->restore_checkpoint(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;

  write("hello, world, this is not a checkpoint");
  r = make(small_config())->restore_checkpoint(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bad magic"), std::string::npos) << r.error().message;

  write(bytes);
  LearnerConfig other = small_config();
  other.lr_dense = 0.5;
  r = make(other)->restore_checkpoint(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("other learner.* settings"), std::string::npos) << r.error().message;
  std::remove(path.c_str());
}

TEST_F(CheckpointTest, InitFromCopiesTheModelAndFreezes) {
  auto source = make(small_config());
  for (const Event& e : events_) source->add_event(e);
  source->finish();
  std::string path = temp_path("warm");
  ASSERT_TRUE(source->save_checkpoint(path, 0).ok());

  LearnerConfig target_config = small_config();
  target_config.tasks = "click:binary:1,purchase:esmm:1,value:regression:0.1";  // a new task
  target_config.feedback = "windowed";  // a regression task needs it
  auto target = make(target_config);
  ASSERT_TRUE(target->init_from(path, Freeze::kShared).ok());
  std::remove(path.c_str());
  EXPECT_EQ(target->table().rows(), source->table().rows());
  const Parameter* expert = target->model().parameters()[0];
  EXPECT_EQ(expert->name, "expert0.w");
  EXPECT_EQ(expert->value, source->model().parameters()[0]->value);
  uint32_t row = target->table().find(FeatureEncoder::item_key("i3"));
  ASSERT_NE(row, EmbeddingTable::kNoRow);
  std::vector<float> before(target->table().row(row), target->table().row(row) + 8);
  Mat expert_before = expert->value;
  Mat tower_before = target->model().parameters().back()->value;
  for (size_t i = 0; i < 1000; ++i) target->add_event(events_[i]);
  target->finish();
  EXPECT_EQ(std::vector<float>(target->table().row(row), target->table().row(row) + 8), before);
  EXPECT_EQ(expert->value, expert_before) << "shared layers are frozen";
  EXPECT_NE(target->model().parameters().back()->value, tower_before) << "towers still learn";
}

TEST(CheckpointFile, EnvelopeRoundTrip) {
  std::string payload = "some learner state";
  auto back = unwrap_checkpoint(wrap_checkpoint(payload), "mem");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, payload);
  std::string file = wrap_checkpoint(payload);
  file[9] = 7;  // version
  auto bad = unwrap_checkpoint(file, "mem");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("format version"), std::string::npos);
}

class CheckpointFiles : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* suffix : {"", ".prev", ".tmp", ".corrupt"}) std::remove((path_ + suffix).c_str());
  }
  static void flip_a_byte(const std::string& path, size_t at) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.put('\x5a');
  }
  std::string path_ = temp_path("files");
};

TEST_F(CheckpointFiles, EachWriteKeepsThePreviousCheckpoint) {
  ASSERT_TRUE(write_checkpoint_file(path_, "first").ok());
  EXPECT_FALSE(std::filesystem::exists(path_ + ".prev"));
  ASSERT_TRUE(write_checkpoint_file(path_, "second").ok());
  ASSERT_TRUE(write_checkpoint_file(path_, "third").ok());
  EXPECT_EQ(*read_checkpoint_file(path_), "third");
  EXPECT_EQ(*read_checkpoint_file(path_ + ".prev"), "second");
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  auto newest = read_newest_checkpoint(path_);
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ((*newest)->payload, "third");
  EXPECT_EQ((*newest)->skipped, "");
}

// The write sends header, payload and trailer apart (no copy of the whole
// file in memory); the file is still the envelope, byte for byte.
TEST_F(CheckpointFiles, TheFileWrittenIsTheEnvelopeOfThePayloadByteForByte) {
  std::string payload(1000003, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
  ASSERT_TRUE(write_checkpoint_file(path_, payload).ok());
  std::ifstream in(path_, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(file == wrap_checkpoint(payload)) << file.size() << " bytes, expected " << wrap_checkpoint(payload).size();
  EXPECT_EQ(*read_checkpoint_file(path_), payload);
}

TEST_F(CheckpointFiles, ACorruptNewestFallsBackToThePreviousWhichTheNextWriteKeeps) {
  ASSERT_TRUE(write_checkpoint_file(path_, "good and older").ok());
  ASSERT_TRUE(write_checkpoint_file(path_, "newest, then damaged").ok());
  flip_a_byte(path_, 25);
  auto newest = read_newest_checkpoint(path_);
  ASSERT_TRUE(newest.ok()) << newest.error().message;
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->payload, "good and older");
  EXPECT_EQ((*newest)->file, path_ + ".prev");
  EXPECT_NE((*newest)->skipped.find("checksum mismatch"), std::string::npos) << (*newest)->skipped;
  EXPECT_TRUE(std::filesystem::exists(path_ + ".corrupt"));
  // The damaged file is out of the way: the next write keeps the good one.
  ASSERT_TRUE(write_checkpoint_file(path_, "after the restart").ok());
  EXPECT_EQ(*read_checkpoint_file(path_ + ".prev"), "good and older");
}

TEST_F(CheckpointFiles, ACrashBetweenTheRenamesFallsBackToThePrevious) {
  ASSERT_TRUE(write_checkpoint_file(path_, "a").ok());
  ASSERT_TRUE(write_checkpoint_file(path_, "b").ok());
  std::remove(path_.c_str());
  auto newest = read_newest_checkpoint(path_);
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ((*newest)->payload, "a");
}

TEST_F(CheckpointFiles, NoFileIsNoCheckpointAndTwoBadFilesAreAnErrorNamingBoth) {
  auto none = read_newest_checkpoint(path_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(write_checkpoint_file(path_, "a").ok());
  ASSERT_TRUE(write_checkpoint_file(path_, "b").ok());
  flip_a_byte(path_, 21);
  flip_a_byte(path_ + ".prev", 21);
  auto bad = read_newest_checkpoint(path_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path_ + ":"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find(path_ + ".prev"), std::string::npos) << bad.error().message;
}

TEST_F(CheckpointFiles, AWriteThatFailsLeavesBothCheckpointsAsTheyWere) {
  ASSERT_TRUE(write_checkpoint_file(path_, "older").ok());
  ASSERT_TRUE(write_checkpoint_file(path_, "newer").ok());
  // A directory where the temporary file goes: the write cannot even start.
  std::filesystem::create_directory(path_ + ".tmp");
  Status s = write_checkpoint_file(path_, "lost");
  std::filesystem::remove(path_ + ".tmp");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the previous one is kept"), std::string::npos) << s.message();
  EXPECT_EQ(*read_checkpoint_file(path_), "newer");
  EXPECT_EQ(*read_checkpoint_file(path_ + ".prev"), "older");
}

// A payload put on disk by a writing thread while it is being serialized
// (many blocks, a large array as a block of its own, lengths patched after
// their bytes were handed over and while still held) makes the same file as
// write_checkpoint_file, and the serializing side never holds it whole.
TEST_F(CheckpointFiles, AStreamedPayloadMakesTheSameFileAndIsNeverHeldWhole) {
  ASSERT_TRUE(write_checkpoint_file(path_, "older").ok());
  ByteWriter expected;
  StreamedCheckpoint streamed(path_);
  std::thread writer([&] { streamed.write_payload(); });
  size_t held_most = 0;
  auto both = [&](auto write) {
    write(expected);
    write(streamed.payload());
    held_most = std::max(held_most, streamed.payload().bytes().size());
  };
  const size_t handed_over_length = expected.size();
  both([](ByteWriter& w) { w.u64(0); });
  for (int i = 0; i < 300000; ++i) both([i](ByteWriter& w) { w.str("item-" + std::to_string(i)); });
  std::vector<float> large(3'000'000);
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<float>(i) * 0.5f;
  both([&](ByteWriter& w) { w.floats(large.data(), large.size()); });  // 12 MB: a block of its own
  const size_t held_length = expected.size();
  both([](ByteWriter& w) { w.u64(0); });
  both([](ByteWriter& w) { w.raw("tail", 3); });  // not a multiple of 8 in all
  for (auto [at, value] : {std::pair{handed_over_length, 11ULL}, {held_length, 33ULL}}) {
    expected.patch_u64(at, value);
    streamed.payload().patch_u64(at, value);
  }
  EXPECT_EQ(streamed.payload().spilled_patches().size(), 1u);
  EXPECT_LE(held_most, ByteWriter::kSpillBytes);
  ASSERT_GT(expected.size(), 3 * ByteWriter::kSpillBytes);
  streamed.finish();
  writer.join();
  EXPECT_EQ(streamed.payload_bytes(), expected.size());

  Status s = streamed.commit();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  std::ifstream in(path_, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(file == wrap_checkpoint(expected.bytes())) << file.size() << " bytes, expected "
                                                         << wrap_checkpoint(expected.bytes()).size();
  EXPECT_EQ(*read_checkpoint_file(path_ + ".prev"), "older");
}

// As the pipeline writes it: its own state first (here larger than one
// block), then the learner's with its length before it, patched once known.
TEST_F(CheckpointFiles, ALearnerAppendedToAStreamedPayloadPastItsFirstBlocksRestores) {
  LearnerConfig config;
  auto learner = std::move(Learner::create(config)).value();
  for (const Item& i : testing::make_items(20)) learner->add_item(i);
  for (const Event& e : testing::make_stream(3000, 50, 20, 5)) learner->add_event(e);
  const std::string before(5 * ByteWriter::kSpillBytes / 4, 'x');
  StreamedCheckpoint streamed(path_);
  std::thread writer([&] { streamed.write_payload(); });
  streamed.payload().raw(before.data(), before.size());
  learner->append_checkpoint(streamed.payload(), 7);
  streamed.finish();
  writer.join();
  ASSERT_TRUE(streamed.commit().ok());

  auto payload = read_checkpoint_file(path_);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  ASSERT_GT(payload->size(), before.size());
  EXPECT_TRUE(payload->compare(0, before.size(), before) == 0) << "what came before the learner is intact";
  ByteReader in(std::string_view(*payload).substr(before.size()));
  const std::string learner_bytes = in.str();
  ASSERT_TRUE(in.ok() && in.at_end()) << in.error();
  EXPECT_TRUE(learner_bytes == learner->checkpoint_bytes(7));
  auto restored = std::move(Learner::create(config)).value();
  auto position = restored->restore_checkpoint_bytes(learner_bytes, "streamed");
  ASSERT_TRUE(position.ok()) << position.error().message;
  EXPECT_EQ(*position, 7u);
}

TEST_F(CheckpointFiles, AStreamedCheckpointAbandonedOrFailingLeavesBothAsTheyWere) {
  ASSERT_TRUE(write_checkpoint_file(path_, "older").ok());
  ASSERT_TRUE(write_checkpoint_file(path_, "newer").ok());
  {
    StreamedCheckpoint abandoned(path_);
    std::thread writer([&] { abandoned.write_payload(); });
    abandoned.payload().str("never finished");
    abandoned.abandon();
    writer.join();
    Status s = abandoned.commit();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("abandoned"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  std::filesystem::create_directory(path_ + ".tmp");  // the temporary file cannot be created
  StreamedCheckpoint failing(path_);
  failing.payload().str("lost");
  failing.finish();
  failing.write_payload();
  Status s = failing.commit();
  std::filesystem::remove(path_ + ".tmp");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("checkpoint " + path_ + " not written (the previous one is kept): cannot create"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(*read_checkpoint_file(path_), "newer");
  EXPECT_EQ(*read_checkpoint_file(path_ + ".prev"), "older");
}

}  // namespace
}  // namespace streamrec::learner
