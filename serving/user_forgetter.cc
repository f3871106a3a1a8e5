#include "serving/user_forgetter.h"

#include <fmt/format.h>

#include <random>

#include "core/event.h"
#include "core/wall_clock.h"

namespace streamrec::serving {
namespace {

// A tombstone's event_id: random, so that it says nothing of the user and
// a second tombstone of the same user is not dropped as a duplicate.
std::string tombstone_id() {
  std::random_device random;
  return fmt::format("forget-{:08x}{:08x}{:08x}{:08x}", random(), random(), random(), random());
}

}  // namespace

void UserForgetter::forget(const std::string& user_id, std::function<void(ForgetOutcome)> done) {
  Event tombstone = forget_event(tombstone_id(), user_id, wall_clock_ms());
  auto outcome = std::make_shared<ForgetOutcome>();
  outcome->event_id = tombstone.event_id;
  std::vector<KeyedMessage> message{{user_id, encode_event(tombstone)}};
  publisher_.publish(events_topic_, message, [this, user_id, outcome, done = std::move(done)](std::vector<std::string> errors) {
    if (!errors.empty() && !errors[0].empty()) {
      outcome->kafka_error = errors[0];
      return done(std::move(*outcome));
    }
    // The lease goes back to the pool before `done`: the caller may destroy
    // the pool once `done` ran (`streamrec forget` does, at once), and a
    // lease given back after that writes into a freed pool (ThreadSanitizer,
    // docs/testing.md).
    {
      auto redis = redis_.lease();
      if (!redis.ok()) {
        outcome->redis_error = redis.error().message;
      } else {
        std::vector<std::string> keys = keys_.user_keys(user_id);
        std::vector<std::string_view> args{"DEL"};
        args.insert(args.end(), keys.begin(), keys.end());
        auto deleted = (*redis)->command(args);
        if (!deleted.ok()) outcome->redis_error = deleted.error().message;
        else outcome->keys_deleted = deleted->get()->integer;
      }
    }
    done(std::move(*outcome));
  });
}

}  // namespace streamrec::serving
