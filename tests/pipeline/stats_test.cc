// The pipeline's stats JSON (the `sink` part of docs/operations.md's) carries the
// learned blend's weights by feature name: they decide where a click's
// category and the clicked items land in a ranking, and nothing else shows
// them while `learn` runs. A fresh pipeline's are the blend's initial ones.
#include <gtest/gtest.h>

#include <simdjson.h>

#include "pipeline/stream_pipeline.h"
#include "ranking/learned_blend.h"
#include "tests/support/servers.h"

namespace streamrec::pipeline {
namespace {

TEST(PipelineStats, TheBlendsWeightsAreThereByFeatureName) {
  testing::RedisServer redis;
  Config config;
  config.redis.url = redis.url();
  auto created = StreamPipeline::create(config);
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::string stats = (*created)->stats_json(false);
  simdjson::dom::parser parser;
  simdjson::dom::object weights;
  ASSERT_EQ(parser.parse(stats)["blend"]["weights"].get(weights), simdjson::SUCCESS) << stats;
  ASSERT_EQ(weights.size(), ranking::kBlendFeatures) << stats;
  const auto initial = ranking::LearnedBlend::initial_weights();
  for (size_t f = 0; f < ranking::kBlendFeatures; ++f) {
    const char* name = ranking::blend_feature_name(f);
    double weight = 0;
    ASSERT_EQ(weights[name].get(weight), simdjson::SUCCESS) << name << " missing from " << stats;
    EXPECT_NEAR(weight, initial[f], 1e-9) << name;
  }
  EXPECT_TRUE((*created)->flush().ok());
}

}  // namespace
}  // namespace streamrec::pipeline
