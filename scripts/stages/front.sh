#!/usr/bin/env bash
# The front stage: builds the real back, then runs tests/front with pytest: the entrypoint steps
# (config.js escaping, value checks, loud failures), the rendered nginx config (nginx -t, headers,
# caching, proxy), the Dockerfile (rules, size), and end-to-end browser tests in
# headless Chromium against host nginx proxying to the back.
# Screenshots land in .cache/artifacts/front/. Extra arguments go to pytest (e.g. -k story).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

cargo build --release -p back
mkdir -p .cache/artifacts/front
.cache/venv-front/bin/python -m pytest tests/front -p no:cacheprovider --timeout=180 "$@"
