#include "feature_store/state_writes.h"

#include <iterator>

namespace streamrec {

void StateWrites::hset(std::string_view key, std::span<const Field> fields) {
  std::vector<std::string>& args = commands_.emplace_back();
  args.reserve(2 + 2 * fields.size());
  args.emplace_back("HSET");
  args.emplace_back(key);
  for (const auto& [name, value] : fields) {
    args.emplace_back(name);
    args.emplace_back(value);
  }
}

void StateWrites::hdel(std::string_view key, std::initializer_list<std::string_view> fields) {
  std::vector<std::string>& args = commands_.emplace_back();
  args.emplace_back("HDEL");
  args.emplace_back(key);
  for (std::string_view field : fields) args.emplace_back(field);
}

void StateWrites::push_capped(std::string_view key, std::string_view value, size_t keep) {
  commands_.push_back({"LPUSH", std::string(key), std::string(value)});
  commands_.push_back({"LTRIM", std::string(key), "0", std::to_string(keep == 0 ? 0 : keep - 1)});
}

void StateWrites::append(StateWrites&& newer) {
  if (commands_.empty()) commands_ = std::move(newer.commands_);
  else commands_.insert(commands_.end(), std::make_move_iterator(newer.commands_.begin()),
                        std::make_move_iterator(newer.commands_.end()));
  newer.commands_.clear();
}

Status StateWrites::write(RedisConnection& redis) const {
  if (commands_.empty()) return {};
  std::vector<std::string_view> argv;
  for (const auto& args : commands_) {
    argv.assign(args.begin(), args.end());
    redis.append(argv);
  }
  auto replies = redis.read_replies();
  if (!replies.ok()) return Error{"redis: state not written: " + replies.error().message};
  for (size_t i = 0; i < replies->size(); ++i)
    if ((*replies)[i]->type == REDIS_REPLY_ERROR)
      return Error{"redis: cannot write " + commands_[i][1] + ": " + std::string(reply_text((*replies)[i].get()))};
  return {};
}

}  // namespace streamrec
