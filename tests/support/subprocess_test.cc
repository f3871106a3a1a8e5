// The test support's own promise: a child never outlives its test, even a
// test process that dies without running destructors (a sanitizer report
// ends it with _exit), because a child left behind holds ctest's output
// pipe and the test until its timeout.
#include "tests/support/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

namespace streamrec::testing {
namespace {

// Running, or stopped: neither gone nor a zombie waiting for whoever
// inherited it to reap it.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

TEST(Subprocess, AChildDiesWithATestProcessThatExitsWithoutDestructors) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t test_process = ::fork();
  ASSERT_GE(test_process, 0);
  if (test_process == 0) {
    // Stands for a test stopped by a sanitizer: starts a child, then _exit.
    auto* child = new Subprocess({"sleep", "600"});
    pid_t pid = child->pid();
    (void)!::write(pipe_fds[1], &pid, sizeof pid);
    ::_exit(1);
  }
  ::close(pipe_fds[1]);
  pid_t grandchild = 0;
  ASSERT_EQ(::read(pipe_fds[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(test_process, &status, 0), test_process);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(eventually([&] { return !alive(grandchild); }, std::chrono::seconds(10)))
      << "sleep " << grandchild << " outlived the process that started it";
  if (alive(grandchild)) ::kill(grandchild, SIGKILL);
}

TEST(Subprocess, StopEndsAChildWithSigtermAndReportsItsStatus) {
  Subprocess child({"sleep", "600"});
  EXPECT_TRUE(child.running());
  EXPECT_EQ(child.stop(), 128 + SIGTERM);
  EXPECT_FALSE(child.running());
}

TEST(Subprocess, WaitsAreMultipliedByTheTimeScale) {
  EXPECT_GT(time_scale(), 0);
  EXPECT_EQ(scaled(std::chrono::seconds(10)).count(),
            static_cast<int64_t>(10000 * time_scale()));
}

}  // namespace
}  // namespace streamrec::testing
