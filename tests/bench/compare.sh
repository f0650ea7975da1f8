#!/usr/bin/env bash
# Benchmarks chatcluster against the Node.js socket.io peer in one run: installs what is
# missing, builds a release build (build-release/) with the load generator, raises the open
# files limit, and runs compare.mjs, which prints the table and writes it into
# docs/benchmarks.md.
#
#   tests/bench/compare.sh [--quick] [--no-write] [idle polling fanout crossnode pollchat storm ...]
#
# --quick runs small sizes (a minute or two, nothing written); the full run takes about
# half an hour on 2 cores.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../deploy/lib/packages.sh
. "$top/deploy/lib/packages.sh"
install_packages "${build_packages[@]}" redis-server

bench=$top/tests/bench
if [[ ! -d $bench/node_modules ]] || [[ $bench/package-lock.json -nt $bench/node_modules/.package-lock.json ]]; then
  (cd "$bench" && npm ci --no-audit --no-fund --loglevel=error)
fi

build=${BENCH_BUILD_DIR:-$top/build-release}
echo "building (release, in ${build#"$top"/}/) ..." >&2
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target chatnode adminnode loadgen floor >/dev/null

# 100,000 clients need as many descriptors in the load generator and in the server: raise the
# soft limit to the hard one (raising the hard one needs CAP_SYS_RESOURCE, which containers
# often lack). compare.mjs sizes its steps to what fits and says so in the table.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
BENCH_MAX_FDS=$(ulimit -n)
[[ $BENCH_MAX_FDS == unlimited ]] && BENCH_MAX_FDS=1048576
export BENCH_MAX_FDS

export BENCH_BUILD_DIR=$build
exec node "$bench/compare.mjs" "$@"
