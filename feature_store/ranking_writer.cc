#include "feature_store/ranking_writer.h"

#include <algorithm>
#include <charconv>

namespace streamrec {
namespace {
// KEYS[1]: the ranking. ARGV: score, member, score, member, ...
constexpr std::string_view kReplaceScript = R"lua(
redis.call('DEL', KEYS[1])
if #ARGV > 0 then redis.call('ZADD', KEYS[1], unpack(ARGV)) end
return #ARGV / 2
)lua";

std::string format_score(double score) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, score);
  return std::string(buf, end);
}
}  // namespace

Status RankingWriter::load_script(RedisConnection& redis) {
  auto reply = redis.command({"SCRIPT", "LOAD", kReplaceScript});
  if (!reply.ok()) return Error{"redis: cannot load the ranking script: " + reply.error().message};
  sha_ = reply_text(reply->get());
  return {};
}

void RankingWriter::append(RedisConnection&, const std::vector<Ranking>& rankings) {
  for (const Ranking& r : rankings) {
    auto items = r.items;
    std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.second > b.second; });
    std::vector<std::string> call = {"EVALSHA", "", "1", r.key};
    for (auto& [item, score] : items) {
      call.push_back(format_score(score));
      call.push_back(item);
    }
    queued_.push_back(std::move(call));
  }
}

Status RankingWriter::flush(RedisConnection& redis) {
  if (queued_.empty()) return {};
  if (sha_.empty())
    if (Status s = load_script(redis); !s.ok()) return s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<std::string_view> args;
    for (auto& call : queued_) {
      call[1] = sha_;
      args.assign(call.begin(), call.end());
      redis.append(args);
    }
    auto replies = redis.read_replies();
    if (!replies.ok()) {
      queued_.clear();
      return Error{replies.error().message};
    }
    bool script_missing = false;
    for (const auto& reply : *replies) {
      if (reply->type != REDIS_REPLY_ERROR) continue;
      std::string_view text = reply_text(reply.get());
      if (text.rfind("NOSCRIPT", 0) == 0) {
        script_missing = true;
        continue;
      }
      queued_.clear();
      return Error{"redis: ranking write failed: " + std::string(text)};
    }
    if (!script_missing) {
      queued_.clear();
      return {};
    }
    if (Status s = load_script(redis); !s.ok()) return s;
  }
  queued_.clear();
  return Error{"redis: the ranking script keeps disappearing"};
}

Status RankingWriter::write(RedisConnection& redis, const std::vector<Ranking>& rankings) {
  append(redis, rankings);
  return flush(redis);
}

}  // namespace streamrec
