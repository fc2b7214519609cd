#!/usr/bin/env bash
# chatd's set-up script for a fresh Debian 12 machine (run as root or with sudo available).
#
#   packaging/setup.sh run    install the build dependencies, build, start the server on
#                             http://127.0.0.1:8080/ with its data in ./chatd-data
#   packaging/setup.sh test   install build and test dependencies, build with warnings as
#                             errors, run the whole test suite (ctest), then the same tests
#                             again under AddressSanitizer + UndefinedBehaviorSanitizer
#
# Dependencies come from Debian's packages only (apt-get); the page's browser test also uses
# npm's registry for playwright-core, which drives Debian's chromium, and for the socket.io
# clients (2.x and 4.x) the socket.io endpoint is tested with.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
mode=${1:-run}
jobs=$(nproc 2>/dev/null || echo 2)

build_deps=(build-essential cmake pkg-config libwebsockets-dev libsqlite3-dev librocksdb-dev libcjson-dev
            libcli11-dev doctest-dev libsodium-dev libcurl4-openssl-dev)
test_deps=(python3 python3-websockets chromium curl sqlite3 procps php-cli php-curl)
# Node.js and npm for the page's browser test: Debian's, unless the machine already has them.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  test_deps+=(nodejs npm)
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

configure_and_build() {  # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

case "$mode" in
  run)
    install_packages "${build_deps[@]}"
    configure_and_build build -DCHATD_BUILD_TESTS=OFF -DCHATD_BUILD_BENCH=OFF
    echo "setup: starting chatd (Ctrl-C stops it)"
    exec ./build/chatd --data-dir ./chatd-data "${@:2}"
    ;;
  test)
    install_packages "${build_deps[@]}" "${test_deps[@]}"
    for dir in tests/browser tests/socketio; do
      if [ -f "$dir/package.json" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
      fi
    done
    start=$(date +%s)
    configure_and_build build -DCHATD_WERROR=ON
    echo "setup: build took $(( $(date +%s) - start ))s"
    ctest --test-dir build --output-on-failure -j"$jobs" --timeout 300
    if [ "${CHATD_SKIP_SANITIZERS:-0}" != 1 ]; then
      start=$(date +%s)
      configure_and_build build-asan -DCHATD_WERROR=ON -DCHATD_SANITIZE=address,undefined \
        -DCHATD_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
      echo "setup: sanitizer build took $(( $(date +%s) - start ))s"
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        LSAN_OPTIONS=suppressions=$here/tests/lsan.supp \
        ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 600 -LE no-sanitizer
    fi
    ;;
  *)
    echo "usage: $0 run|test" >&2
    exit 2
    ;;
esac
