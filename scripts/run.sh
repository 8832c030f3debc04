#!/usr/bin/env bash
# `make run`: Redis check, migrate, demo users, then web + worker + beat under honcho.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p var

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
if ! python scripts/redis_ping.py "$REDIS_URL" 2>/dev/null; then
  if command -v redis-server >/dev/null; then
    PRIVATE_PORT="${PRIVATE_REDIS_PORT:-6390}"
    echo "No Redis at $REDIS_URL: starting a private redis-server on 127.0.0.1:$PRIVATE_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$PRIVATE_PORT" --save "" \
      --appendonly no --dir "$PWD/var" --pidfile "$PWD/var/redis.pid" \
      --logfile "$PWD/var/redis.log"
    REDIS_URL="redis://127.0.0.1:$PRIVATE_PORT/0"
    for _ in $(seq 50); do python scripts/redis_ping.py "$REDIS_URL" && break; sleep 0.1; done
  else
    echo "Redis is required and none answers at $REDIS_URL: install it (e.g. 'apt-get install redis-server') or set REDIS_URL." >&2
    exit 1
  fi
fi
export REDIS_URL
# The demo shop (scripts/widget_demo.py) embeds the chat from another origin: let it frame it.
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-8000}" DEMO_PORT="${DEMO_PORT:-8001}"
# (honcho gives each process a PORT of its own: the shop is told the desk's address instead.)
export DESK_URL="http://$HOST:$PORT"
export WIDGET_ALLOWED_ORIGINS="${WIDGET_ALLOWED_ORIGINS:-http://$HOST:$DEMO_PORT}"

python manage.py compile_translations
python manage.py migrate --noinput
python manage.py seed_demo

python manage.py desk_banner
exec honcho start -f Procfile
