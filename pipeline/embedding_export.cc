#include "pipeline/embedding_export.h"

#include <string_view>
#include <vector>

#include "online_learner/embedding_table.h"
#include "online_learner/features.h"

namespace streamrec::pipeline {

using learner::EmbeddingTable;
using learner::FeatureEncoder;

void EmbeddingExport::add_changed(std::unique_lock<std::mutex>& model_lock, const learner::Learner& learner,
                                  const FeatureEffects& keys, StateWrites& state) {
  // This machine is little-endian, as DESIGN.md's float32 layout needs.
  std::unordered_set<std::string> users, items;
  users.swap(users_);
  items.swap(items_);
  const EmbeddingTable& table = learner.table();
  const size_t bytes = sizeof(float) * static_cast<size_t>(learner.config().embedding_dim);
  std::string rows;
  std::vector<const std::string*> ids;
  size_t user_count = 0;
  auto copy = [&](const std::string& id, uint64_t feature) {
    uint32_t row = table.find(feature);
    if (row == EmbeddingTable::kNoRow) return false;
    rows.append(reinterpret_cast<const char*>(table.row(row)), bytes);
    ids.push_back(&id);
    return true;
  };
  for (const std::string& user : users) user_count += copy(user, FeatureEncoder::user_key(user));
  for (const std::string& item : items) copy(item, FeatureEncoder::item_key(item));
  model_lock.unlock();
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string_view row(rows.data() + i * bytes, bytes);
    if (i < user_count) keys.add_user_embedding(*ids[i], row, state);
    else keys.add_item_embedding(*ids[i], row, state);
  }
}

}  // namespace streamrec::pipeline
