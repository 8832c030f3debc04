"""Database work from async code (consumers) on a thread pool, not on one shared thread."""

from channels.db import DatabaseSyncToAsync


def database_sync_to_async(func):
    """Like channels' helper, but not thread-sensitive.

    The thread-sensitive default runs every consumer's database call of a daphne process on
    one thread, one after another: under load a single call waiting for a row lock (routing)
    stalled every socket of that process, and handshakes timed out. Services open their own
    transactions and keep no thread-local state, so they are safe on any pool thread.
    """
    return DatabaseSyncToAsync(func, thread_sensitive=False)
