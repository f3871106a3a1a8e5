#include "apps/broker_control.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>
#include <vector>

namespace streamrec {

namespace {

Result<int32_t> parse_int(const std::string& word, const char* what) {
  int32_t value = 0;
  auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (ec != std::errc() || end != word.data() + word.size()) return Error{std::string("bad ") + what + " \"" + word + "\""};
  return value;
}

}  // namespace

Status apply_broker_command(EmbeddedBroker& broker, std::string_view line) {
  std::istringstream in{std::string(line)};
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  const char* usage = "expected: down ID | up ID | leader TOPIC PARTITION ID | coordinator GROUP ID";
  if (words.empty()) return Error{std::string("empty command; ") + usage};
  const std::string& verb = words[0];
  if ((verb == "down" || verb == "up") && words.size() == 2) {
    auto id = parse_int(words[1], "broker id");
    if (!id.ok()) return id.error();
    return verb == "down" ? broker.set_broker_down(*id) : broker.set_broker_up(*id);
  }
  if (verb == "leader" && words.size() == 4) {
    auto partition = parse_int(words[2], "partition");
    if (!partition.ok()) return partition.error();
    auto id = parse_int(words[3], "broker id");
    if (!id.ok()) return id.error();
    return broker.set_partition_leader(words[1], *partition, *id);
  }
  if (verb == "coordinator" && words.size() == 3) {
    auto id = parse_int(words[2], "broker id");
    if (!id.ok()) return id.error();
    return broker.set_group_coordinator(words[1], *id);
  }
  return Error{"unknown command \"" + std::string(line) + "\"; " + usage};
}

Result<std::unique_ptr<BrokerControl>> BrokerControl::open(const std::string& fifo_path, EmbeddedBroker& broker) {
  if (::mkfifo(fifo_path.c_str(), 0600) != 0 && errno != EEXIST)
    return Error{"broker: --control " + fifo_path + ": cannot make a named pipe: " + std::strerror(errno)};
  struct stat st {};
  if (::stat(fifo_path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode))
    return Error{"broker: --control " + fifo_path + ": exists and is not a named pipe"};
  // Read-write, so the pipe always has a writer: a script's `echo ... > FIFO`
  // neither blocks waiting for a reader nor leaves us reading end-of-file.
  int fd = ::open(fifo_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Error{"broker: --control " + fifo_path + ": " + std::strerror(errno)};
  return std::unique_ptr<BrokerControl>(new BrokerControl(fifo_path, fd, broker));
}

BrokerControl::~BrokerControl() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

void BrokerControl::poll(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd_, buf, sizeof buf)) > 0;) pending_.append(buf, static_cast<size_t>(n));
  for (size_t eol; (eol = pending_.find('\n')) != std::string::npos; pending_.erase(0, eol + 1)) {
    std::string_view line(pending_.data(), eol);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (Status s = apply_broker_command(broker_, line); s.ok()) {
      spdlog::info("broker: control: {}: done", line);
    } else {
      spdlog::warn("broker: control: {}: {}", line, s.message());
    }
  }
}

}  // namespace streamrec
