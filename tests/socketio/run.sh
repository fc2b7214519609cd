#!/usr/bin/env bash
# Runs chatd's socket.io endpoint against the real socket.io clients from npm (2.x and 4.x side
# by side, see package.json), one file at a time. CHATD_BIN names the binary (default: the
# build folder's).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/socket.io-client-2 ] || [ ! -d node_modules/socket.io-client-4 ] || [ ! -d node_modules/ws ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 --test-reporter=spec protocol.test.mjs clients.test.mjs
