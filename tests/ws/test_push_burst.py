"""A burst of pushes to many recipients at once reaches every one of them, numbered."""

import asyncio
import uuid

from channels.layers import channel_layers

from sessions_app import push


def test_burst_to_300_recipients_is_delivered_to_each_with_no_failed_batch():
    # Given 300 recipients, each with a channel listening on its own group
    layer = channel_layers.make_backend("default")
    run = uuid.uuid4().hex[:12]
    groups = [f"burst.{run}.{n}" for n in range(300)]

    async def burst() -> dict[str, dict]:
        # Subscribed first (a pub/sub layer delivers only to who listens at the time)
        channels = {}
        for group in groups:
            channels[group] = await layer.new_channel()
            await layer.group_add(group, channels[group])

        # When one process publishes an event to every one of them in a single burst
        def publish_all() -> bool:
            with push.batch():
                for group in groups:
                    push.publish(group, "burst.test", recipient=group)
            return push.flush(30)

        assert await asyncio.to_thread(publish_all)
        got = {}
        for group, channel in channels.items():
            message = await asyncio.wait_for(layer.receive(channel), 10)
            frames = message.get("frames") or [message.get("frame")]
            got[group] = frames[0]
        return got

    failed_before = push.publisher().failed
    got = asyncio.run(burst())
    # Then no batch failed and each recipient got its event with seq 1
    assert push.publisher().failed == failed_before
    assert {frame["recipient"] for frame in got.values()} == set(groups)
    assert {frame["seq"] for frame in got.values()} == {1}
