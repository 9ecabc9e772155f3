"""Inhibition, as Alertmanager defines it: while an alert matching a rule's
``source_matchers`` fires, new alerts matching its ``target_matchers`` with equal
values for every ``equal`` label (missing counts as empty) are inhibited. An
alert never inhibits itself. Unlike a silence, an inhibited alert is clearly part
of the inhibiting alert's problem, so it joins that alert's incident (rule
``inhibited``) without paging or driving the root cause.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.correlate.incident import join
from aiops.correlate.silence import Matcher, match_labels, parse_matchers
from aiops.correlate.stage import Context, Stage
from aiops.correlate.state import AlertState


@dataclass
class InhibitRule:
    source: list[Matcher]
    target: list[Matcher]
    equal: list[str]

    @classmethod
    def from_dict(cls, d: dict) -> "InhibitRule":
        src = d.get("source_matchers", d.get("source_match"))
        tgt = d.get("target_matchers", d.get("target_match"))
        if src is None or tgt is None:
            raise ValueError("correlate.inhibit_rules: each rule needs source_matchers and target_matchers")
        rule = cls(parse_matchers(src), parse_matchers(tgt), list(d.get("equal", [])))
        if d.get("source_match_re"):
            rule.source += [Matcher(k, "=~", v) for k, v in d["source_match_re"].items()]
        if d.get("target_match_re"):
            rule.target += [Matcher(k, "=~", v) for k, v in d["target_match_re"].items()]
        return rule

    def inhibits(self, source: AlertState, target: AlertState) -> bool:
        if source.fingerprint == target.fingerprint:
            return False
        sl, tl = match_labels(source), match_labels(target)
        return (
            all(m.matches(sl) for m in self.source)
            and all(m.matches(tl) for m in self.target)
            and all(sl.get(k, "") == tl.get(k, "") for k in self.equal)
        )


class InhibitStage(Stage):
    name = "inhibit"

    def __init__(self, rules: list[InhibitRule]) -> None:
        self.rules = rules

    def process(self, batch: list[AlertState], ctx: Context) -> list[AlertState]:
        if not self.rules:
            return batch
        out = []
        for a in batch:
            src = self._source(a, ctx)
            if src is None:
                out.append(a)
                continue
            a.suppressed = f"inhibited by {src.id}"
            ctx.touch(a)
            if src.group_id and src.group_id in ctx.incidents:
                join(
                    ctx,
                    ctx.incidents[src.group_id],
                    a,
                    "inhibited",
                    1.0,
                    src.id,
                    f"inhibited by {src.name} on {src.entity}",
                    confirm_now=True,
                )
        return out

    def _source(self, a: AlertState, ctx: Context) -> AlertState | None:
        for sid in sorted(ctx.firing):
            s = ctx.alerts.get(sid)
            if s is None or s.suppressed or not s.firing_at(a.starts_at):
                continue
            if any(r.inhibits(s, a) for r in self.rules):
                return s
        return None
