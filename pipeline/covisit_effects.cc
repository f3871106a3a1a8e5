#include "pipeline/covisit_effects.h"

namespace streamrec::pipeline {

void CoVisitEffects::add(const Event& event, const MessageOrigin& origin, EffectsScheduler& effects) {
  if (event.type != EventType::kClick || window_items_ == 0) return;
  ranking::find_covisit_pairs(event, histories_.find(event.user_id), window_items_, window_ms_, pairs_);
  for (const auto& [earlier, item] : pairs_) effects.add_covisit(earlier, item, origin);
  histories_.observe(event);
}

}  // namespace streamrec::pipeline
