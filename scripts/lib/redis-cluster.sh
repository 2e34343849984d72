# Sourced by scripts/test and scripts/cluster: starts a Redis Cluster of three masters on loopback.
#
#   start_redis_cluster DIR [PORT...]
#
# Starts three `redis-server --cluster-enabled yes` under DIR (on the given ports, or on free
# ones), joins them with `redis-cli --cluster create` and waits until the cluster is ok. Appends
# the servers' pids to the array `pids` and sets `redis_ports` and `redis_cluster_url` (the
# three URLs, comma-separated).

# A free port for a cluster node: at most 55535, with its bus port (+10000) free too.
free_cluster_port() {
    python3 - <<'PY'
import random, socket
while True:
    port = random.randrange(20000, 55535)
    try:
        for p in (port, port + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(port)
        break
    except OSError:
        pass
PY
}

start_redis_cluster() {
    local dir=$1
    shift
    redis_ports=("$@")
    while [ "${#redis_ports[@]}" -lt 3 ]; do redis_ports+=("$(free_cluster_port)"); done
    local port
    for port in "${redis_ports[@]}"; do
        mkdir -p "$dir/redis-$port"
        (cd "$dir/redis-$port" && exec redis-server --bind 127.0.0.1 --port "$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf --save "" --appendonly no \
            --logfile redis.log) &
        pids+=($!)
    done
    for port in "${redis_ports[@]}"; do
        for _ in $(seq 1 100); do
            if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
            sleep 0.1
        done
    done
    if ! redis-cli --cluster create $(printf '127.0.0.1:%s ' "${redis_ports[@]}") \
        --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log" 2>&1; then
        echo "error: the Redis Cluster was not created:" >&2
        cat "$dir/cluster-create.log" "$dir"/redis-*/redis.log >&2
        return 1
    fi
    for _ in $(seq 1 100); do
        if redis-cli -p "${redis_ports[0]}" cluster info | grep -q cluster_state:ok; then break; fi
        sleep 0.1
    done
    redis_cluster_url=$(printf 'redis://127.0.0.1:%s/,' "${redis_ports[@]}")
    redis_cluster_url=${redis_cluster_url%,}
}
