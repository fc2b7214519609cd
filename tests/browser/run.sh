#!/usr/bin/env bash
# Runs the page's browser tests (node:test + playwright-core driving Debian's chromium; axe-core
# audits the page), one file at a time.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 --test-reporter=spec page.test.mjs chat.test.mjs
