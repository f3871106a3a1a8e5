// How the owner of a worker thread stops it. The worker waits on `changed`
// for `stopping` (guarded by `mutex`) among its other conditions, finishes
// what it must and returns; the owner sets the flag, wakes it and joins it.
// Call once, from the owner's thread (its destructor).
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace streamrec {

inline void stop_worker(std::mutex& mutex, bool& stopping, std::condition_variable& changed, std::thread& worker) {
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  changed.notify_all();
  worker.join();
}

}  // namespace streamrec
