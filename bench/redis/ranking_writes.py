#!/usr/bin/env python3
"""Measure how fast per-user rankings can be written to Redis.

Speaks RESP over a plain socket (no pip packages). For each combination of
  K (members per ranking) x member order (desc/asc score) x zset encoding
  (listpack default / skiplist via zset-max-listpack-entries 0) x strategy
  (EVALSHA of the learner's replace script / MULTI DEL ZADD EXEC)
it rewrites a pool of user rankings, pipelined, for --seconds, and reports
rankings/s (client wall clock) and the Redis server's CPU time per ranking
(INFO cpu delta, and INFO commandstats usec of EVALSHA or EXEC, which
include the commands they run). It FLUSHALLs the server: run it only against
a throwaway redis-server (bench/ranking_writes.sh starts one). Requests are built before the
clock starts, so the client spends its time only on the socket and replies.

Usage: ranking_writes.py --port P --expect-pid PID [--seconds 1.0] [--users 2000] [--pipeline 64]
                         [--k 10,20,50,100]
"""
import argparse
import random
import socket
import time

# The script of feature_store/ranking_writer.cc, byte for byte.
REPLACE_SCRIPT = """
redis.call('DEL', KEYS[1])
if #ARGV > 0 then redis.call('ZADD', KEYS[1], unpack(ARGV)) end
return #ARGV / 2
"""


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RuntimeError("redis error: " + rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            data = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return data
        if kind == b"*":
            n = int(rest)
            return [self.reply() for _ in range(n)] if n >= 0 else None
        raise RuntimeError("bad RESP line: %r" % line)

    def call(self, *args):
        self.sock.sendall(encode(args))
        return self.reply()


def info(conn, section):
    text = conn.call("INFO", section).decode()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def server_cpu(conn):
    cpu = info(conn, "cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def command_usec(conn):
    total = {}
    for k, v in info(conn, "commandstats").items():
        fields = dict(f.split("=") for f in v.split(","))
        total[k.replace("cmdstat_", "")] = (int(fields["calls"]), int(fields["usec"]))
    return total


def build_requests(users, k, order, strategy, sha, rng, items=100000):
    """One request blob per user, and how many replies each produces."""
    reqs = []
    for u in range(users):
        key = "sr:{u:u%d}:rec" % u
        members = rng.sample(range(items), k)
        scores = sorted((rng.random() for _ in range(k)), reverse=(order == "desc"))
        argv = []
        for m, s in zip(members, scores):
            argv += [repr(s), "i%d" % m]  # repr: shortest round-trip, like std::to_chars
        if strategy == "evalsha":
            reqs.append(encode(["EVALSHA", sha, "1", key] + argv))
        elif strategy == "multi":
            reqs.append(encode(["MULTI"]) + encode(["DEL", key]) + encode(["ZADD", key] + argv) + encode(["EXEC"]))
        else:
            # What `streamrec learn` sends (feature_store/ranking_writer.cc): the
            # ranking, its time on the user's hash and, with rankings.explain
            # (learner_why), the explanations replaced beside it: one
            # ~45-byte text per item, like "category|i8|c3|0.2|0.09639|0.2662|0.7373|7|1".
            blob = encode(["MULTI"]) + encode(["DEL", key]) + encode(["ZADD", key] + argv)
            blob += encode(["HSET", "sr:{u:u%d}:f" % u, "rec_ts", "1796450001000"])
            if strategy == "learner_why":
                why_key = "sr:{u:u%d}:why" % u
                why = []
                for m in members:
                    why += ["i%d" % m, "category|i%d|c%d|0.2|%.4g|%.4g|%.4g|7|1" % (
                        rng.randrange(items), m % 100, rng.random(), rng.random(), rng.random())]
                blob += encode(["DEL", why_key]) + encode(["HSET", why_key] + why)
            reqs.append(blob + encode(["EXEC"]))
    replies = {"evalsha": 1, "multi": 4, "learner": 5, "learner_why": 7}[strategy]
    return reqs, replies


def run_pass(conn, batches, replies_per_batch, deadline=None):
    """Send batches keeping two in flight; returns batches completed."""
    done = 0
    inflight = 0
    for blob in batches:
        conn.sock.sendall(blob)
        inflight += 1
        if inflight == 2:
            for _ in range(replies_per_batch):
                conn.reply()
            inflight -= 1
            done += 1
            if deadline and time.perf_counter() > deadline:
                break
    while inflight:
        for _ in range(replies_per_batch):
            conn.reply()
        inflight -= 1
        done += 1
    return done


def measure(conn, k, order, encoding, strategy, args, sha):
    conn.call("CONFIG", "SET", "zset-max-listpack-entries", "128" if encoding == "listpack" else "0")
    conn.call("FLUSHALL")
    rng = random.Random(k * 7 + (order == "desc"))
    reqs, per = build_requests(args.users, k, order, strategy, sha, rng)
    p = args.pipeline
    batches = [b"".join(reqs[i:i + p]) for i in range(0, len(reqs), p)]
    per_batch = [per * len(reqs[i:i + p]) for i in range(0, len(reqs), p)]
    assert len(set(per_batch)) == 1, "--users must be a multiple of --pipeline"
    mem0 = int(info(conn, "memory")["used_memory"])
    run_pass(conn, batches, per_batch[0])  # create every key: later passes replace
    mem = (int(info(conn, "memory")["used_memory"]) - mem0) / args.users
    enc = conn.call("OBJECT", "ENCODING", "sr:{u:u0}:rec").decode()
    card = int(conn.call("ZCARD", "sr:{u:u0}:rec"))
    assert card == k, (card, k)
    conn.call("CONFIG", "RESETSTAT")
    cpu0 = server_cpu(conn)
    t0 = time.perf_counter()
    deadline = t0 + args.seconds
    rankings = 0
    while time.perf_counter() < deadline:
        rankings += run_pass(conn, batches, per_batch[0], deadline) * p
    wall = time.perf_counter() - t0
    cpu = server_cpu(conn) - cpu0
    stats = command_usec(conn)
    # EVALSHA and EXEC each include the commands they run.
    usec = stats.get("evalsha" if strategy == "evalsha" else "exec", (0, 0))[1]
    return {
        "k": k, "order": order, "encoding": enc, "strategy": strategy,
        "rankings_s": rankings / wall, "cpu_us": cpu / rankings * 1e6,
        "cmd_us": usec / rankings, "mem": mem, "zadd_us": stats.get("zadd", (1, 0))[1] / max(1, stats.get("zadd", (1, 0))[0]),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--expect-pid", type=int, required=True, help="pid of the redis-server we started")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per combination")
    ap.add_argument("--users", type=int, default=2048, help="distinct ranking keys rewritten in turn")
    ap.add_argument("--pipeline", type=int, default=64, help="rankings per pipelined batch")
    ap.add_argument("--k", default="10,20,50,100")
    ap.add_argument("--strategies", default="evalsha,multi",
                    help="of evalsha, multi, learner (the learner's MULTI with rec_ts), learner_why (and explanations)")
    args = ap.parse_args()
    conn = Conn(args.port)
    # This FLUSHALLs and reconfigures the server: refuse any server but ours.
    pid = info(conn, "server")["process_id"]
    if str(args.expect_pid) != pid:
        raise SystemExit("ranking_writes.py: port %d is redis pid %s, not %d; refusing to touch it"
                         % (args.port, pid, args.expect_pid))
    sha = conn.call("SCRIPT", "LOAD", REPLACE_SCRIPT).decode()
    rows = []
    hdr = "%-4s %-5s %-9s %-8s %11s %14s %12s %13s %9s" % (
        "K", "order", "encoding", "strategy", "rankings/s", "srv CPU us/rk", "cmd usec/rk", "zadd us/call", "B/ranking")
    print(hdr)
    print("-" * len(hdr))
    for k in [int(x) for x in args.k.split(",")]:
        for encoding in ("listpack", "skiplist"):
            for order in ("desc", "asc"):
                for strategy in args.strategies.split(","):
                    r = measure(conn, k, order, encoding, strategy, args, sha)
                    rows.append(r)
                    print("%-4d %-5s %-9s %-8s %11.0f %14.1f %12.1f %13.1f %9.0f" % (
                        r["k"], r["order"], r["encoding"], r["strategy"], r["rankings_s"], r["cpu_us"],
                        r["cmd_us"], r["zadd_us"], r["mem"]), flush=True)
    return rows


if __name__ == "__main__":
    main()
