#!/usr/bin/env bash
# `make test`: lint, then the whole suite against PostgreSQL and Redis.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

ruff check . && ruff format --check . || { echo "ruff is not clean" >&2; exit 1; }
python -m pytest "$@"
status=$?
# pytest exits 5 when it collected no test: that is a failure here, not a pass.
exit $status
