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


def test_events_of_one_batch_reach_a_recipient_as_one_message_in_seq_order():
    layer = channel_layers.make_backend("default")
    group = f"batch.{uuid.uuid4().hex[:12]}"

    async def scenario() -> dict:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)

        def publish_three() -> None:
            with push.batch():
                for n in range(3):
                    push.publish(group, "batch.test", n=n)

        await asyncio.to_thread(publish_three)
        return await asyncio.wait_for(layer.receive(channel), 10)

    message = asyncio.run(scenario())
    assert [(f["n"], f["seq"]) for f in message["frames"]] == [(0, 1), (1, 2), (2, 3)]


def test_a_push_while_redis_is_unreachable_is_counted_as_failed_and_never_raises(settings):
    # Given a publisher whose Redis refuses connections (nothing listens on port 1)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    publisher = push.SyncPublisher()
    # When an event is published after a commit
    publisher.publish("agent.1", {"type": "session.offered", "published_at": 0})
    # Then the caller goes on (the commit stands) and the loss is counted
    assert (publisher.sent, publisher.failed) == (0, 1)


def test_the_threaded_publisher_of_the_core_layer_numbers_and_delivers_in_order():
    # The core layer's path (CHANNEL_LAYER=core) is a publisher thread; it sends through any
    # layer's group_send, here the configured one.
    layer = channel_layers.make_backend("default")
    group = f"thread.{uuid.uuid4().hex[:12]}"
    publisher = push.Publisher()

    async def scenario() -> list[dict]:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        for n in range(3):
            publisher.publish(group, {"type": "thread.test", "n": n})
        assert await asyncio.to_thread(publisher.flush, 10)
        frames: list[dict] = []
        while len(frames) < 3:
            message = await asyncio.wait_for(layer.receive(channel), 10)
            frames += message.get("frames") or [message["frame"]]
        return frames

    frames = asyncio.run(scenario())
    assert [(f["n"], f["seq"]) for f in frames] == [(0, 1), (1, 2), (2, 3)]
    assert (publisher.sent, publisher.failed) == (3, 0)


def test_events_published_by_many_threads_at_once_arrive_in_seq_order_without_holes():
    # Numbering and publishing are one step in Redis: no process can publish seq n+1 before
    # another has published n, so a recipient never sees a hole that later fills.
    layer = channel_layers.make_backend("default")
    group = f"race.{uuid.uuid4().hex[:12]}"
    threads, each = 8, 25

    async def scenario() -> list[int]:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)

        def publish_some(thread: int) -> None:
            for n in range(each):
                push.publish(group, "race.test", thread=thread, n=n)

        await asyncio.gather(*(asyncio.to_thread(publish_some, t) for t in range(threads)))
        seqs: list[int] = []
        while len(seqs) < threads * each:
            message = await asyncio.wait_for(layer.receive(channel), 10)
            seqs += [f["seq"] for f in message.get("frames") or [message["frame"]]]
        return seqs

    seqs = asyncio.run(scenario())
    assert seqs == list(range(1, threads * each + 1))


def test_a_serializer_that_cannot_be_patched_in_place_still_numbers_and_delivers():
    # An encrypting serializer cannot take the seq written into its bytes: two round trips.
    layer = channel_layers.make_backend("default")
    group = f"plain.{uuid.uuid4().hex[:12]}"
    publisher = push.SyncPublisher()
    publisher._script = None

    async def scenario() -> list[dict]:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)

        def publish_two() -> None:
            with publisher.batch():
                publisher.publish(group, {"type": "plain.test", "n": 0})
                publisher.publish(group, {"type": "plain.test", "n": 1})

        await asyncio.to_thread(publish_two)
        message = await asyncio.wait_for(layer.receive(channel), 10)
        return message["frames"]

    frames = asyncio.run(scenario())
    assert [(f["n"], f["seq"]) for f in frames] == [(0, 1), (1, 2)]
    assert (publisher.sent, publisher.failed) == (2, 0)
