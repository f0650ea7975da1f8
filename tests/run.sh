#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian packages, npm packages), builds with
# ASan + UBSan, and runs the whole suite through CTest. Safe to run again.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build-test}
jobs=$(nproc 2>/dev/null || echo 2)

deb_packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libmsgpack-dev
  libhiredis-dev libmicrohttpd-dev libjwt-dev libcmocka-dev
  redis-server nginx openssl nodejs npm curl procps chromium
)

missing=()
for p in "${deb_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from elsewhere than Debian; only ask apt for it when there is no node at all.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  [[ $(id -u) -eq 0 ]] || { echo "tests/run.sh: need root to install ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The integration tests' packages, and the benchmarks' (the Node.js peer is tested too).
for dir in tests/integration tests/bench; do
  if [[ ! -d $top/$dir/node_modules ]] ||
     [[ $top/$dir/package-lock.json -nt $top/$dir/node_modules/.package-lock.json ]]; then
    echo "== npm ci ($dir)"
    (cd "$top/$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

echo "== build (ASan + UBSan) in $build"
werror=OFF
[[ ${CI:-} == true ]] && werror=ON
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCC_SANITIZE=ON -DCC_WERROR=$werror >/dev/null
cmake --build "$build" -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== ctest"
cd "$build"
exec ctest --output-on-failure -j"$jobs" "$@"
