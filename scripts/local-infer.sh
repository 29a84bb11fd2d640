#!/usr/bin/env bash
# The seed's `local-infer` command line, on top of `harness infer` (same flags).
#   scripts/local-infer.sh --backend gpt-oss --raw --url http://localhost:8000 --max-tokens 64 "Hello"
#   scripts/local-infer.sh --backend gpt-oss --tools "Summarize this repo"
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$here/.venv/bin/harness" ]; then exec "$here/.venv/bin/harness" infer "$@"; fi
exec harness infer "$@"
