"""Score correlation output (alert and incident rows) against a scenario's ``truth.json``.

Pure functions over rows: the same scoring serves ``aiops eval``, tests and
benchmarks. The rules (how detector alerts are attributed, what a pair is, how an
incident maps to a fault) are documented in ``sample_telemetry/README.md``.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Iterable

from aiops.kpis import parse_ts

TARGETS = {"pair_f1": 0.90, "noise_reduction": 0.95, "root_cause_accuracy": 0.80, "median_mttd_s": 60.0}
NOISE_MIN_ALERTS = 20


def _ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


def normalize_entity(name: str | None) -> str:
    """``"Host-3:9100"`` -> ``"host-3"`` so a root cause named by instance still matches."""
    v = (name or "").strip().lower()
    if v.count(":") == 1 and v.rsplit(":", 1)[1].isdigit():
        v = v.rsplit(":", 1)[0]
    return v


class TruthError(ValueError):
    """A truth document not in the shape ``aiops simulate`` writes: which field, what was
    expected (the CLI names the file)."""

    def __init__(self, field: str, expected: str, got: object = None) -> None:
        super().__init__(f"{field}: expected {expected}, got {got!r}")
        self.field, self.expected, self.got = field, expected, got


def _time(value: object, field: str) -> datetime:
    try:
        ts = parse_ts(value)
    except (TypeError, ValueError):
        ts = None
    if ts is None:
        raise TruthError(field, "an ISO 8601 time", value)
    return ts


def _items(value: object, field: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TruthError(field, "a list of objects", value)
    return value


class Truth:
    """truth.json with lookups: alert -> fault, detector attribution, fault by id."""

    def __init__(self, doc: dict) -> None:
        if not isinstance(doc, dict):
            raise TruthError("(document)", "an object with a list of faults", type(doc).__name__)
        self.doc = doc
        faults = _items(doc.get("faults", []), "faults")
        for i, f in enumerate(faults):
            if not isinstance(f.get("id"), str) or not f["id"]:
                raise TruthError(f"faults[{i}].id", "a fault id", f.get("id"))
        self.faults = {f["id"]: f for f in faults}
        win = doc.get("detector_window", {})
        try:
            self.before = timedelta(seconds=float(win.get("before_s", 120)))
            self.after = timedelta(seconds=float(win.get("after_s", 300)))
        except (AttributeError, TypeError, ValueError):
            raise TruthError("detector_window", "{before_s, after_s} in seconds", win) from None
        self.by_key: dict[tuple[str, int], str] = {}
        for i, f in enumerate(faults):
            where = f"faults[{i}]"
            f["_start"] = _time(f.get("start"), f"{where}.start")
            f["_end"] = _time(f.get("end"), f"{where}.end")
            services = f.get("services", [])
            if not isinstance(services, list):
                raise TruthError(f"{where}.services", "a list of service names", services)
            f["_services"] = {normalize_entity(str(s)) for s in services}
            for j, a in enumerate(_items(f.get("alerts", []), f"{where}.alerts")):
                if not isinstance(a.get("fingerprint"), str):
                    raise TruthError(f"{where}.alerts[{j}].fingerprint", "an alert fingerprint",
                                     a.get("fingerprint"))
                started = _time(a.get("startsAt"), f"{where}.alerts[{j}].startsAt")
                self.by_key[(a["fingerprint"], _ms(started))] = f["id"]

    def label(self, row: dict) -> str | None:
        """The fault an alert row belongs to, or None for noise."""
        starts = parse_ts(row.get("starts_at"))
        fid = self.by_key.get((row.get("fingerprint", ""), _ms(starts))) if starts else None
        if fid is not None or not str(row.get("source", "")).startswith("detector:"):
            return fid
        ent = normalize_entity(row.get("service") or (row.get("labels") or {}).get("service"))
        best = None
        for f in self.faults.values():
            if ent in f["_services"] and f["_start"] - self.before <= starts <= f["_end"] + self.after:
                if best is None or f["_start"] > best["_start"] and f["_start"] <= starts:
                    best = f
        return best["id"] if best else None

    def keys(self) -> Iterable[tuple[tuple[str, int], str]]:
        return self.by_key.items()


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pair_scores(assign: list[tuple[str | None, str | None]]) -> dict:
    """``assign``: (predicted incident or None, true fault or None) per alert."""
    pred = Counter(p for p, _ in assign if p is not None)
    true = Counter(t for _, t in assign if t is not None)
    cells = Counter((p, t) for p, t in assign if p is not None and t is not None)
    tp = sum(_pairs(n) for n in cells.values())
    n_pred = sum(_pairs(n) for n in pred.values())
    n_true = sum(_pairs(n) for n in true.values())
    precision = tp / n_pred if n_pred else (1.0 if n_true == 0 else 0.0)
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": n_true,
        "predicted_pairs": n_pred,
        "correct_pairs": tp,
    }


def score(alerts: list[dict], incidents: list[dict], truth_doc: dict, raw_signals: int | None = None) -> dict:
    """Every number ``aiops eval`` prints, from the rows the engine stored."""
    truth = Truth(truth_doc)
    labels: dict[str, str | None] = {}
    assign: list[tuple[str | None, str | None]] = []
    seen: set[tuple[str, int]] = set()
    for row in alerts:
        fid = truth.label(row)
        labels[row["id"]] = fid
        assign.append((row.get("incident_id"), fid))
        st = parse_ts(row.get("starts_at"))
        if st:
            seen.add((row.get("fingerprint", ""), _ms(st)))
    missing = [(k, fid) for k, fid in truth.keys() if k not in seen]
    assign += [(None, fid) for _, fid in missing]
    pairs = pair_scores(assign)

    n_alerts, n_inc = len(alerts), len(incidents)
    noise = {
        "alerts": n_alerts,
        "incidents": n_inc,
        "alerts_to_incidents": round(1 - n_inc / n_alerts, 4) if n_alerts else None,
        "raw_signals": raw_signals,
        "signals_to_alerts": round(1 - n_alerts / raw_signals, 4) if raw_signals else None,
    }

    by_inc: dict[str, list[str | None]] = defaultdict(list)
    for row in alerts:
        if row.get("incident_id"):
            by_inc[row["incident_id"]].append(labels[row["id"]])
    inc_by_id = {i["id"]: i for i in incidents}
    mttd: dict[str, float | None] = {}
    for fid, f in truth.faults.items():
        opened = [
            parse_ts(inc_by_id[i]["opened_at"])
            for i, labs in by_inc.items()
            if fid in labs and i in inc_by_id and inc_by_id[i].get("opened_at")
        ]
        mttd[fid] = round((min(opened) - f["_start"]).total_seconds(), 3) if opened else None
    detected = [v for v in mttd.values() if v is not None]

    per_incident = []
    for inc in incidents:
        labs = [x for x in by_inc.get(inc["id"], []) if x is not None]
        if not labs:
            continue
        fid = Counter(labs).most_common(1)[0][0]
        f = truth.faults[fid]
        got = normalize_entity((inc.get("root_cause") or {}).get("service"))
        layer = (inc.get("owner") or {}).get("layer")
        per_incident.append(
            {
                "incident": inc["id"],
                "fault": fid,
                "alerts": len(by_inc[inc["id"]]),
                "root_cause": got,
                "expected_root_cause": f["root_cause"],
                "root_cause_correct": got == normalize_entity(f["root_cause"]),
                "layer": layer,
                "expected_layer": f.get("layer"),
                "layer_correct": layer == f.get("layer"),
                "team": (inc.get("owner") or {}).get("team"),
                "expected_team": f.get("team"),
            }
        )
    rc = [p["root_cause_correct"] for p in per_incident]
    lc = [p["layer_correct"] for p in per_incident]
    out = {
        "scenario": truth_doc.get("scenario"),
        "faults": len(truth.faults),
        "faults_detected": len(detected),
        "pairs": pairs,
        "noise_reduction": noise,
        "mttd_s": {
            "median": round(statistics.median(detected), 3) if detected else None,
            "max": max(detected) if detected else None,
            "per_fault": mttd,
        },
        "root_cause_accuracy": round(sum(rc) / len(rc), 4) if rc else None,
        "layer_accuracy": round(sum(lc) / len(lc), 4) if lc else None,
        "incidents_mapped": per_incident,
        "noise_incidents": n_inc - len(per_incident),
        "truth_alerts_missing": len(missing),
    }
    out["targets"] = check_targets(out)
    return out


def check_targets(r: dict) -> dict:
    """The issue's floors, per scenario (noise reduction only where 20+ alerts)."""
    t = {
        "pair_f1": r["pairs"]["f1"] >= TARGETS["pair_f1"],
        "root_cause_accuracy": (r["root_cause_accuracy"] or 0) >= TARGETS["root_cause_accuracy"],
        "median_mttd_s": r["mttd_s"]["median"] is not None
        and r["mttd_s"]["median"] <= TARGETS["median_mttd_s"],
    }
    nr = r["noise_reduction"]
    if nr["alerts"] >= NOISE_MIN_ALERTS:
        t["noise_reduction"] = (nr["alerts_to_incidents"] or 0) >= TARGETS["noise_reduction"]
    t["all"] = all(t.values())
    return t
