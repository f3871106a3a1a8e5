// Forgetting a user (privacy, docs/serving.md "DELETE /v1/users/{id}"): sends
// the user's tombstone (a `forget` event, docs/events.md) to the events
// topic keyed by the user, so it is ordered with their events and every
// learner that reads their partition drops what it keeps of them and deletes
// their Redis keys exactly once; then, once the broker acknowledged it,
// deletes those keys (RedisKeys::user_keys) at once, so apps stop seeing the
// user before a learner reaches the tombstone.
//
// Threads: forget() may be called from any thread; `done` is called exactly
// once, on the publisher's acknowledgement thread (or in forget() when
// nothing could be queued). Ownership: borrows the publisher and the pool,
// which must outlive every `done`; the pool is not touched once `done` was
// called (its lease is back), so it may go as soon as `done` ran. Errors are values in the outcome: a
// tombstone the broker did not acknowledge (send it again: a second
// tombstone is harmless), or Redis refusing the immediate delete (the
// learners delete the keys when they reach the tombstone).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "feature_store/redis_keys.h"
#include "serving/event_publisher.h"
#include "serving/redis_pool.h"

namespace streamrec::serving {

struct ForgetOutcome {
  std::string event_id;                // the tombstone's
  std::string kafka_error;             // "" when the broker acknowledged it
  std::optional<int64_t> keys_deleted;  // keys Redis deleted; nullopt when not tried or refused
  std::string redis_error;             // why not, when tried
};

class UserForgetter {
 public:
  UserForgetter(std::string events_topic, RedisKeys keys, EventPublisher& publisher, RedisPool& redis)
      : events_topic_(std::move(events_topic)), keys_(std::move(keys)), publisher_(publisher), redis_(redis) {}

  void forget(const std::string& user_id, std::function<void(ForgetOutcome)> done);

 private:
  const std::string events_topic_;
  const RedisKeys keys_;
  EventPublisher& publisher_;
  RedisPool& redis_;
};

}  // namespace streamrec::serving
