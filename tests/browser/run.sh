#!/usr/bin/env bash
# Runs the page's browser test (node:test + playwright-core driving Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-reporter=spec page.test.mjs
