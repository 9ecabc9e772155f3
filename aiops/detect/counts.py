"""Template-count vectors scored by IsolationForest and by a PCA-subspace residual.

Used for log windows (counts per template in a time window) and for sessions
(counts per template in one block/request). Two unsupervised scores:

* IsolationForest over the (optionally TF-IDF weighted, optionally log-scaled)
  vectors: rare combinations of counts;
* the squared residual of the vector outside the principal subspace of the
  training vectors (keeping ``variance`` of it): broken linear relations such as
  "every block that is allocated is also stored three times", or 300 lines of a
  template that used to come one at a time. IsolationForest alone misses these
  in high-dimensional sparse counts: a point that is extreme in one of thirty
  columns is isolated only when a split happens to pick that column.

Each score is divided by its threshold, the ``1 - fpr`` quantile of the training
vectors' own scores (no labels; measured out of fold, each half scored by a model
of the other half), and the larger one is the result: above 1 means anomalous.
"""

from __future__ import annotations

import functools
from typing import Iterable, Mapping, Sequence

import numpy as np

from aiops.detect.forest import fit_packed_forest


class CountModel:
    """IsolationForest + PCA residual over template-count vectors; thresholds from training."""

    def __init__(self, n_estimators: int = 100, variance: float = 0.99, fpr: float = 0.005,
                 tfidf: bool = False, log: bool = False, use_forest: bool = True,
                 use_residual: bool = True, random_state: int = 0) -> None:
        if not 0 < variance < 1:
            raise TypeError(f"variance must be in (0, 1), got {variance!r}")
        if not 0 < fpr < 0.5:
            raise TypeError(f"fpr must be in (0, 0.5), got {fpr!r}")
        if not (use_forest or use_residual):
            raise TypeError("enable use_forest, use_residual or both")
        if isinstance(n_estimators, bool) or not isinstance(n_estimators, int) or n_estimators < 1:
            # 0 trees failed only at the first fit, an hour of event time in
            raise TypeError(f"n_estimators must be a whole number of trees, at least 1, "
                            f"got {n_estimators!r}")
        self.n_estimators = n_estimators
        self.variance = variance
        self.fpr = fpr
        self.tfidf = tfidf
        self.log = log
        self.use_forest = use_forest
        self.use_residual = use_residual
        self.random_state = random_state

    # -- vectors ------------------------------------------------------------
    def counts_matrix(self, counts: Iterable[Mapping[str, float]]) -> np.ndarray:
        """Raw counts per known template, plus one column for templates unseen in training."""
        k = len(self.vocab_)
        rows = []
        for c in counts:
            row = np.zeros(k + 1)
            for t, n in c.items():
                row[self.vocab_.get(t, k)] += n
            rows.append(row)
        return np.array(rows).reshape(-1, k + 1)

    def transform(self, counts: Iterable[Mapping[str, float]]) -> np.ndarray:
        X = self.counts_matrix(counts) * self.idf_
        return np.log1p(X) if self.log else X

    # -- estimator ----------------------------------------------------------
    def fit(self, counts: Sequence[Mapping[str, float]]) -> "CountModel":
        counts = list(counts)
        if len(counts) < 8:
            raise ValueError(f"need at least 8 count vectors to fit, got {len(counts)}")
        self.vocab_ = {t: i for i, t in enumerate(sorted({t for c in counts for t in c}))}
        self.idf_ = np.ones(len(self.vocab_) + 1)
        if self.tfidf:
            df = (self.counts_matrix(counts) > 0).sum(axis=0)
            self.idf_ = np.log((1 + len(counts)) / (1 + df)) + 1.0
        X = self.transform(counts)
        self._fit_parts(X)
        # thresholds from out-of-fold scores: in-sample residuals and path lengths are
        # optimistic (a vector helped shape the model that scores it)
        folds = [np.arange(len(X))[i::2] for i in range(2)]
        oof = np.empty((len(X), len(self._parts)))
        for a, b in ((0, 1), (1, 0)):
            half = CountModel(**dict(self.get_params(),  # fewer trees: a threshold estimate
                                     n_estimators=max(10, self.n_estimators // 2)))
            half.vocab_, half.idf_ = self.vocab_, self.idf_
            half._fit_parts(X[folds[a]])
            oof[folds[b]] = half._raw_parts(X[folds[b]])
        self.thresholds_ = np.maximum(np.quantile(oof, 1 - self.fpr, axis=0), 1e-9)
        return self

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("n_estimators", "variance", "fpr", "tfidf", "log",
                                              "use_forest", "use_residual", "random_state")}

    def _fit_parts(self, X: np.ndarray) -> None:
        self.forest_ = None
        self.components_ = None
        self._parts = []
        if self.use_forest:
            self.forest_ = self._packed = fit_packed_forest(
                X, self.n_estimators, min(256, len(X)), self.random_state)
            self._parts.append("forest")
        if self.use_residual:
            n_comp = min(X.shape[0] - 1, X.shape[1])
            with np.errstate(invalid="ignore", divide="ignore"):  # constant windows: 0/0
                mean, components, variance_ratio = fit_pca(X, n_comp)
            ratio = np.nan_to_num(np.cumsum(variance_ratio))
            keep = int(np.searchsorted(ratio, self.variance) + 1) if ratio[-1] > 0 else 1
            self.mean_ = mean
            self.components_ = components[:min(keep, n_comp)]
            self._parts.append("residual")

    def _raw_parts(self, X: np.ndarray) -> np.ndarray:
        parts = []
        if self.forest_ is not None:
            parts.append(-self._packed.score_samples(X))
        if self.components_ is not None:
            parts.append(self._residual(X))
        return np.column_stack(parts)

    def _residual(self, X: np.ndarray) -> np.ndarray:
        Z = X - self.mean_
        R = Z - (Z @ self.components_.T) @ self.components_
        return (R * R).sum(axis=1)

    def score_matrix(self, X: np.ndarray) -> np.ndarray:
        """Per-part scores over their thresholds (columns: forest, residual)."""
        return self._raw_parts(X) / self.thresholds_

    def score_counts(self, counts: Iterable[Mapping[str, float]]) -> np.ndarray:
        """Anomaly score per vector; above 1 means anomalous (higher = worse)."""
        return self.score_matrix(self.transform(counts)).max(axis=1)

    def explain_counts(self, counts: Mapping[str, float]) -> tuple[str, float]:
        """The template whose count departs most from what training implies, and its count."""
        x = self.transform([counts])[0]
        names = list(self.vocab_) + ["<unseen>"]
        if self.components_ is not None:
            z = x - self.mean_
            r = z - (z @ self.components_.T) @ self.components_
        else:
            r = x
        # near-ties (within 1e-9) go to the smallest template id: the residual's last bits
        # vary with the summation order of a restored model, and the vocabulary's order
        # with the arrival order of records within the allowed lateness
        mag = np.abs(r)
        tied = np.flatnonzero(mag >= mag.max() - 1e-9 * max(1.0, float(mag.max())))
        i = int(min(tied, key=lambda j: names[j]))
        raw = self.counts_matrix([counts])[0]
        return names[i], float(raw[i])


def fit_pca(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``PCA(n_components, svd_solver="full").fit(X)``'s ``mean_``, ``components_`` and
    ``explained_variance_ratio_``: the same steps (scipy's SVD, scikit-learn's sign flip)
    without the estimator's validation and configuration (~0.5 ms of a 0.8 ms fit; a
    replay fits hundreds), where a check at first use shows they give the same bits."""
    from sklearn.decomposition import PCA  # on first fit, as in fit_packed_forest

    X = np.asarray(X)
    if not (X.dtype == np.float64 and X.ndim == 2 and X.flags.c_contiguous
            and 0 < n_components <= min(X.shape) and _pca_matches()):
        pca = PCA(n_components=n_components, svd_solver="full").fit(X)
        return pca.mean_, pca.components_, pca.explained_variance_ratio_
    return _direct_pca(X, n_components)


def _direct_pca(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy import linalg
    from sklearn.utils.extmath import svd_flip

    mean = np.mean(X, axis=0)
    _, S, Vt = linalg.svd(X - mean, full_matrices=False)
    _, Vt = svd_flip(None, Vt, u_based_decision=False)
    variance = S ** 2 / (len(X) - 1)
    ratio = variance / np.sum(variance)
    return mean, Vt[:n_components].copy(), ratio[:n_components].copy()


@functools.lru_cache(maxsize=1)
def _pca_matches() -> bool:
    """Does :func:`_direct_pca` give scikit-learn's PCA here, bit for bit?"""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(20261129)
    try:
        for n, d, k in ((40, 12, 11), (9, 30, 8), (25, 25, 24)):
            X = np.log1p(rng.poisson(2.0, size=(n, d)) * rng.uniform(0.5, 2.0, size=d))
            X[:, 0] = 0.0  # a constant column, as an absent template gives
            pca = PCA(n_components=k, svd_solver="full").fit(X)
            got = _direct_pca(X, k)
            want = (pca.mean_, pca.components_, pca.explained_variance_ratio_)
            if not all(a.shape == b.shape and a.tobytes() == b.tobytes()
                       for a, b in zip(got, want)):
                return False
    except Exception:  # another scikit-learn's internals: use its estimator
        return False
    return True


def sequence_counts(seq: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in seq:
        out[t] = out.get(t, 0) + 1
    return out
