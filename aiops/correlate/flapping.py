"""Flapping: an alert (same dedup key) that starts ``flap_count`` times within
``flap_window`` is one flapping alert. Its instances are held back from opening
incidents (suppressed ``flapping``), but counted; if the alert already belongs to
an incident, later flaps attach to that incident instead of starting new ones.
Earlier instances still waiting in a not-yet-opened group are marked too, so a
flapping alert cannot open an incident by outliving the hold once.
"""

from __future__ import annotations

from bisect import insort

from aiops.correlate.incident import drop_member, join
from aiops.correlate.stage import Context, Stage
from aiops.correlate.state import AlertState


class FlappingStage(Stage):
    name = "flapping"

    def process(self, batch: list[AlertState], ctx: Context) -> list[AlertState]:
        out = []
        for a in batch:
            hist = ctx.flaps.setdefault(a.key, [])
            insort(hist, (a.starts_at, a.id))
            cutoff = a.starts_at - ctx.cfg.flap_window
            while hist and hist[0][0] < cutoff:
                hist.pop(0)
            recent = [x for x in hist if x[0] <= a.starts_at]
            if len(recent) < ctx.cfg.flap_count:
                out.append(a)
                continue
            minutes = int(ctx.cfg.flap_window.total_seconds() // 60)
            a.suppressed = f"flapping ({len(recent)} starts in {minutes}m)"
            ctx.touch(a)
            self._collapse(a, ctx, [aid for _, aid in recent if aid != a.id])
        return out

    def _collapse(self, a: AlertState, ctx: Context, earlier_ids: list[str]) -> None:
        home = None
        last = None
        for xid in earlier_ids:
            x = ctx.alerts.get(xid)
            if x is None:
                continue
            last = x
            inc = ctx.incidents.get(x.group_id) if x.group_id else None
            if inc is not None and inc.visible:
                home = inc
                continue
            if inc is not None and not inc.visible:
                # still pending: the earlier instance must not open an incident on its own
                drop_member(ctx, inc, x.id, a.suppressed)
                if not inc.members:
                    del ctx.incidents[inc.id]
            if not x.suppressed or x.suppressed == "transient":
                x.suppressed = a.suppressed
                ctx.touch(x)
        if home is not None and home.active and last is not None:
            join(
                ctx,
                home,
                a,
                "flapping",
                1.0,
                last.id,
                f"{a.name} keeps firing and resolving ({a.suppressed})",
                confirm_now=True,
            )
