#include "feature_store/async_writer.h"

#include <pthread.h>

#include <utility>

#include "core/stop_worker.h"

namespace streamrec {

AsyncWriter::AsyncWriter(std::string thread_name, std::string redis_url, int timeout_ms,
                         std::chrono::milliseconds retry_pause)
    : thread_name_(std::move(thread_name)), retry_pause_(retry_pause), redis_(std::move(redis_url), timeout_ms) {}

void AsyncWriter::start(Job job) {
  job_ = std::move(job);
  thread_ = std::thread([this] { run(); });
}

void AsyncWriter::stop() {
  if (thread_.joinable()) stop_worker(mutex_, stopping_, changed_, thread_);
}

void AsyncWriter::run() {
  pthread_setname_np(pthread_self(), thread_name_.c_str());
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || job_.has_work(); });
      if (!job_.has_work()) return;  // stopping, and everything written
      stopping = stopping_;
      job_.take(stopping);
    }
    changed_.notify_all();  // room for more work
    job_.write(redis_);
    {
      std::unique_lock lock(mutex_);
      if (job_.finish(stopping) && !stopping) changed_.wait_for(lock, retry_pause_, [&] { return stopping_; });
    }
    changed_.notify_all();  // a write is done
  }
}

}  // namespace streamrec
