#!/usr/bin/env bash
# The README's first command: set up a fresh Debian 12 machine and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
npm ci
npm run demo -- "$@"
