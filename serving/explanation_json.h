// Reads an explanation as the learner writes it in sr:{u:<id>}:why
// (ranking/explanation.h, docs/redis-keys.md) and renders it as the JSON of
// GET /v1/users/{id}/recommendations?explain=true (docs/serving.md,
// "Explanations"). Pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace streamrec::serving {

// {"source","because":[...],"category" (null unless it drove the item),
//  "category_share","pctr","pcvr","model_score","category_factor","history_factor"};
// nullopt when `encoded` is not in the learner's format.
std::optional<std::string> explanation_json(std::string_view encoded);

}  // namespace streamrec::serving
