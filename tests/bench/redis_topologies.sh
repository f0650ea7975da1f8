#!/usr/bin/env bash
# chatnode on Redis Sentinel and Redis Cluster against a single Redis (failover times, bus
# messages per shard and per node, cross-node latency, the cost of --store-replicas 1): installs
# what is missing, builds chatnode and the load generator in release mode (build-release/),
# raises the open files limit and runs redis_topologies.mjs, which prints a Markdown section
# for docs/benchmarks.md on stdout. Takes about two minutes on 2 cores.
#
#   tests/bench/redis_topologies.sh [--phases a,b,c,d,e]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../deploy/lib/packages.sh
. "$top/deploy/lib/packages.sh"
install_packages "${build_packages[@]}" redis-server

# the Redis topologies come from the integration tests' library, with its packages
for dir in "$top/tests/bench" "$top/tests/integration"; do
  if [[ ! -d $dir/node_modules ]] || [[ $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

build=${BENCH_BUILD_DIR:-$top/build-release}
echo "building (release, in ${build#"$top"/}/) ..." >&2
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target chatnode loadgen >/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec node "$top/tests/bench/redis_topologies.mjs" --chatnode "$build/chatnode/chatnode" \
  --loadgen "$build/tests/bench/loadgen/loadgen" "$@"
