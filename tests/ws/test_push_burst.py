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

    async def subscribe() -> dict[str, str]:
        channels = {}
        for group in groups:
            channels[group] = await layer.new_channel()
            await layer.group_add(group, channels[group])
        return channels

    channels = asyncio.run(subscribe())
    failed_before = push.publisher().failed
    # When one process publishes an event to every one of them in a single burst
    for group in groups:
        push.publish(group, "burst.test", recipient=group)
    assert push.flush(30)

    # Then no batch failed and each recipient got its event with seq 1
    async def collect() -> dict[str, dict]:
        got = {}
        for group, channel in channels.items():
            message = await asyncio.wait_for(layer.receive(channel), 10)
            frames = message.get("frames") or [message.get("frame")]
            got[group] = frames[0]
        return got

    got = asyncio.run(collect())
    assert push.publisher().failed == failed_before
    assert {frame["recipient"] for frame in got.values()} == set(groups)
    assert {frame["seq"] for frame in got.values()} == {1}
