// The embeddings the learner changed, for Redis: the users and items it
// trained on since the last export, each written as the "emb" field of its
// features (float32 little-endian, DESIGN.md). Embeddings are recomputed
// state, like rankings: plain HSETs, overwritten whenever the model changes
// them.
//
// Threads: learned() is the Learner's sink (the model's thread, under the
// model lock); add_changed() is called with that lock held and releases it.
// Never fails: a key the table has no row for is skipped.
#pragma once

#include <mutex>
#include <string>
#include <unordered_set>

#include "feature_store/feature_effects.h"
#include "feature_store/state_writes.h"
#include "online_learner/learner.h"

namespace streamrec::pipeline {

class EmbeddingExport {
 public:
  void learned(const learner::Sample& sample) {
    users_.insert(sample.user_id);
    items_.insert(sample.item_id);
  }
  // Not exported (a forgotten user). Under the model lock.
  void erase_user(const std::string& user_id) { users_.erase(user_id); }
  // Adds to `state` the rows of everyone learned since the last call. Under
  // `model_lock` only the rows are copied; the commands (a key and a Redis
  // buffer each, for some ten thousand users a second) are built after it
  // is released.
  void add_changed(std::unique_lock<std::mutex>& model_lock, const learner::Learner& learner,
                   const FeatureEffects& keys, StateWrites& state);

 private:
  std::unordered_set<std::string> users_, items_;  // under the model lock
};

}  // namespace streamrec::pipeline
