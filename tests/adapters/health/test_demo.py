"""The demo script played against the real poller and mapping (no bus): every good record
version becomes its messages once, each bad one is rejected once with its rule."""

from __future__ import annotations

from collections import Counter
from contextlib import closing

from adapters._simulators.polling import RecordingPollContext
from adapters.health import SPEC, HealthConfig
from adapters.health.demo import DEMO, LIVE, HealthDemo
from adapters.health.transport import RateGate, open_transport
from runner.adapter_api import MessageRejected, SystemCounts
from runner.dryrun import map_message, parse_now
from tests.adapters.health.samples import PROJECT


def test_the_demo_plays_its_script_and_its_own_check_passes():
    peer = DEMO.start()
    assert isinstance(peer, HealthDemo)
    try:
        settings = HealthConfig.model_validate({**SPEC.demo_config, **peer.settings})
        with closing(open_transport(settings, RateGate())) as connection:
            ctx = RecordingPollContext(connection.send, now=parse_now(None))
            notes: list[str] = []
            for elapsed in range(0, 30, 2):
                notes += peer.tick(float(elapsed))
                SPEC.poll(ctx, settings)
                if peer.finished():
                    break
        assert peer.finished()
        ids: set[str] = set()
        rules: Counter[str] = Counter()
        for message_id, raw in ctx.emitted:
            try:
                ids |= {
                    e.source_message_id
                    for e in map_message(PROJECT, "health", message_id, raw).envelopes
                }
            except MessageRejected as exc:
                rules[exc.rule] += 1
        assert dict(rules) == dict(peer.expected_dead_letters)
        assert peer.check(SystemCounts(mapped=len(ids))) == []
        assert len(ctx.emitted) == len(ids) - sum(1 for i in ids if i.endswith(":decision")) + 3
        assert any("older version" in n for n in notes)
        assert sum("officers edited" in n for n in notes) == LIVE // 3
    finally:
        peer.stop()
