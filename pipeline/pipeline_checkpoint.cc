#include "pipeline/pipeline_checkpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "online_learner/byte_io.h"
#include "online_learner/checkpoint.h"

namespace streamrec::pipeline {

using learner::ByteReader;
using learner::ByteWriter;

namespace {
// 2: the ranker keeps users' histories and co-visits; 3: and the learned
// blend; 4: and items' exposure (a blend feature); 5: and each user's events
// partition; 6: and the learned blend's window of examples; 7: the events
// the merger held, and positions after the last event consumed (before: at
// the first event held, which was read again). Versions 4 to 6 still load
// (4: users' partitions unknown; 4 and 5: the blend's weights alone).
constexpr uint32_t kPipelineStateVersion = 7;
constexpr uint32_t kOldestLoadableVersion = 4;

void save_context(ByteWriter& out, const std::vector<ContextFeature>& context) {
  out.u64(context.size());
  for (auto& f : context) {
    out.str(f.key);
    out.str(f.value);
    out.u8(f.numeric);
  }
}

void load_context(ByteReader& in, std::vector<ContextFeature>& context) {
  for (uint64_t c = in.u64(), j = 0; j < c && in.ok(); ++j) {
    ContextFeature f;
    f.key = in.str();
    f.value = in.str();
    f.numeric = in.u8() != 0;
    context.push_back(std::move(f));
  }
}

void save_strings(ByteWriter& out, const std::vector<std::string>& strings) {
  out.u64(strings.size());
  for (auto& s : strings) out.str(s);
}

void load_strings(ByteReader& in, std::vector<std::string>& strings) {
  for (uint64_t n = in.u64(), j = 0; j < n && in.ok(); ++j) strings.push_back(in.str());
}

void save_held(ByteWriter& out, const learner::EventWithRecentClicks& held) {
  const Event& e = held.event;
  out.str(e.event_id);
  out.u8(static_cast<uint8_t>(e.type));
  out.str(e.user_id);
  out.str(e.item_id);
  out.i64(e.ts_ms);
  out.str(e.request_id);
  save_context(out, e.context);
  out.u8(e.value.has_value());
  out.f64(e.value.value_or(0));
  save_strings(out, held.recent_clicks);
}

learner::EventWithRecentClicks load_held(ByteReader& in) {
  learner::EventWithRecentClicks held;
  Event& e = held.event;
  e.event_id = in.str();
  const uint8_t type = in.u8();
  if (type > static_cast<uint8_t>(EventType::kForget)) in.fail("held event of unknown type");
  e.type = static_cast<EventType>(type);
  e.user_id = in.str();
  e.item_id = in.str();
  e.ts_ms = in.i64();
  if (e.ts_ms < 0 || e.ts_ms > kMaxTimestampMs) in.fail("held event with an implausible time");
  e.request_id = in.str();
  load_context(in, e.context);
  const bool has_value = in.u8() != 0;
  const double value = in.f64();
  if (has_value) e.value = value;
  load_strings(in, held.recent_clicks);
  return held;
}
}  // namespace

std::string serialize_stream_state(const StreamPositions& positions, const RankingDebouncer& users,
                                   const EventTimeMerger& merger) {
  ByteWriter out;
  out.u32(kPipelineStateVersion);
  out.str(positions.cluster_id);
  out.u64(positions.next.size());
  for (auto& [tp, next] : positions.next) {
    out.str(tp.topic);
    out.u32(static_cast<uint32_t>(tp.partition));
    out.i64(next);
  }
  // Least recently active first, so that restoring them in this order
  // restores their recency (learner.max_users); checkpoints written before
  // the bound existed list them by id, which restores as well.
  out.u64(users.users());
  users.for_each_user([&](const std::string& id, const RankingDebouncer::User& user) {
    out.str(id);
    out.i64(user.last_ts_ms);
    out.i64(user.partition);
    save_strings(out, user.recent);
    save_context(out, user.context);
  });
  const auto held = merger.held_in_order();
  out.u64(held.size());
  for (const learner::EventWithRecentClicks* e : held) save_held(out, *e);
  return out.take();
}

void finish_pipeline_checkpoint(const std::string& stream_state, const ranking::Ranker& ranker,
                                const learner::Learner& learner, ByteWriter& out) {
  out.raw(stream_state.data(), stream_state.size());
  ranker.save(out);
  learner.append_checkpoint(out, 0);
}

Result<std::string> restore_pipeline_checkpoint(const std::string& path, StreamPositions& positions,
                                                RankingDebouncer& users,
                                                std::vector<learner::EventWithRecentClicks>& held,
                                                ranking::Ranker& ranker, learner::Learner& learner) {
  if (path.empty()) return std::string();
  auto newest = learner::read_newest_checkpoint(path);
  if (!newest.ok()) return newest.error();
  if (!newest->has_value()) return std::string();
  if (!(*newest)->skipped.empty())
    spdlog::error("learn: {}; restoring the previous checkpoint {} instead", (*newest)->skipped, (*newest)->file);
  ByteReader in((*newest)->payload);
  const uint32_t version = in.u32();
  if (version < kOldestLoadableVersion || version > kPipelineStateVersion)
    return Error{"checkpoint " + path + ": pipeline state version " + std::to_string(version) + ", expected " +
                 std::to_string(kOldestLoadableVersion) + " to " + std::to_string(kPipelineStateVersion)};
  positions.cluster_id = in.str();
  for (uint64_t n = in.u64(), i = 0; i < n && in.ok(); ++i) {
    TopicPartition tp;
    tp.topic = in.str();
    tp.partition = static_cast<int32_t>(in.u32());
    positions.next[tp] = in.i64();
  }
  for (uint64_t n = in.u64(), i = 0; i < n && in.ok(); ++i) {
    RankingDebouncer::User& user = users.restore(in.str());
    user.last_ts_ms = in.i64();
    if (version >= 5) user.partition = static_cast<int32_t>(in.i64());
    load_strings(in, user.recent);
    load_context(in, user.context);
  }
  if (version >= 7)
    for (uint64_t n = in.u64(), i = 0; i < n && in.ok(); ++i) held.push_back(load_held(in));
  if (!ranker.load(in, /*blend_examples=*/version >= 6)) return Error{"checkpoint " + path + ": " + in.error()};
  std::string learner_bytes = in.str();
  if (!in.ok()) return Error{"checkpoint " + path + ": " + in.error()};
  if (auto restored = learner.restore_checkpoint_bytes(learner_bytes, path); !restored.ok())
    return restored.error();
  return (*newest)->file;
}

}  // namespace streamrec::pipeline
