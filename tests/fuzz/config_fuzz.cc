// A config file is YAML written by hand. Any file either loads or is an
// error that says what is wrong (never a crash, a hang or undefined
// behaviour).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // load_config() reads a path: the input goes to a file of this process's
  // own, rewritten for every run.
  static const std::string path = "/tmp/streamrec-config-fuzz-" + std::to_string(::getpid()) + ".yaml";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  auto config = streamrec::load_config(streamrec::ConfigSources{.file = path});
  if (!config.ok() && config.error().message.empty()) std::abort();  // an error always says what
  return 0;
}
