#!/usr/bin/env bash
# Install the console's npm packages (web/package-lock.json) into web/node_modules: the chart
# library embedded into the binary and playwright-core for the browser test. The build runs
# this when node_modules is missing or older than the lock file.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null 2>&1; then
    echo "gpurent: npm is missing (the console's chart library comes from npm):" \
         "run scripts/install-deps.sh" >&2
    exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
touch node_modules/.package-lock.json
