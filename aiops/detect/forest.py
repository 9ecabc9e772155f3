"""Fast scoring for a fitted scikit-learn IsolationForest.

``IsolationForest.score_samples`` dispatches one job per tree, which costs about
10 ms per call whatever the batch size: fine for a file, too much for a stream
that scores a few points per series per batch. :class:`PackedForest` packs all
trees' node arrays into flat arrays once and walks every (row, tree) pair level
by level with numpy, returning exactly ``score_samples`` (tested for equality):
the same float32 comparison of the feature against the split threshold, the same
path-length correction at the leaves, the same normalisation. Large batches go
to scikit-learn, whose per-tree loop is faster there.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length


class PackedForest:
    """All trees of a fitted IsolationForest in flat arrays, scored without per-tree calls."""

    #: batches at least this large are scored by scikit-learn itself
    LARGE = 512

    def __init__(self, forest: IsolationForest) -> None:
        self.forest = forest
        lefts, rights, feats, thresholds, leaf_depths, roots = [], [], [], [], [], []
        offset = 0
        max_depth = 0
        # scikit-learn indexes columns per tree only when trees use a subset of them
        subset = forest._max_features != forest.n_features_in_ or forest.bootstrap_features
        identity = np.arange(forest.n_features_in_)
        for tree, features in zip(forest.estimators_, forest.estimators_features_):
            features = features if subset else identity
            t = tree.tree_
            n = t.node_count
            left, right = t.children_left.copy(), t.children_right.copy()
            depth = np.zeros(n)
            for node in range(n):  # parents precede children in sklearn's node order
                if left[node] >= 0:
                    depth[left[node]] = depth[right[node]] = depth[node] + 1
            is_leaf = left < 0
            # a leaf's path length: its depth + the expected depth of an unbuilt subtree
            value = depth + _average_path_length(t.n_node_samples.astype(float))
            roots.append(offset)
            lefts.append(np.where(is_leaf, np.arange(n), left) + offset)
            rights.append(np.where(is_leaf, np.arange(n), right) + offset)
            feats.append(np.where(is_leaf, 0, np.asarray(features)[np.maximum(t.feature, 0)]))
            thresholds.append(np.where(is_leaf, np.inf, t.threshold))
            leaf_depths.append(np.where(is_leaf, value, 0.0))
            max_depth = max(max_depth, int(depth.max()))
            offset += n
        self.left = np.concatenate(lefts)
        self.right = np.concatenate(rights)
        self.feature = np.concatenate(feats).astype(np.intp)
        self.threshold = np.concatenate(thresholds)
        self.leaf_value = np.concatenate(leaf_depths)
        self.roots = np.array(roots, dtype=np.intp)
        self.max_depth = max_depth
        self.norm = len(forest.estimators_) * _average_path_length([forest._max_samples])[0]

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Same values as ``IsolationForest.score_samples`` (negated anomaly score)."""
        n = len(X)
        if n >= self.LARGE:
            return self.forest.score_samples(X)
        if n == 0:
            return np.empty(0)
        X = np.asarray(X, dtype=np.float32).astype(np.float64)  # the trees split float32
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self.max_depth):
            go_left = X[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        depths = self.leaf_value[node].sum(axis=1)
        return -(2.0 ** (-depths / self.norm))
