#include "feature_store/idempotent_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "core/popularity.h"
#include "feature_store/redis_keys.h"

namespace streamrec {
namespace {

// KEYS: the marks hash, then the slice's data keys.
// ARGV: ns, the user keys' TTL in seconds (0: none) and how their names
// start (prefix .. '{u:'), how capped ZSET keys' names end ('}:cv'), their
// bound (0: none) and the size past which they are trimmed to it
// (IdempotentWriter::cap_zsets), then ns times (source, expected mark, new
// mark); then per data key: n, then n times (op, field, argument), already
// summed up per field.
// A key's fields are all ZSET members (ops l, z) or all HASH fields (i, m, s);
// a key to delete first (op d, a forgotten user) has the d triple first.
constexpr std::string_view kScript = R"lua(
-- Phase 1 checks and reads everything and computes the new values; phase 2
-- only writes (its one read, ZCARD of a ZSET it just wrote, cannot fail).
-- Redis does not roll a failed script back, so a script that fails must
-- fail before its first write. Flat arrays and index ranges, no
-- table per key: this runs for every key of every slice.
-- unpack() fails past a few thousand values ("too many results to unpack":
-- Lua's C stack holds about 8000), and a key may carry far more fields (sr:pop
-- gets one member per item of the slice): every command that takes a key's
-- fields takes them at most CHUNK names or CHUNK pairs at a time.
local CHUNK = 1000
local function read_fields(command, key, names, n, into)
  for first = 1, n, CHUNK do
    local last = math.min(first + CHUNK - 1, n)
    local part = redis.call(command, key, unpack(names, first, last))
    for r = 1, last - first + 1 do into[first + r - 1] = part[r] end
  end
end
local function write_pairs(command, key, list, from, to)
  for first = from, to, 2 * CHUNK do
    redis.call(command, key, unpack(list, first, math.min(first + 2 * CHUNK - 1, to)))
  end
end
local function fmt(v)
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format('%d', v) end
  return string.format('%.17g', v)
end
local marks = KEYS[1]
local ns = tonumber(ARGV[1])
local user_ttl, user_key_start = tonumber(ARGV[2]), ARGV[3]
local capped_end, cap, trim_above = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local a = 7
local new_marks = {}
for s = 1, ns do
  local source, expected = ARGV[a], ARGV[a + 1]
  local current = redis.call('HGET', marks, source) or '-1'
  if current ~= expected then
    return redis.error_reply('STALE the mark of ' .. source .. ' is ' .. current .. ', not ' .. expected)
  end
  new_marks[2 * s - 1] = source
  new_marks[2 * s] = ARGV[a + 2]
  a = a + 3
end
local values, nv = {}, 0          -- what phase 2 writes, key after key
local from, to, zset, deleted = {}, {}, {}, {}  -- per key: its range in values, its type, DEL first
local names, nn = {}, 0            -- scratch: the fields or members to read
for k = 2, #KEYS do
  local key, n = KEYS[k], tonumber(ARGV[a])
  local first = a + 1                -- (op, field, argument) triples
  a = first + 3 * n
  from[k] = nv + 1
  -- A deleted key: DEL in phase 2, and what follows starts from nothing.
  deleted[k] = ARGV[first] == 'd'
  if deleted[k] then first = first + 3 end
  zset[k] = ARGV[first] == 'l' or ARGV[first] == 'z'
  nn = 0
  for j = first, a - 1, 3 do
    if ARGV[j] ~= 's' then nn = nn + 1; names[nn] = ARGV[j + 1] end
  end
  local current = {}
  if nn > 0 and not deleted[k] then read_fields(zset[k] and 'ZMSCORE' or 'HMGET', key, names, nn, current) end
  local r = 0
  for j = first, a - 1, 3 do
    local op, field, value = ARGV[j], ARGV[j + 1], ARGV[j + 2]
    if op == 'l' then
      r = r + 1
      local x, c = tonumber(value), current[r] and tonumber(current[r])
      if c then
        local hi, lo = math.max(c, x), math.min(c, x)
        x = hi + math.log(1 + 2 ^ (lo - hi)) / math.log(2)
      end
      values[nv + 1] = string.format('%.17g', x)
      values[nv + 2] = field
    elseif op == 'z' then
      r = r + 1
      local c = current[r] and tonumber(current[r])
      values[nv + 1] = fmt((c or 0) + tonumber(value))
      values[nv + 2] = field
    else
      if op ~= 's' then
        r = r + 1
        local raw, c = current[r], nil
        if raw then
          c = tonumber(raw)
          if c == nil or (op == 'i' and c ~= math.floor(c)) then
            return redis.error_reply('streamrec: ' .. key .. ' field ' .. field .. ' is not a number: ' .. raw)
          end
        end
        local x = tonumber(value)
        if op == 'i' then value = fmt((c or 0) + x)
        elseif op == 'm' then
          if c ~= nil and c >= x then value = fmt(c) else value = fmt(x) end
        else return redis.error_reply('streamrec: unknown effect op ' .. op) end
      end
      values[nv + 1] = field
      values[nv + 2] = value
    end
    nv = nv + 2
  end
  to[k] = nv
end
for k = 2, #KEYS do
  if deleted[k] then redis.call('DEL', KEYS[k]) end
  if to[k] >= from[k] then
    write_pairs(zset[k] and 'ZADD' or 'HSET', KEYS[k], values, from[k], to[k])
    if zset[k] and cap > 0 and string.sub(KEYS[k], -#capped_end) == capped_end then
      -- Past the slack, down to the bound: the lowest scores go (cap_zsets says why).
      local members = redis.call('ZCARD', KEYS[k])
      if members > trim_above then redis.call('ZREMRANGEBYRANK', KEYS[k], 0, members - cap - 1) end
    end
    if user_ttl > 0 and string.sub(KEYS[k], 1, #user_key_start) == user_key_start then
      redis.call('EXPIRE', KEYS[k], user_ttl)  -- redis.user_ttl_s: from the user's last write
    end
  end
end
if ns > 0 then write_pairs('HSET', marks, new_marks, 1, 2 * ns) end
return 1
)lua";

std::string_view op_code(EffectOp op) {
  switch (op) {
    case EffectOp::kIncrement: return "i";
    case EffectOp::kMax: return "m";
    case EffectOp::kLogAdd: return "l";
    case EffectOp::kSet: return "s";
    case EffectOp::kZIncrement: return "z";
    case EffectOp::kDelete: return "d";
  }
  return "?";
}

// Integral amounts (counters, timestamps) are written as integers, so the
// hash fields read as "1767225600000", never as "1.7672256e+12"; popularity
// keeps every digit.
std::string format_amount(EffectOp op, double amount) {
  char buf[32];
  bool integral = op == EffectOp::kIncrement || op == EffectOp::kZIncrement ||
                  (op == EffectOp::kMax && std::trunc(amount) == amount && std::fabs(amount) < 9.0e15);
  auto [end, ec] = integral ? std::to_chars(buf, buf + sizeof buf, static_cast<long long>(amount))
                            : std::to_chars(buf, buf + sizeof buf, amount);
  return std::string(buf, end);
}

}  // namespace

uint32_t EffectBatch::intern(std::vector<std::string>& names, NameIndex& index, std::string_view name) {
  if (auto it = index.find(name); it != index.end()) return it->second;
  const auto number = static_cast<uint32_t>(names.size());
  index.emplace(std::string(name), number);
  names.emplace_back(name);
  return number;
}

void EffectBatch::add(std::string_view key, std::string_view source, int64_t offset, EffectOp op,
                      std::string_view field, double amount) {
  effects_.push_back({intern(sources_, source_index_, source), intern(keys_, key_index_, key), offset, op,
                      std::string(field), amount, {}});
}

void EffectBatch::set(std::string_view key, std::string_view source, int64_t offset, std::string_view field,
                      std::string_view value) {
  effects_.push_back({intern(sources_, source_index_, source), intern(keys_, key_index_, key), offset,
                      EffectOp::kSet, std::string(field), 0, std::string(value)});
}

void EffectBatch::append(EffectBatch&& more) {
  if (empty()) {
    *this = std::move(more);
  } else {
    for (Effect& e : more.effects_) {
      e.source = intern(sources_, source_index_, more.sources_[e.source]);
      e.key = intern(keys_, key_index_, more.keys_[e.key]);
      effects_.push_back(std::move(e));
    }
  }
  more.clear();
}

void EffectBatch::clear() {
  effects_.clear();
  sources_.clear();
  keys_.clear();
  source_index_.clear();
  key_index_.clear();
}

Status IdempotentWriter::load_script(RedisConnection& redis) {
  auto reply = redis.command({"SCRIPT", "LOAD", kScript});
  if (!reply.ok()) return Error{"redis: cannot load the idempotent-writes script: " + reply.error().message};
  sha_ = reply_text(reply->get());
  return {};
}

Status IdempotentWriter::read_marks(RedisConnection& redis, const EffectBatch& batch) {
  std::vector<std::string_view> args = {"HMGET", marks_key_};
  for (const std::string& source : batch.sources_)
    if (!marks_.count(source)) args.push_back(source);
  if (args.size() == 2) return {};
  auto reply = redis.command(args);
  if (!reply.ok()) return Error{"redis: cannot read the offset marks " + marks_key_ + ": " + reply.error().message};
  const redisReply* r = reply->get();
  for (size_t i = 2; i < args.size(); ++i) {
    const redisReply* mark = r->type == REDIS_REPLY_ARRAY && i - 2 < r->elements ? r->element[i - 2] : nullptr;
    int64_t value = -1;
    if (mark && mark->type == REDIS_REPLY_STRING) {
      std::string_view text(mark->str, mark->len);
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size())
        return Error{"redis: " + marks_key_ + " field " + std::string(args[i]) + " is not an offset: " +
                     std::string(text)};
    }
    const std::string source(args[i]);
    if (auto floor = floor_.find(source); floor != floor_.end() && value < floor->second)
      return Error{"redis lost data: the offset mark of " + source + " in " + marks_key_ + " is " +
                       (value < 0 ? std::string("gone") : std::to_string(value)) + ", but Redis held " +
                       std::to_string(floor->second) +
                       " before (a FLUSHALL, a restart without persistence, a rollback?): the effects of the messages "
                       "between are no longer in Redis and the counters would be wrong. Stopping without committing; "
                       "see docs/operations.md, \"Redis losing data\"",
                   /*fatal=*/true};
    marks_[source] = value;
    raise_floor(source, value);
  }
  return {};
}

void IdempotentWriter::raise_floor(const std::string& source, int64_t mark) {
  auto [floor, fresh] = floor_.try_emplace(source, mark);
  if (!fresh) floor->second = std::max(floor->second, mark);
}

void IdempotentWriter::expect_mark(const std::string& source) { raise_floor(source, 0); }

// The batch's effects above the known marks, summed up per key and field,
// in slices of at most keys_per_call_ keys cut between messages. Sources are
// taken in name order and a slice goes on from one source to the next, so
// it may advance several marks: effects on one key from several sources (an
// item's counters from every partition's events) are summed into one write.
std::vector<IdempotentWriter::Call> IdempotentWriter::slices(const EffectBatch& batch) const {
  struct Field {
    uint32_t key;
    std::string_view name;
    bool operator==(const Field&) const = default;
  };
  struct FieldHash {
    size_t operator()(const Field& f) const { return std::hash<std::string_view>{}(f.name) * 31 + f.key; }
  };
  struct Sum {
    EffectOp op;
    double amount;
    const std::string* text;
  };
  std::vector<uint32_t> sources(batch.sources_.size());
  std::iota(sources.begin(), sources.end(), 0u);
  std::sort(sources.begin(), sources.end(),
            [&](uint32_t a, uint32_t b) { return batch.sources_[a] < batch.sources_[b]; });
  std::vector<std::vector<uint32_t>> by_source(batch.sources_.size());
  for (uint32_t i = 0; i < batch.effects_.size(); ++i) by_source[batch.effects_[i].source].push_back(i);
  // Per source: its mark in Redis before the batch (effects at or below it
  // are in), before the slice being built, and the slice's highest offset.
  std::vector<int64_t> in_redis(sources.size()), mark(sources.size()), top(sources.size());
  for (uint32_t source = 0; source < sources.size(); ++source)
    in_redis[source] = mark[source] = top[source] = marks_.at(batch.sources_[source]);

  std::vector<Call> calls;
  std::vector<uint32_t> keys;                               // of the slice, first-touch order
  std::vector<uint32_t> advanced;                           // sources of the slice
  std::unordered_map<uint32_t, std::vector<size_t>> fields;  // key -> its entries in sums
  std::unordered_map<uint32_t, bool> deleted;                // key -> deleted first (kDelete)
  std::unordered_map<Field, size_t, FieldHash> index;       // -> entry in sums
  std::vector<std::pair<std::string_view, Sum>> sums;
  auto finish = [&] {
    if (keys.empty()) return;
    Call call;
    call.args = {"EVALSHA", sha_, std::to_string(keys.size() + 1), marks_key_};
    for (uint32_t k : keys) call.args.push_back(batch.keys_[k]);
    call.args.push_back(std::to_string(advanced.size()));
    call.args.push_back(std::to_string(user_ttl_s_));
    call.args.push_back(user_key_start_);
    call.args.push_back(capped_key_end_);
    call.args.push_back(std::to_string(capped_key_end_.empty() ? 0 : capped_max_members_));
    call.args.push_back(std::to_string(zset_trim_above(capped_max_members_)));
    for (uint32_t source : advanced) {
      call.args.insert(call.args.end(), {batch.sources_[source], std::to_string(mark[source]), std::to_string(top[source])});
      call.marks[batch.sources_[source]] = mark[source] = top[source];
    }
    for (uint32_t k : keys) {
      const bool deletes = deleted.count(k) > 0;
      call.args.push_back(std::to_string(fields[k].size() + (deletes ? 1 : 0)));
      if (deletes) call.args.insert(call.args.end(), {"d", "", ""});
      for (size_t entry : fields[k]) {
        const auto& [name, sum] = sums[entry];
        call.args.emplace_back(op_code(sum.op));
        call.args.emplace_back(name);
        call.args.push_back(sum.op == EffectOp::kSet ? *sum.text : format_amount(sum.op, sum.amount));
      }
    }
    calls.push_back(std::move(call));
    keys.clear();
    advanced.clear();
    fields.clear();
    deleted.clear();
    index.clear();
    sums.clear();
  };
  for (uint32_t source : sources) {
    const std::vector<uint32_t>& effects = by_source[source];
    for (size_t i = 0; i < effects.size(); ++i) {
      const EffectBatch::Effect& e = batch.effects_[effects[i]];
      bool new_message = i == 0 || e.offset != batch.effects_[effects[i - 1]].offset;
      if (new_message && keys.size() >= keys_per_call_) finish();
      if (e.offset <= in_redis[source]) continue;
      if (top[source] == mark[source]) advanced.push_back(source);  // its first effect in this slice
      if (e.op == EffectOp::kDelete) {
        // What the slice holds for the key so far is deleted with it.
        auto [list, fresh_key] = fields.try_emplace(e.key);
        if (fresh_key) keys.push_back(e.key);
        for (size_t entry : list->second) index.erase(Field{e.key, sums[entry].first});
        list->second.clear();
        deleted[e.key] = true;
        top[source] = std::max(top[source], e.offset);
        continue;
      }
      auto [slot, fresh_field] = index.try_emplace(Field{e.key, e.field}, sums.size());
      if (fresh_field) {
        auto [list, fresh_key] = fields.try_emplace(e.key);
        if (fresh_key) keys.push_back(e.key);
        list->second.push_back(sums.size());
        sums.push_back({e.field, {e.op, e.amount, &e.text}});
      } else {
        Sum& sum = sums[slot->second].second;
        switch (e.op) {
          case EffectOp::kIncrement:
          case EffectOp::kZIncrement: sum.amount += e.amount; break;
          case EffectOp::kMax: sum.amount = std::max(sum.amount, e.amount); break;
          case EffectOp::kLogAdd: sum.amount = log2_sum(sum.amount, e.amount); break;
          case EffectOp::kSet: sum.text = &e.text; break;
          case EffectOp::kDelete: break;  // handled above
        }
      }
      top[source] = std::max(top[source], e.offset);
    }
  }
  finish();
  return calls;
}

Status IdempotentWriter::write(RedisConnection& redis, const EffectBatch& batch) {
  if (batch.empty()) return {};
  if (sha_.empty())
    if (Status s = load_script(redis); !s.ok()) return s;

  std::string last_conflict;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (Status s = read_marks(redis, batch); !s.ok()) return s;
    std::vector<Call> calls = slices(batch);
    std::vector<std::string_view> args;
    for (const Call& call : calls) {
      args.assign(call.args.begin(), call.args.end());
      redis.append(args);
    }
    auto replies = redis.read_replies();
    if (!replies.ok()) {
      marks_.clear();  // some slices may be in: read the marks again next time
      return Error{replies.error().message};
    }
    bool script_missing = false, conflict = false;
    for (size_t i = 0; i < replies->size(); ++i) {
      const redisReply* reply = (*replies)[i].get();
      if (reply->type != REDIS_REPLY_ERROR) {
        for (auto& [source, offset] : calls[i].marks) {
          marks_[source] = offset;
          raise_floor(source, offset);
        }
        continue;
      }
      std::string_view text = reply_text(reply);
      if (text.rfind("NOSCRIPT", 0) == 0) {
        script_missing = true;
      } else if (text.rfind("STALE", 0) == 0) {
        conflict = true;
        if (last_conflict.empty()) last_conflict = std::string(text.substr(6));
      } else {
        marks_.clear();
        return Error{"redis: idempotent write failed: " + std::string(text)};
      }
    }
    if (!script_missing && !conflict) return {};
    // A mark moved under us (or Redis lost the script after a restart or
    // SCRIPT FLUSH, and the slices after the first failed on its marks):
    // read the marks again and redo what is not in yet.
    marks_.clear();
    if (script_missing)
      if (Status s = load_script(redis); !s.ok()) return s;
  }
  return Error{"redis: the offset marks keep moving under this writer (another writer on the same partitions?): " +
               last_conflict};
}

}  // namespace streamrec
