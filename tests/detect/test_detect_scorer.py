"""MetricScorer: causal IsolationForest scores, streaming = batch, persistence."""

from __future__ import annotations

import pickle

import numpy as np
from detect_helpers import epoch, nab_frame

from aiops.detect import MetricScorer


def _series(name="ec2_request_latency_system_failure"):
    df = nab_frame(name)
    return epoch(df["timestamp"]), df["value"].to_numpy(float)


def test_warmup_then_scores_and_refits():
    t, x = _series()
    scorer = MetricScorer(warmup=600)
    scores = scorer.fit_score(t, x)
    assert np.isnan(scores[:600]).all() and np.isfinite(scores[600:]).all()
    assert scorer.n_fits_ >= 3  # warm-up fit, then each time the history doubled
    assert ((scores[600:] > 0) & (scores[600:] < 1)).all()


def test_labelled_failure_scores_above_normal_operation():
    # ec2 latency: the 2014-03-21 failure (labelled window) against the rest
    df = nab_frame("ec2_request_latency_system_failure")
    scores = MetricScorer(warmup=600).fit_score(epoch(df["timestamp"]), df["value"].to_numpy())
    in_window = (df["timestamp"] >= "2014-03-20 21:26") & (df["timestamp"] <= "2014-03-21 03:41")
    assert scores[in_window.to_numpy()].max() > np.nanquantile(scores[~in_window.to_numpy()], 0.995)


def test_streaming_chunks_equal_batch():
    t, x = _series()
    batch = MetricScorer(warmup=600).fit_score(t, x)
    online = MetricScorer(warmup=600)
    parts = [online.partial_score(t[i:i + 333], x[i:i + 333])[0] for i in range(0, len(t), 333)]
    np.testing.assert_allclose(np.concatenate(parts), batch, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_same_scores_after_reload():
    t, x = _series()
    a = MetricScorer(warmup=600)
    a.partial_score(t[:2500], x[:2500])
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.score(t[2500:], x[2500:]), b.score(t[2500:], x[2500:]))


def test_fit_then_score_and_explain():
    t, x = _series()
    scorer = MetricScorer().fit(t[:1000], x[:1000])
    y = x[1000:1100].copy()
    y[50] = 500.0  # latency spike far outside anything seen
    scores, rows = scorer.partial_score(t[1000:1100], y)
    assert scores[50] > scores[:50].max()  # the smoothed score jumps at the spike
    assert scores[50:62].max() > scores[:50].max() + 0.05
    feature, value, z = scorer.explain(rows[50])
    assert feature in ("value", "spike", "level") and z > 10


def test_seasonal_features_only_where_the_series_repeats():
    seasonal = MetricScorer(warmup=750)
    seasonal.fit_score(*_series("nyc_taxi"))
    assert "seasonal_1w" in seasonal.active_features_
    flat = MetricScorer(warmup=750)
    flat.fit_score(*_series("machine_temperature_system_failure"))
    assert not any(f.startswith("seasonal") for f in flat.active_features_)


def test_packed_forest_scores_exactly_like_scikit_learn():
    from sklearn.ensemble import IsolationForest

    from aiops.detect.forest import PackedForest
    t, x = _series()
    from aiops.detect.forest import fit_forest
    scorer = MetricScorer().fit(t[:2000], x[:2000])
    rows = scorer._model_input(scorer.partial_score(t[2000:2400], x[2000:2400])[1])
    train = scorer._train_rows[:, scorer.active_]
    train = train[np.isfinite(train).all(axis=1)]
    forest = fit_forest(train, 100, 256, 0)
    reference = IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(train)
    # the fast fit is scikit-learn's fit; the packed forest (any batch size, chunked past
    # PackedForest.CHUNK rows) scores like scikit-learn's own score_samples
    many = np.concatenate([rows] * 8)
    for X in (rows[:1], rows, many):
        np.testing.assert_allclose(PackedForest(forest).score_samples(X),
                                   reference.score_samples(X), rtol=0, atol=1e-12)
    sub = IsolationForest(max_features=0.5, random_state=3).fit(rows)  # per-tree columns
    np.testing.assert_allclose(PackedForest(sub).score_samples(rows[:100]),
                               sub.score_samples(rows[:100]), rtol=0, atol=1e-12)


