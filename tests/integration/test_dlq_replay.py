"""``dlq-replay --limit N`` replays N messages, never a poll's worth more, and the next replay resumes."""

from __future__ import annotations

import secrets

from services.common.consumer import replay_dead_letters
from services.common.contracts.intake import ClueReceived
from services.common.events import dlq_name
from services.common.kafka import ensure_topics
from services.common.settings import ServiceSettings

from .test_faults_kernel import clue_event, produce, read_all


async def test_replay_stops_at_its_limit_and_the_next_one_resumes(settings_kwargs):
    prefix = f"{settings_kwargs['topic_prefix']}replay{secrets.token_hex(3)}."
    settings = ServiceSettings(**{**settings_kwargs, "topic_prefix": prefix})
    topic = ClueReceived.topic(prefix)
    letters = [clue_event().to_cloudevent().to_bytes() for _ in range(7)]
    await ensure_topics(settings, {topic: False, dlq_name(topic): False})
    await produce(settings.kafka_bootstrap_servers, dlq_name(topic), letters)

    assert await replay_dead_letters(settings, topic, limit=3) == 3
    replayed = await read_all(settings.kafka_bootstrap_servers, topic, expect=4, timeout=5)
    assert [r.value for r in replayed] == letters[:3]

    assert await replay_dead_letters(settings, topic) == 4
    replayed = await read_all(settings.kafka_bootstrap_servers, topic, expect=8, timeout=5)
    assert [r.value for r in replayed] == letters
