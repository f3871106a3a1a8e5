// Why an item is in a user's ranking (docs/serving.md, "Explanations"): the
// candidate source that proposed it, the user's items that drove it, and
// the terms of its score as Ranker::rank blended them:
//   score = model_score · category_factor · history_factor
//   model_score = pCTR + value_weight · pCTCVR · price,  pCTCVR = pCTR · pCVR (ESMM)
// A plain value. encode() gives the compact text the learner writes beside
// the ranking (sr:{u:<id>}:why, docs/redis-keys.md), short enough that
// Redis keeps a user's 50 in a listpack (values up to 64 bytes);
// serving/explanation_json.h reads it back.
#pragma once

#include <string>
#include <vector>

namespace streamrec::ranking {

struct Explanation {
  const char* source = "";           // source_name(): recent, covisit, category, retrieval, popular
  std::vector<std::string> because;  // the user's items that drove it (see Ranker::rank), at most 3
  std::string category;              // the item's category
  double category_share = 0;         // share of the user's recent clicks in that category
  double pctr = 0, pcvr = 0;         // NaN for a task the model does not have
  double model_score = 0, category_factor = 1, history_factor = 1;
};

// source|because,...|category|category_share|pctr|pcvr|model_score|category_factor|history_factor
// Numbers with 4 significant digits, NaN empty; the category only when it
// drove the item (category_share > 0), else empty; '%', '|' and ',' in ids
// and the category percent-escaped (%25, %7C, %2C).
std::string encode(const Explanation& why);

}  // namespace streamrec::ranking
