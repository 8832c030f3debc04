"""Exit 0 if a Redis answers at the URL given as the first argument."""

import sys

import redis

try:
    redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
except redis.RedisError:
    sys.exit(1)
