"""Celery's Redis transport, made to survive a Redis restart (CELERY_BROKER_TRANSPORT).

Celery 5.7's worker, when it loses the broker, first "collects" the connection (closing its
channel and unbinding the transport from the connection), then closes it again. When Redis is
down, the first close fails part-way (reading the pending BRPOP raises), so the channel is still
open at the second close, whose requeueing of unacknowledged messages then needs the
connection parameters the collect removed: AttributeError ('NoneType' object has no attribute
'hostname'), which the worker takes for unrecoverable, and it exits. Every worker dies at once
on a Redis blip, and timers wait for a supervisor to restart them.

Here that second close gives up on requeueing instead. Nothing more is lost than before: the
messages stay in Redis's unacknowledged set, which the transport restores after its visibility
timeout, as it does for a worker that was killed. The worker then reconnects by itself.
"""

import logging

from kombu.transport import redis

log = logging.getLogger(__name__)


class Channel(redis.Channel):
    def close(self) -> None:
        try:
            super().close()
        except AttributeError:
            if self.connection.client is not None:
                raise
            # The connection was collected already: nothing left to requeue through.
            log.warning("broker channel closed without requeueing; Redis restores them later")


class Transport(redis.Transport):
    Channel = Channel
