"""The demo script of market_reg, played against the adapter without the bus: the records it
makes and the dead letters it promises add up."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from adapters.market_reg import SPEC
from adapters.market_reg.demo import DEMO, EXPECTED_MAPPED, MarketRegDemo
from runner.adapter_api import MessageRejected, SystemCounts
from runner.dryrun import map_message
from schemas.timeutil import SHANGHAI
from tests.adapters.market_reg._support import PROJECT, context


def test_the_demo_script_gives_the_promised_messages_and_dead_letters():
    peer = DEMO.start()
    assert isinstance(peer, MarketRegDemo)
    try:
        settings = {**SPEC.demo_config, **peer.settings}
        config = SPEC.config.model_validate(settings)
        ctx = context(dt.datetime.now(SHANGHAI))
        for second in range(0, 11):
            peer.tick(float(second))
            assert SPEC.poll is not None
            SPEC.poll(ctx, config)
        rules = Counter(error.rule for _, _, error in ctx.rejected)
        sources: set[str] = set()
        for kind, raw in ctx.emitted:
            try:
                result = map_message(PROJECT, "market_reg", kind, raw)
            except MessageRejected as exc:  # a file of one record
                rules[exc.rule] += 1
                continue
            rules.update(r.rule for r in result.rejected)
            sources.update(e.source_message_id for e in result.envelopes)
        assert dict(rules) == dict(peer.expected_dead_letters)
        assert len(sources) == EXPECTED_MAPPED
        assert peer.finished()
        assert peer.check(SystemCounts(mapped=len(sources))) == []
    finally:
        peer.stop()
