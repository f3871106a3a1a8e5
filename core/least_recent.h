// A hash map that remembers the order its entries were last touched, so a
// bounded structure can evict the least recently used one in O(1):
// touch() finds or creates an entry and makes it the most recent;
// pop_least_recent() removes the oldest. find() does not count as a use.
// Iterating oldest first and touching back in that order restores it.
//
// Not thread-safe. Owns its entries; references and pointers to values stay
// valid until that entry is erased or popped (nodes never move). Never fails
// (allocation failure aborts, like the rest of the process).
//
// Why not a package: Boost's containers have no LRU map, and the usual
// std::list + unordered_map<key, list::iterator> pair stores each key twice;
// here the recency list runs through the map's own nodes.
#pragma once

#include <cstddef>
#include <functional>
#include <unordered_map>
#include <utility>

namespace streamrec {

template <class Key, class Value, class Hash = std::hash<Key>, class Equal = std::equal_to<Key>>
class LeastRecentMap {
 public:
  LeastRecentMap() = default;
  // The recency links point into the nodes, so a copy rebuilds them: O(n).
  LeastRecentMap(const LeastRecentMap& other) { copy_from(other); }
  LeastRecentMap& operator=(const LeastRecentMap& other) {
    if (this != &other) {
      clear();
      copy_from(other);
    }
    return *this;
  }
  // Moving an unordered_map keeps its nodes, so the links stay valid.
  LeastRecentMap(LeastRecentMap&& other) noexcept { *this = std::move(other); }
  LeastRecentMap& operator=(LeastRecentMap&& other) noexcept {
    entries_ = std::move(other.entries_);
    oldest_ = std::exchange(other.oldest_, nullptr);
    newest_ = std::exchange(other.newest_, nullptr);
    other.entries_.clear();
    return *this;
  }

  // The value of `key` (value-initialized when new), now the most recent.
  // `created`, when given, says whether it was new.
  Value& touch(const Key& key, bool* created = nullptr) {
    auto [it, fresh] = entries_.try_emplace(key);
    Node& node = it->second;
    if (fresh) {
      node.key = &it->first;
    } else {
      unlink(node);
    }
    link_newest(node);
    if (created) *created = fresh;
    return node.value;
  }

  // The value of `key`, or nullptr; the order is unchanged.
  Value* find(const Key& key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second.value;
  }
  const Value* find(const Key& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second.value;
  }

  // The value of `key`, now the most recent; nullptr (nothing created) when
  // it is not there.
  Value* touch_if_present(const Key& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    unlink(it->second);
    link_newest(it->second);
    return &it->second.value;
  }

  // Removes `key`; false when it was not there.
  bool erase(const Key& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    unlink(it->second);
    entries_.erase(it);
    return true;
  }

  // The least recently touched key; nullptr when empty.
  const Key* least_recent() const { return oldest_ ? oldest_->key : nullptr; }
  // Removes the least recently touched entry and hands it out; the map must
  // not be empty.
  std::pair<Key, Value> pop_least_recent() {
    auto it = entries_.find(*oldest_->key);
    unlink(it->second);
    std::pair<Key, Value> out(it->first, std::move(it->second.value));  // the key copied: erase may hash it
    entries_.erase(it);
    return out;
  }

  // f(const Key&, const Value&) for every entry, least recent first: the
  // order to save in, so that touching them back in that order on load
  // restores the recency.
  template <class F>
  void for_each_oldest_first(F f) const {
    for (const Node* n = oldest_; n; n = n->newer) f(*n->key, n->value);
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() {
    entries_.clear();
    oldest_ = newest_ = nullptr;
  }

 private:
  struct Node {
    Value value{};
    const Key* key = nullptr;  // the map's own key (nodes never move)
    Node* older = nullptr;
    Node* newer = nullptr;
  };

  void copy_from(const LeastRecentMap& other) {
    other.for_each_oldest_first([&](const Key& key, const Value& value) { touch(key) = value; });
  }
  void unlink(Node& n) {
    (n.older ? n.older->newer : oldest_) = n.newer;
    (n.newer ? n.newer->older : newest_) = n.older;
    n.older = n.newer = nullptr;
  }
  void link_newest(Node& n) {
    n.older = newest_;
    n.newer = nullptr;
    (newest_ ? newest_->newer : oldest_) = &n;
    newest_ = &n;
  }

  std::unordered_map<Key, Node, Hash, Equal> entries_;
  Node* oldest_ = nullptr;
  Node* newest_ = nullptr;
};

}  // namespace streamrec
