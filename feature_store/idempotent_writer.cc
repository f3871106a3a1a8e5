#include "feature_store/idempotent_writer.h"

#include <charconv>
#include <cmath>

#include "feature_store/redis_keys.h"

namespace streamrec {
namespace {

// KEYS: data1, marks1, data2, marks2, ...
// ARGV: per key pair: n, then n times (source, offset, op, field, argument).
// Each effect is compared with the mark its source had before this call, so
// several effects of one message (same offset) all apply.
constexpr std::string_view kScript = R"lua(
-- Phase 1 reads and checks everything and computes the new values; phase 2
-- only writes. Redis does not roll a failed script back, so a script that
-- fails must fail before its first write.
local function fmt(v)
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format('%d', v) end
  return string.format('%.17g', v)
end
local a = 1
local plans = {}
for k = 1, #KEYS, 2 do
  local data, marks = KEYS[k], KEYS[k + 1]
  local n = tonumber(ARGV[a]); a = a + 1
  local before, top, hash, zset = {}, {}, {}, {}
  local hash_fields, zset_members = {}, {}
  for _ = 1, n do
    local source, offset, op, field, arg = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
    a = a + 5
    if before[source] == nil then
      before[source] = tonumber(redis.call('HGET', marks, source) or '-1')
    end
    if offset > before[source] then
      if op == 'i' or op == 'm' then
        local cur = hash[field]
        if cur == nil then
          local raw = redis.call('HGET', data, field)  -- false when absent
          if raw then
            cur = tonumber(raw)
            if cur == nil or (op == 'i' and cur ~= math.floor(cur)) then
              return redis.error_reply('streamrec: ' .. data .. ' field ' .. field .. ' is not a number: ' .. raw)
            end
          end
          table.insert(hash_fields, field)
        end
        local x = tonumber(arg)
        if op == 'i' then hash[field] = (cur or 0) + x
        elseif cur == nil or x > cur then hash[field] = x
        else hash[field] = cur end
      elseif op == 's' then
        if hash[field] == nil then table.insert(hash_fields, field) end
        hash[field] = arg
      elseif op == 'l' then
        local cur = zset[field]
        if cur == nil then
          local raw = redis.call('ZSCORE', data, field)  -- false when absent
          if raw then cur = tonumber(raw) end
          table.insert(zset_members, field)
        end
        local x = tonumber(arg)
        if cur then
          local hi, lo = math.max(cur, x), math.min(cur, x)
          x = hi + math.log(1 + 2 ^ (lo - hi)) / math.log(2)
        end
        zset[field] = x
      else
        return redis.error_reply('streamrec: unknown effect op ' .. op)
      end
      if top[source] == nil or offset > top[source] then top[source] = offset end
    end
  end
  table.insert(plans, {data, marks, hash, hash_fields, zset, zset_members, top})
end
for _, p in ipairs(plans) do
  local data, marks, hash, hash_fields, zset, zset_members, top = unpack(p)
  for _, f in ipairs(hash_fields) do
    local v = hash[f]
    redis.call('HSET', data, f, type(v) == 'number' and fmt(v) or v)
  end
  for _, m in ipairs(zset_members) do redis.call('ZADD', data, string.format('%.17g', zset[m]), m) end
  for source, offset in pairs(top) do redis.call('HSET', marks, source, fmt(offset)) end
end
return 1
)lua";

std::string_view op_code(EffectOp op) {
  switch (op) {
    case EffectOp::kIncrement: return "i";
    case EffectOp::kMax: return "m";
    case EffectOp::kLogAdd: return "l";
    case EffectOp::kSet: return "s";
  }
  return "?";
}

// Integral amounts (counters, timestamps) are written as integers, so the
// hash fields read as "1767225600000", never as "1.7672256e+12".
std::string format_amount(EffectOp op, double amount) {
  char buf[32];
  bool integral = op == EffectOp::kIncrement || (std::trunc(amount) == amount && std::fabs(amount) < 9.0e15);
  auto [end, ec] = integral ? std::to_chars(buf, buf + sizeof buf, static_cast<long long>(amount))
                            : std::to_chars(buf, buf + sizeof buf, amount);
  return std::string(buf, end);
}

}  // namespace

void EffectBatch::push(std::string_view key, Entry entry) {
  auto [it, inserted] = by_key_.try_emplace(std::string(key));
  if (inserted) order_.push_back(&it->first);
  it->second.push_back(std::move(entry));
  ++effects_;
}

void EffectBatch::add(std::string_view key, std::string_view source, int64_t offset, EffectOp op,
                      std::string_view field, double amount) {
  push(key, Entry{std::string(source), offset, op, std::string(field), format_amount(op, amount)});
}

void EffectBatch::set(std::string_view key, std::string_view source, int64_t offset, std::string_view field,
                      std::string_view value) {
  push(key, Entry{std::string(source), offset, EffectOp::kSet, std::string(field), std::string(value)});
}

void EffectBatch::clear() {
  by_key_.clear();
  order_.clear();
  effects_ = 0;
}

Status IdempotentWriter::load_script(RedisConnection& redis) {
  auto reply = redis.command({"SCRIPT", "LOAD", kScript});
  if (!reply.ok()) return Error{"redis: cannot load the idempotent-writes script: " + reply.error().message};
  sha_ = reply_text(reply->get());
  return {};
}

Status IdempotentWriter::apply(RedisConnection& redis, const EffectBatch& batch) {
  if (batch.empty()) return {};
  if (sha_.empty())
    if (Status s = load_script(redis); !s.ok()) return s;

  // Arguments of every call, built once: they outlive the pipeline below.
  std::vector<std::vector<std::string>> calls;
  for (size_t first = 0; first < batch.order_.size(); first += keys_per_call_) {
    size_t last = std::min(first + keys_per_call_, batch.order_.size());
    std::vector<std::string> keys, argv;
    for (size_t i = first; i < last; ++i) {
      const std::string& key = *batch.order_[i];
      const auto& entries = batch.by_key_.at(key);
      keys.push_back(key);
      keys.push_back(RedisKeys::marks_for(key));
      argv.push_back(std::to_string(entries.size()));
      for (const auto& e : entries) {
        argv.push_back(e.source);
        argv.push_back(std::to_string(e.offset));
        argv.emplace_back(op_code(e.op));
        argv.push_back(e.field);
        argv.push_back(e.argument);
      }
    }
    std::vector<std::string> call = {"EVALSHA", sha_, std::to_string(keys.size())};
    call.insert(call.end(), keys.begin(), keys.end());
    call.insert(call.end(), argv.begin(), argv.end());
    calls.push_back(std::move(call));
  }

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<std::string_view> args;
    for (auto& call : calls) {
      call[1] = sha_;
      args.assign(call.begin(), call.end());
      redis.append(args);
    }
    auto replies = redis.read_replies();
    if (!replies.ok()) return Error{replies.error().message};
    bool script_missing = false;
    for (const auto& reply : *replies) {
      if (reply->type != REDIS_REPLY_ERROR) continue;
      std::string_view text = reply_text(reply.get());
      if (text.rfind("NOSCRIPT", 0) == 0) {
        script_missing = true;
        continue;
      }
      return Error{"redis: idempotent write failed: " + std::string(text)};
    }
    if (!script_missing) return {};
    // Redis lost the script (restart or SCRIPT FLUSH): load it and apply the
    // whole batch again; the marks skip what the first attempt applied.
    if (Status s = load_script(redis); !s.ok()) return s;
  }
  return Error{"redis: the idempotent-writes script keeps disappearing (SCRIPT FLUSH in a loop?)"};
}

}  // namespace streamrec
