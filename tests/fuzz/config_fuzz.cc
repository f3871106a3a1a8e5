// A config file is YAML written by hand. Any file either loads or is an
// error that says what is wrong (never a crash, a hang or undefined
// behaviour).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // load_config() reads a path, so the input goes to a file, rewritten for
  // every run: an anonymous file in memory (memfd), read by its
  // /proc/self/fd path. A file on disk cost most of each run: ext4 writes a
  // file back at close() when it was truncated and rewritten, so the config
  // target ran at ~300 executions/s (docs/performance.md, "Fuzzing").
  static const int fd = ::memfd_create("streamrec-config-fuzz.yaml", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ::ftruncate(fd, 0) != 0) std::abort();
  for (size_t written = 0; written < size;) {
    ssize_t n = ::pwrite(fd, data + written, size - written, static_cast<off_t>(written));
    if (n <= 0) std::abort();
    written += static_cast<size_t>(n);
  }
  auto config = streamrec::load_config(streamrec::ConfigSources{.file = path});
  if (!config.ok() && config.error().message.empty()) std::abort();  // an error always says what
  return 0;
}
