"""Properties of the miner on generated logs: parameters rebuild the message, restarts are exact."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.masking import PARAM, Masker
from aiops.schema import LogRecord
from aiops.templates import TemplateMiner

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
WORDS = ["start", "stop", "user", "alpha", "beta", "failed", "ok", "from", "to", "disk", "GET"]

token = st.one_of(
    st.sampled_from(WORDS),
    st.integers(0, 10**7).map(str),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.integers(0, 2**48).map(lambda n: f"{n:x}"),
    st.sampled_from(WORDS).map(lambda w: f"({w})"),
    st.tuples(st.sampled_from(WORDS), st.integers(0, 99)).map(lambda t: f"{t[0]}={t[1]}"),
    st.sampled_from(["<1", "[a]", "/p/q", "'q'", '"a b"', "x7", "5.2 KB", "()", "12ms", "ünï", "\udcff"]),
)
shape = st.lists(token, min_size=1, max_size=6)


@st.composite
def logs(draw):
    shapes = draw(st.lists(shape, min_size=1, max_size=6))
    picks = draw(st.lists(st.tuples(st.integers(0, len(shapes) - 1),
                                    st.lists(st.tuples(st.booleans(), token), max_size=6)),
                          min_size=1, max_size=60))
    lines = []
    for index, swaps in picks:
        tokens = list(shapes[index])
        for i, (swap, tok) in enumerate(swaps[:len(tokens)]):
            if swap:
                tokens[i] = tok
        lines.append(" ".join(tokens))
    return lines


def records(lines):
    return [LogRecord(ts=T0 + timedelta(seconds=i), message=m, source="gen")
            for i, m in enumerate(lines)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_params_rebuild_the_message_from_the_template_of_the_moment(lines):
    miner = TemplateMiner()
    for rec in records(lines):
        miner.mine([rec])
        template = miner.registry_[rec.template_id].template
        pieces = template.split(PARAM)
        assert len(rec.params) == len(pieces) - 1
        rebuilt = pieces[0] + "".join(p + rest for p, rest in zip(rec.params, pieces[1:]))
        assert rebuilt == " ".join(rec.message.split())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.floats(0, 1), st.integers(0, 8))
def test_restart_anywhere_continues_exactly(lines, where, bound):
    params = {"max_clusters": bound or None, "cache_size": 16 if bound % 2 else 100_000}
    whole = records(lines)
    TemplateMiner(**params).mine(whole)
    split = records(lines)
    cut = int(len(split) * where)
    first = TemplateMiner(**params)
    first.mine(split[:cut])
    second = TemplateMiner(**params)
    second.set_state(first.get_state())
    second.mine(split[cut:])
    assert [(r.template_id, r.params) for r in split] == [(r.template_id, r.params)
                                                          for r in whole]


@settings(max_examples=100, deadline=None)
@given(st.lists(token, min_size=1, max_size=8))
def test_masking_is_idempotent_and_keeps_words(tokens):
    masker = Masker()
    text = " ".join(tokens)
    once = masker(text)
    assert masker(once) == once
    kept = once.split()
    for word in set(tokens) & set(WORDS):      # a plain word is never a value
        assert word in kept
