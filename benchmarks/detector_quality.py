"""Anomaly-detector quality (NAB realKnownCause, HDFS sessions) and scoring speed, in one run.

    python -m benchmarks.detector_quality [--seeds 3] [--json out.json] [--per-series]

NAB: every detector's scores go through the same protocol. The first
min(15%, 750) points of a series are probation (never flagged); the top 0.2% of
the remaining points by score are flagged (ties: later points first); flags
outside every labelled window are merged when within 1 hour and each merged group
is one false positive; a window is detected if any flag falls inside it.
precision = detected windows / (detected windows + false-positive groups),
recall = detected windows / windows, pooled over the seven series (SOURCES.md).
Ours is ``MetricScorer`` with its defaults (no per-series settings, thresholds
never see labels, features causal); "plain IF" is IsolationForest on (value,
diff, 12-point z-score) fitted on the probation period; the rest are the raw
scores published in ``nab/results``.

HDFS: ``SessionModel`` fitted on the normal sessions of ``hdfs_train`` (its
thresholds are quantiles of those training scores: no labels), scored on
``robust_log_valid.csv`` (and, as a second look, ``robust_log_train.csv`` and the
``hdfs_test_abnormal`` sessions).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402

from aiops.detect import MetricScorer, SessionModel  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NAB = DATA / "nab"
HDFS = DATA / "hdfs_logdeep"
BUDGET = 0.002
MERGE = pd.Timedelta("1h")
PUBLISHED = {"numenta": "HTM (numenta)", "randomCutForest": "Random Cut Forest",
             "ARTime": "ARTime", "contextOSE": "CAD OSE", "windowedGaussian": "windowed Gaussian"}


# -- NAB protocol -----------------------------------------------------------
def probation(n: int) -> int:
    return min(int(0.15 * n), 750)


def nab_series(root: Path = NAB, category: str = "realKnownCause") -> dict[str, pd.DataFrame]:
    files = sorted((root / "data" / category).glob("*.csv"))
    return {f.stem: pd.read_csv(f, parse_dates=["timestamp"]) for f in files}


def nab_windows(root: Path = NAB, category: str = "realKnownCause") -> dict[str, list]:
    raw = json.loads((root / "labels" / "combined_windows.json").read_text())
    out = {}
    for key, wins in raw.items():
        cat, name = key.split("/", 1)
        if cat == category:
            out[name.removesuffix(".csv")] = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in wins]
    return out


def flags(scores: np.ndarray, budget: float = BUDGET) -> np.ndarray:
    """Indices flagged: the top ``budget`` of post-probation points (ties: later first)."""
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    p = probation(len(s))
    k = int(np.ceil(budget * (len(s) - p)))
    top = np.argsort(s[p:], kind="stable")[len(s) - p - k:]
    return np.sort(top + p)


def window_counts(timestamps: pd.Series, flagged: np.ndarray, windows: list) -> tuple[int, int]:
    """(windows detected, false-positive groups) for one series."""
    ts = [pd.Timestamp(t) for t in timestamps.to_numpy()[flagged]]
    detected = sum(any(a <= t <= b for t in ts) for a, b in windows)
    groups, last = 0, None
    for t in ts:
        if any(a <= t <= b for a, b in windows):
            continue
        if last is None or t - last > MERGE:
            groups += 1
        last = t
    return detected, groups


def nab_score(scores: dict[str, np.ndarray], series: dict, windows: dict,
              budget: float = BUDGET) -> dict:
    rows, det, fp, total = {}, 0, 0, 0
    for name, df in series.items():
        d, f = window_counts(df["timestamp"], flags(scores[name], budget), windows[name])
        rows[name] = {"detected": d, "windows": len(windows[name]), "fp_groups": f}
        det, fp, total = det + d, fp + f, total + len(windows[name])
    return {"precision": det / max(det + fp, 1), "recall": det / max(total, 1),
            "detected": det, "windows": total, "fp_groups": fp, "series": rows}


def epoch_seconds(ts: pd.Series) -> np.ndarray:
    return ts.to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9


def ours(series: dict, seed: int = 0, **params) -> dict[str, np.ndarray]:
    out = {}
    for name, df in series.items():
        scorer = MetricScorer(warmup=probation(len(df)), random_state=seed, **params)
        out[name] = scorer.fit_score(epoch_seconds(df["timestamp"]), df["value"].to_numpy())
    return out


def plain_iforest(series: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """IsolationForest on (value, diff, z-score vs the previous 12 points), fit on probation."""
    out = {}
    for name, df in series.items():
        s = df["value"].astype(float)
        mean = s.rolling(12, min_periods=2).mean().shift(1)
        std = s.rolling(12, min_periods=2).std().shift(1)
        z = ((s - mean) / std.replace(0, np.nan)).fillna(0)
        X = np.column_stack([s, s.diff().fillna(0), z])
        forest = IsolationForest(random_state=seed).fit(X[:probation(len(X))])
        out[name] = -forest.score_samples(X)
    return out


def published(series: dict, detector: str, root: Path = NAB) -> dict[str, np.ndarray] | None:
    out = {}
    for name in series:
        f = root / "results" / detector / "realKnownCause" / f"{detector}_{name}.csv"
        if not f.exists():
            return None
        out[name] = pd.read_csv(f)["anomaly_score"].to_numpy()
    return out


# -- HDFS -------------------------------------------------------------------
def _prf(y: np.ndarray, pred: np.ndarray) -> dict:
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12),
            "tp": tp, "fp": fp, "fn": fn}


def hdfs(root: Path = HDFS, **params) -> dict:
    train = [line.split() for line in (root / "hdfs_train").read_text().splitlines()]
    model = SessionModel(**params).fit(train)
    out = {"train_sessions": len(train)}
    for split in ("robust_log_valid.csv", "robust_log_train.csv"):
        df = pd.read_csv(root / split)
        seqs = [str(s).split() for s in df["Sequence"]]
        out[split] = _prf(df["label"].to_numpy(), model.predict(seqs))
    abnormal = [line.split() for line in (root / "hdfs_test_abnormal").read_text().splitlines()]
    out["hdfs_test_abnormal_recall"] = float(model.predict(abnormal).mean())
    return out


# -- speed ------------------------------------------------------------------
def speed(n: int = 200_000, repeats: int = 3) -> dict:
    """Points/s: scoring with a fitted scorer (batch), and the whole causal fit+score run."""
    rng = np.random.default_rng(0)
    t = 1.4e9 + 300.0 * np.arange(n)
    x = 50 + 10 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 1, n)
    warm = 4032  # two weeks of 5-minute points
    best = np.inf
    for _ in range(repeats):
        scorer = MetricScorer().fit(t[:warm], x[:warm])
        scorer.max_refit_interval = 10**9  # batch scoring: no refits inside the timed call
        scorer.next_refit_ = 10**12
        start = time.perf_counter()
        scorer.score(t[warm:], x[warm:])
        best = min(best, time.perf_counter() - start)
    start = time.perf_counter()
    MetricScorer().fit_score(t, x)
    full = time.perf_counter() - start
    return {"points": n - warm, "batch_points_per_s": (n - warm) / best,
            "fit_score_points_per_s": n / full}


# -- report -----------------------------------------------------------------
def run(seeds: int = 1, per_series: bool = False, do_speed: bool = True) -> dict:
    report: dict = {"budget": BUDGET}
    if NAB.exists():
        series, windows = nab_series(), nab_windows()
        table = {}
        runs = [nab_score(ours(series, seed=s), series, windows) for s in range(seeds)]
        table["ours (MetricScorer)"] = runs[0]
        if seeds > 1:
            table["ours (MetricScorer)"]["seeds"] = [
                {k: r[k] for k in ("precision", "recall", "detected", "fp_groups")} for r in runs]
            table["ours (MetricScorer)"]["mean_precision"] = float(
                np.mean([r["precision"] for r in runs]))
            table["ours (MetricScorer)"]["mean_recall"] = float(np.mean([r["recall"] for r in runs]))
        table["plain IsolationForest"] = nab_score(plain_iforest(series), series, windows)
        for key, label in PUBLISHED.items():
            scores = published(series, key)
            if scores is not None:
                table[label] = nab_score(scores, series, windows)
        report["nab"] = table
        print(f"NAB realKnownCause, top {BUDGET:.1%} of post-probation points flagged")
        print(f"{'detector':24s} {'precision':>9s} {'recall':>7s} {'windows':>8s} {'FP groups':>9s}")
        for label, r in table.items():
            print(f"{label:24s} {r['precision']:9.3f} {r['recall']:7.3f} "
                  f"{r['detected']:>4d}/{r['windows']:<3d} {r['fp_groups']:9d}")
            if "seeds" in r:
                print(f"{'  mean over seeds':24s} {r['mean_precision']:9.3f} "
                      f"{r['mean_recall']:7.3f}   " + " ".join(
                          f"{s['detected']}w/{s['fp_groups']}fp" for s in r["seeds"]))
            if per_series and label.startswith("ours"):
                for name, row in r["series"].items():
                    print(f"    {name:40s} {row['detected']}/{row['windows']} "
                          f"fp={row['fp_groups']}")
    else:
        print(f"NAB data not found under {NAB}: skipped")
    if HDFS.exists():
        h = hdfs()
        h_if = hdfs(use_residual=False)
        report["hdfs"] = {"ours (SessionModel)": h, "IsolationForest only": h_if}
        print("\nHDFS block sessions (fit on hdfs_train normal sessions, no labels)")
        print(f"{'model':24s} {'split':22s} {'precision':>9s} {'recall':>7s} {'F1':>6s}")
        for label, r in report["hdfs"].items():
            for split in ("robust_log_valid.csv", "robust_log_train.csv"):
                m = r[split]
                print(f"{label:24s} {split:22s} {m['precision']:9.3f} {m['recall']:7.3f} "
                      f"{m['f1']:6.3f}")
            print(f"{label:24s} {'hdfs_test_abnormal':22s} {'':9s} "
                  f"{r['hdfs_test_abnormal_recall']:7.3f}")
    else:
        print(f"HDFS data not found under {HDFS}: skipped")
    if do_speed:
        report["speed"] = s = speed()
        print(f"\nMetric scoring speed (one core): batch {s['batch_points_per_s']:,.0f} points/s "
              f"over {s['points']:,} points; causal fit+score {s['fit_score_points_per_s']:,.0f} "
              "points/s")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=1, help="also report the mean over N seeds")
    ap.add_argument("--per-series", action="store_true", help="per-series NAB breakdown")
    ap.add_argument("--no-speed", action="store_true", help="skip the throughput measurement")
    ap.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    args = ap.parse_args(argv)
    report = run(seeds=args.seeds, per_series=args.per_series, do_speed=not args.no_speed)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
