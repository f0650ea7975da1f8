#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian packages, npm packages), builds with
# ASan + UBSan, and runs the whole suite through CTest. Safe to run again.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build-test}
jobs=$(nproc 2>/dev/null || echo 2)

# shellcheck source=../deploy/lib/packages.sh
. "$top/deploy/lib/packages.sh"
test_packages=(clang libclang-rt-14-dev libcmocka-dev openssl procps chromium prometheus)
install_packages "${build_packages[@]}" "${run_packages[@]}" "${test_packages[@]}"

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