def test_packed_forest_is_compact_and_reads_forests_packed_the_old_way():
    """Leaf path lengths are uint16 indices into a table and child indices uint16: the same
    scores, bit for bit, as one float64 per node; a forest pickled that way (stores of
    earlier releases) unpickles into the compact layout with the same scores."""
    import pickle

    from aiops.detect.forest import PackedForest, fit_forest
    rng = np.random.default_rng(8)
    X = rng.normal(size=(3000, 6))
    X[:40] *= 6
    packed = PackedForest(fit_forest(X, 100, 256, 4))
    T = rng.normal(size=(3000, 6)) * 3
    scores = packed.score_samples(T)
    per_node = sum(a.nbytes for a in (packed.child, packed.feature, packed.threshold,
                                      packed.leaf)) / len(packed.child)
    assert per_node == 9 and packed.child.dtype == np.uint16
    old = dict(vars(packed))           # the layout of earlier releases
    old["leaf_value"] = old.pop("values")[old.pop("leaf")]
    old["child"] = old["child"].astype(np.int32)
    old["roots"] = old["roots"].astype(np.int32)
    restored = object.__new__(PackedForest)
    restored.__setstate__(old)
    assert np.array_equal(restored.score_samples(T), scores)
    again = pickle.loads(pickle.dumps(packed))
    assert np.array_equal(again.score_samples(T), scores)
    assert not np.isnan(scores).any() and scores.min() < scores.max()


def test_fit_packed_forest_packs_exactly_the_forest_fit_forest_fits():
    """The detectors' fit skips what packing never reads; the packed arrays (so every score)
    are those of ``PackedForest(fit_forest(...))``, whose fit is scikit-learn's own."""
    from sklearn.ensemble import IsolationForest

    from aiops.detect.forest import PackedForest, _fast_fit_matches, fit_forest, fit_packed_forest
    # with the scikit-learn this project installs, the fast fit applies (else every
    # comparison below would be scikit-learn against itself)
    assert _fast_fit_matches()
    rng = np.random.default_rng(21)
    counts = rng.poisson(3, size=(240, 31)).astype(float)
    counts[:, 5] = 0.0  # a constant column
    cases = [(counts, 100, 240, 7), (rng.normal(size=(900, 5)), 50, 256, 2),
             (np.round(rng.normal(size=(20, 3))), 10, 20, 0)]
    for X, trees, max_samples, seed in cases:
        fast = fit_packed_forest(X, trees, max_samples, seed)
        slow = PackedForest(fit_forest(X, trees, max_samples, seed))
        reference = PackedForest(IsolationForest(n_estimators=trees, max_samples=max_samples,
                                                 random_state=seed).fit(X))
        for other in (slow, reference):
            assert fast.__dict__.keys() == other.__dict__.keys()
            for name, value in fast.__dict__.items():
                np.testing.assert_array_equal(value, other.__dict__[name], err_msg=name)
        np.testing.assert_array_equal(fast.score_samples(X[:50]), slow.score_samples(X[:50]))
        # the leaf table (built per distinct (depth, samples) pair) holds, node for node,
        # scikit-learn's path length of every leaf (0 for inner nodes), sorted and distinct
        from sklearn.ensemble._iforest import _average_path_length
        forest = IsolationForest(n_estimators=trees, max_samples=max_samples,
                                 random_state=seed).fit(X)
        expected = np.concatenate([
            np.where(t.tree_.children_left < 0,
                     t.tree_.compute_node_depths() - 1.0
                     + _average_path_length(t.tree_.n_node_samples), 0.0)
            for t in forest.estimators_])
        np.testing.assert_array_equal(np.sort(fast.values[fast.leaf]), np.sort(expected))
        np.testing.assert_array_equal(fast.values, np.unique(expected))
