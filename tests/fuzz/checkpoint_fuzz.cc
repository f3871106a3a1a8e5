// A checkpoint on disk is checksummed, but a file written by a buggy or
// hostile hand can still carry a valid checksum. Any payload either restores
// or is an error (never a crash, an allocation the size of a corrupt length,
// or undefined behaviour), and a learner that restored one keeps learning.
//
// Every run restores into a fresh learner of a small model (the format is the
// same at every size). With STREAMREC_FUZZ_WRITE_SEED=FILE set, the target
// writes a real checkpoint of that model, after a short stream, to FILE and
// exits: bench/fuzz.sh makes the seed corpus with it.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/event.h"
#include "online_learner/learner.h"

namespace {

streamrec::LearnerConfig small_model() {
  streamrec::LearnerConfig c;
  c.embedding_dim = 4;
  c.experts = 2;
  c.expert_hidden = 8;
  c.tower_hidden = 4;
  c.batch_size = 8;
  c.metrics_window = 64;
  c.metrics_max_samples = 256;
  c.dedupe_window = 64;
  return c;
}

std::unique_ptr<streamrec::learner::Learner> make_learner() {
  auto learner = streamrec::learner::Learner::create(small_model());
  if (!learner.ok()) std::abort();
  return std::move(learner).value();
}

// A few impressions, clicks and a purchase over 4 users and 6 items.
void feed(streamrec::learner::Learner& learner, int events, int first_id) {
  for (int k = first_id; k < first_id + events; ++k) {
    streamrec::Event e;
    e.event_id = "e" + std::to_string(k);
    e.type = k % 7 == 3 ? streamrec::EventType::kClick
             : k % 29 == 5 ? streamrec::EventType::kPurchase
                           : streamrec::EventType::kImpression;
    e.user_id = "u" + std::to_string(k % 4);
    e.item_id = "i" + std::to_string(k % 6);
    e.request_id = "r" + std::to_string(k / 3);
    e.ts_ms = 1767225600000 + int64_t{k} * 1000;
    if (e.type == streamrec::EventType::kPurchase) e.value = 12;
    learner.add_event(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* seed = std::getenv("STREAMREC_FUZZ_WRITE_SEED")) {
    auto learner = make_learner();
    for (int i = 0; i < 6; ++i)
      learner->add_item(streamrec::Item{.item_id = "i" + std::to_string(i), .category = "c" + std::to_string(i % 2)});
    feed(*learner, 200, 0);
    std::ofstream(seed, std::ios::binary) << learner->checkpoint_bytes(200);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto learner = make_learner();
  auto restored =
      learner->restore_checkpoint_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  if (!restored.ok()) {
    if (restored.error().message.empty()) std::abort();
    return 0;
  }
  feed(*learner, 40, 1000);  // the restored state is whole enough to learn on
  learner->finish();
  return 0;
}
