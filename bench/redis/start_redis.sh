# Sourced by the bench scripts: start_redis DIR starts a throwaway
# redis-server (no persistence) on a free 127.0.0.1 port and sets
# redis_port and redis_pid. It checks that the server answering on the port is
# the process it started, so a bench never flushes somebody else's Redis.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_redis() {
  local dir=$1 attempt
  redis_pid=""
  for attempt in 1 2 3 4 5; do
    redis_port="$(free_port)"
    redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no \
      --dir "$dir" --logfile "$dir/redis.log" &
    redis_pid=$!
    for _ in $(seq 50); do
      redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$redis_pid" 2>/dev/null &&
       [[ "$(redis-cli -p "$redis_port" info server | tr -d '\r' | sed -n 's/^process_id://p')" == "$redis_pid" ]]; then
      return 0
    fi
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
  done
  echo "could not start redis-server (see $dir/redis.log)" >&2
  return 1
}
