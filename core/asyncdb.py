"""Database work from async code (consumers) on a thread pool, not on one shared thread."""

import os
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync

# The loop's default executor has min(32, cores + 4) threads: 6 on 2 cores, too few for a
# daphne whose hundreds of sockets each make short database calls. Keep it at or below the
# database pool (DATABASE_POOL_MAX_SIZE), which HTTP requests share.
_executor = ThreadPoolExecutor(
    max_workers=int(os.environ.get("ASYNC_DB_THREADS", "16")), thread_name_prefix="asyncdb"
)


def database_sync_to_async(func):
    """Like channels' helper, but not thread-sensitive.

    The thread-sensitive default runs every consumer's database call of a daphne process on
    one thread, one after another: under load a single call waiting for a row lock (routing)
    stalled every socket of that process, and handshakes timed out. Services open their own
    transactions and keep no thread-local state, so they are safe on any pool thread.
    """
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor)
