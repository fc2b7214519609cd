#!/usr/bin/env bash
# Runs the page's browser tests (node:test + playwright-core driving Debian's chromium; axe-core
# audits the page), one file at a time. socketio.test.mjs loads the socket.io 1.3.7 browser
# bundle that web-msg-sender's pages used, taken out of that release's npm tarball (the bundle
# needs none of the release's dependencies, which are not installed) and kept in .cache/.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -f .cache/socket.io-1.3.7.js ]; then
  mkdir -p .cache
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npm pack socket.io-client@1.3.7 --pack-destination "$tmp" --silent >/dev/null
  tar --no-same-owner -xzf "$tmp/socket.io-client-1.3.7.tgz" -C "$tmp" package/socket.io.js
  mv "$tmp/package/socket.io.js" .cache/socket.io-1.3.7.js.part
  mv .cache/socket.io-1.3.7.js.part .cache/socket.io-1.3.7.js
  rm -rf "$tmp"
  trap - EXIT
fi
exec node --test --test-concurrency=1 --test-reporter=spec page.test.mjs chat.test.mjs socketio.test.mjs
