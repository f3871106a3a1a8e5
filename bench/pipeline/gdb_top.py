#!/usr/bin/env python3
"""Poor man's profiler: summarise `gdb -batch -ex 'thread apply all bt'` samples.

Input: the samples concatenated, each ended by a line '=== sample end'.
Threads whose innermost frame is a wait (poll, epoll, futex, sleep, cond
wait) are idle and skipped. For the busy stacks it prints
  * self: the innermost frame, and
  * inclusive: every streamrec function on the stack (counted once per stack),
as a share of busy stacks, with file:function.
"""
import collections
import re
import sys

IDLE = re.compile(r"(poll|epoll_wait|futex_abstimed_wait|futex_wait|lll_lock_wait|nanosleep|sigtimedwait|"
                  r"pthread_cond_(timed)?wait|select|cnd_timedwait|sem_wait|__libc_recv|__libc_read)")
FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(.+?) \(.*?\)(?: at (\S+):\d+| from (\S+))?\s*$")


def stacks(text):
    for sample in text.split("=== sample end"):
        for block in re.split(r"\nThread \d+ ", sample):
            frames = []
            for line in block.splitlines():
                m = FRAME.match(line.strip())
                if m:
                    frames.append((m.group(1), m.group(2) or m.group(3) or "?"))
            if frames:
                yield frames


def short(func, where):
    func = re.sub(r"<.*>", "<>", func)
    where = re.sub(r"^.*/work/main/", "", where)
    where = re.sub(r"^/usr/include/eigen3/", "eigen:", where)
    return "%s:%s" % (where, func)


def main():
    text = open(sys.argv[1]).read()
    busy = 0
    idle = 0
    self_count = collections.Counter()
    incl = collections.Counter()
    for frames in stacks(text):
        if IDLE.search(frames[0][0]):
            idle += 1
            continue
        busy += 1
        self_count[short(*frames[0])] += 1
        seen = set()
        for func, where in frames:
            if "streamrec::" in func and "CLI::" not in func and "add_learn_command" not in func:
                k = short(func, where)
                if k not in seen:
                    seen.add(k)
                    incl[k] += 1
    print("  %d busy thread stacks, %d idle" % (busy, idle))
    print("  self (innermost frame):")
    for k, n in self_count.most_common(8):
        print("    %3.0f%%  %s" % (100 * n / busy, k))
    print("  inclusive (streamrec frames):")
    for k, n in incl.most_common(12):
        print("    %3.0f%%  %s" % (100 * n / busy, k))


if __name__ == "__main__":
    main()
