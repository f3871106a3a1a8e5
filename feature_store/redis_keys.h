// The Redis key names of DESIGN.md ("Redis keys"), in one place. Every key of
// one user or one item carries a Redis Cluster hash tag ({u:<id>}, {i:<id>}),
// so a script may touch all of them at once. Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace streamrec {

class RedisKeys {
 public:
  explicit RedisKeys(std::string prefix) : prefix_(std::move(prefix)) {}

  std::string user_features(std::string_view user_id) const { return tagged("u:", user_id, ":f"); }
  std::string user_rankings(std::string_view user_id) const { return tagged("u:", user_id, ":rec"); }
  // Why each item of the ranking is there: item_id -> explanation JSON.
  std::string user_explanations(std::string_view user_id) const { return tagged("u:", user_id, ":why"); }
  // How every user key's name starts (and no other key's).
  std::string user_key_start() const { return prefix_ + "{u:"; }
  // Every key of one user: what forgetting the user deletes. A new per-user
  // key must be added here, or a forgotten user would keep it.
  std::vector<std::string> user_keys(std::string_view user_id) const {
    return {user_features(user_id), user_rankings(user_id), user_explanations(user_id)};
  }
  std::string item_features(std::string_view item_id) const { return tagged("i:", item_id, ":f"); }
  // The items co-visited with this one: neighbour -> co-visits.
  std::string item_covisits(std::string_view item_id) const { return tagged("i:", item_id, ":cv"); }
  // How every co-visit key's name ends (and no other key's: each name ends
  // with its own suffix, after the hash tag's "}").
  static std::string item_covisits_end() { return "}:cv"; }
  std::string popularity() const { return prefix_ + "pop"; }
  // Every item's `available` (item_id -> 1 or 0), written with the item's
  // hash: what serve checks a ranking against, in one HMGET.
  std::string availability() const { return prefix_ + "available"; }
  std::string model() const { return prefix_ + "model"; }
  // The learners' recent stats samples, newest first (a capped LIST).
  std::string stats() const { return prefix_ + "stats"; }

  // The offset marks that make the effects idempotent: source -> highest
  // offset applied (see idempotent_writer.h).
  std::string marks() const { return prefix_ + "marks"; }

  const std::string& prefix() const { return prefix_; }

 private:
  std::string tagged(std::string_view kind, std::string_view id, std::string_view suffix) const {
    std::string key;
    key.reserve(prefix_.size() + kind.size() + id.size() + suffix.size() + 2);
    key.append(prefix_).append("{").append(kind).append(id).append("}").append(suffix);
    return key;
  }

  std::string prefix_;
};

}  // namespace streamrec
