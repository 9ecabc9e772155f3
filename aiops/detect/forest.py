"""Fast scoring for a fitted scikit-learn IsolationForest.

``IsolationForest.score_samples`` dispatches one job per tree, which costs about
10 ms per call whatever the batch size: fine for a file, too much for a stream
that scores a few points per series per batch. :class:`PackedForest` packs all
trees' node arrays into flat arrays once and walks every (row, tree) pair level
by level with numpy, returning exactly ``score_samples`` (tested for equality):
the same float32 comparison of the feature against the split threshold, the same
path-length correction at the leaves, the same normalisation. Large batches go
to scikit-learn, whose per-tree loop is faster there.

:func:`fit_forest` fits the same forest as ``IsolationForest(...).fit(X)`` about 7x
faster (performance only: the result pickles to the same bytes). scikit-learn spends
most of a 100-tree fit on per-tree bookkeeping (cloning, parameter introspection,
input validation, a new ``RandomState`` per tree seeded from OS entropy), not on
building trees; this does the same draws from one reseeded generator and calls the
tree builder directly. It is checked once per process against scikit-learn's own
fit (pickled bytes equal on two probe data sets) and falls back to it otherwise,
so another scikit-learn release can only make it slower, never different.
"""

from __future__ import annotations

import functools
import pickle
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scikit-learn is imported where a forest is fitted (see fit_forest)
    from sklearn.ensemble import IsolationForest


class PackedForest:
    """All trees of a fitted IsolationForest in flat, compact arrays, scored without
    per-tree calls and without keeping scikit-learn's forest.

    The engine holds one forest per metric series and per log source, and persists it at
    every checkpoint: scikit-learn's trees cost ~1.7 MB per forest (node structs, values,
    Python objects), this ~9 bytes per node with the same scores: uint16 child indices
    (a forest has fewer than 65,536 nodes), uint8 features, leaf path lengths as uint16
    indices into a table of the distinct values. Thresholds are stored as float32
    rounded down: the trees compare a float32 feature against a float64 threshold, and for
    a float32 ``x``, ``x <= t`` exactly when ``x <= largest float32 <= t``.
    """

    #: rows scored per numpy pass (bounds the (rows x trees) work arrays)
    CHUNK = 2048

    def __init__(self, forest: IsolationForest) -> None:
        features = None
        # scikit-learn indexes columns per tree only when trees use a subset of them
        if forest._max_features != forest.n_features_in_ or forest.bootstrap_features:
            features = forest.estimators_features_
        self._pack([est.tree_ for est in forest.estimators_],
                   getattr(forest, "_decision_path_lengths", None), features,
                   forest.n_features_in_, forest._max_samples)

    @classmethod
    def from_trees(cls, trees: list, depths: list | None, n_features: int,
                   max_samples: int) -> "PackedForest":
        """Pack trees grown on all ``n_features`` columns (what :func:`fit_packed_forest`
        grows): no scikit-learn forest object needed."""
        packed = cls.__new__(cls)
        packed._pack(trees, depths, None, n_features, max_samples)
        return packed

    def _pack(self, trees: list, known: list | None, features: list | None, n_features: int,
              max_samples: int) -> None:
        # all trees at once (one numpy pass per level, not per tree): the engine packs a
        # forest at every fit, hundreds of them in a large replay
        counts = np.array([t.node_count for t in trees], dtype=np.int64)
        starts = np.zeros(len(trees), dtype=np.int64)
        starts[1:] = np.cumsum(counts)[:-1]
        shift = np.repeat(starts, counts)
        left = np.concatenate([t.children_left for t in trees]).astype(np.int64)
        right = np.concatenate([t.children_right for t in trees]).astype(np.int64)
        is_leaf = left < 0
        left = np.where(is_leaf, -1, left + shift)
        right = np.where(is_leaf, -1, right + shift)
        if features is not None:
            feature = np.concatenate([np.asarray(f)[np.maximum(t.feature, 0)]
                                      for t, f in zip(trees, features)])
        else:
            feature = np.maximum(np.concatenate([t.feature for t in trees]), 0)
        if known is not None and [len(k) for k in known] == counts.tolist():
            depth = np.concatenate(known) - 1.0
        else:
            depth = np.zeros(len(left))
            for node in range(len(left)):  # parents precede children in sklearn's node order
                if left[node] >= 0:
                    depth[left[node]] = depth[right[node]] = depth[node] + 1
        # renumber so that a node's right child follows its left one: a step down is
        # then ``child[node] + went_right``; a leaf is its own child (threshold +inf)
        order = _sibling_order(left, right, starts)
        new_id = np.empty(len(left), dtype=np.int64)
        new_id[order] = np.arange(len(left))
        child = np.where(is_leaf, new_id, new_id[np.maximum(left, 0)])[order]
        index = np.uint16 if len(left) <= 2**16 else np.int32 if len(left) < 2**31 else np.int64
        self.child = child.astype(index)
        self.feature = np.where(is_leaf, 0, feature)[order].astype(
            np.uint8 if n_features <= 256 else np.intp)
        threshold = np.concatenate([t.threshold for t in trees])
        self.threshold = _round_down_f32(np.where(is_leaf, np.inf, threshold)[order])
        self._set_leaf_table(depth, np.concatenate([t.n_node_samples for t in trees]),
                             is_leaf, order)
        self.roots = new_id[starts].astype(index)
        self.max_depth = int(depth.max()) if len(depth) else 0
        self.n_features_in_ = n_features
        self.norm = len(trees) * _path_length(np.array([max_samples]))[0]

    def _set_leaf_table(self, depth: np.ndarray, n_samples: np.ndarray, is_leaf: np.ndarray,
                        order: np.ndarray) -> None:
        """What ``_set_leaves`` makes of every node's path length (0 for inner nodes),
        computed per distinct (depth, samples) pair: a leaf's path length is its depth plus
        the expected depth of an unbuilt subtree of its samples, and a forest has a few
        hundred such pairs, so the table is sorted from those, not from every node (which
        was a third of packing). The same operations on the same values: the same arrays."""
        stride = int(n_samples.max()) + 1 if len(n_samples) else 1
        key = np.where(is_leaf, depth.astype(np.int64) * stride + n_samples + 1, 0)  # 0: inner
        slots = np.flatnonzero(np.bincount(key))
        pair_depth = ((slots - 1) // stride).astype(float)
        pair_value = pair_depth + _path_length(((slots - 1) % stride).astype(float))
        self.values, inverse = np.unique(np.where(slots == 0, 0.0, pair_value),
                                         return_inverse=True)
        lookup = np.zeros(len(key) and int(key.max()) + 1, dtype=np.intp)
        lookup[slots] = inverse.reshape(-1)
        self.leaf = lookup[key][order].astype(np.uint16 if len(self.values) <= 2**16 else np.intp)

    def _set_leaves(self, leaf_value: np.ndarray) -> None:
        # a forest has a few hundred distinct leaf path lengths: a uint16 per node into a
        # table of them, not a float64 per node (the same values, so the same sums)
        self.values, leaf = np.unique(leaf_value, return_inverse=True)
        self.leaf = leaf.reshape(-1).astype(np.uint16 if len(self.values) <= 2**16 else np.intp)

    def __setstate__(self, state: dict) -> None:
        leaf_value = state.pop("leaf_value", None)
        self.__dict__.update(state)
        if leaf_value is not None:  # packed by a release that kept a float64 per node
            self._set_leaves(leaf_value)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Same values as ``IsolationForest.score_samples`` (negated anomaly score)."""
        X = np.asarray(X, dtype=np.float32)  # the trees split float32
        n = len(X)
        if n <= self.CHUNK:
            return self._score(X)
        return np.concatenate([self._score(X[i:i + self.CHUNK])
                               for i in range(0, n, self.CHUNK)])

    def _score(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        if n == 0:
            return np.empty(0)
        flat = X.ravel()
        base = (np.arange(n, dtype=np.intp) * X.shape[1])[:, None]
        # node ids as intp, and the child table as intp for this call: numpy indexes with
        # intp, and a uint16 index array was converted on every gather (three per level):
        # 25-33 % faster for the small batches the detectors score, the same values
        node = np.empty((n, len(self.roots)), dtype=np.intp)
        node[:] = self.roots
        child = self.child.astype(np.intp)
        feature, threshold = self.feature, self.threshold
        for _ in range(self.max_depth):
            went_right = flat[base + feature[node]] > threshold[node]
            node = child[node] + went_right
        depths = self.values[self.leaf[node]].sum(axis=1)
        return -(2.0 ** (-depths / self.norm))


def _sibling_order(left: np.ndarray, right: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """Node ids in an order where every node's two children are adjacent (roots first):
    breadth first over all trees together, one numpy step per level."""
    levels = [roots]
    frontier = roots
    while True:
        inner = frontier[left[frontier] >= 0]
        if not len(inner):
            break
        frontier = np.empty(2 * len(inner), dtype=np.int64)
        frontier[0::2] = left[inner]
        frontier[1::2] = right[inner]
        levels.append(frontier)
    return np.concatenate(levels)


def _round_down_f32(values: np.ndarray) -> np.ndarray:
    """The largest float32 <= each value (inf stays inf)."""
    out = values.astype(np.float32)
    above = out.astype(np.float64) > values
    out[above] = np.nextafter(out[above], np.float32(-np.inf))
    return out


def _path_length(n_samples_leaf: np.ndarray) -> np.ndarray:
    """``sklearn.ensemble._iforest._average_path_length`` for a 1-d array, the same
    operations on the same array (so the same values) without its input validation."""
    shape = n_samples_leaf.shape
    n_samples_leaf = n_samples_leaf.reshape((1, -1))
    average_path_length = np.zeros(n_samples_leaf.shape)
    mask_1 = n_samples_leaf <= 1
    mask_2 = n_samples_leaf == 2
    not_mask = ~np.logical_or(mask_1, mask_2)
    average_path_length[mask_1] = 0.0
    average_path_length[mask_2] = 1.0
    average_path_length[not_mask] = (
        2.0 * (np.log(n_samples_leaf[not_mask] - 1.0) + np.euler_gamma)
        - 2.0 * (n_samples_leaf[not_mask] - 1.0) / n_samples_leaf[not_mask]
    )
    return average_path_length.reshape(shape)


def fit_forest(X: np.ndarray, n_estimators: int, max_samples: int,
               random_state: int) -> IsolationForest:
    """``IsolationForest(n_estimators, max_samples, random_state).fit(X)``, faster.

    scikit-learn (and the scipy it imports, ~110 MB and ~1.5 s) is imported here, on the
    first fit, not with this module: a process that only routes records (the engine
    process of ``--workers N``, the API's front process) never pays for it."""
    from sklearn.ensemble import IsolationForest

    X = np.asarray(X)
    if _fast_fit_applies(X, max_samples, random_state):
        return _fast_fit(X, int(n_estimators), int(max_samples), int(random_state))
    return IsolationForest(n_estimators=n_estimators, max_samples=max_samples,
                           random_state=random_state).fit(X)


def fit_packed_forest(X: np.ndarray, n_estimators: int, max_samples: int,
                      random_state: int) -> PackedForest:
    """``PackedForest(fit_forest(...))``, the same arrays, without building the parts of
    scikit-learn's forest that packing never reads (a tree estimator object and the
    per-tree average path lengths: a fifth of a fit's time). What the detectors call."""
    X = np.asarray(X)
    if not _fast_fit_applies(X, max_samples, random_state):
        return PackedForest(fit_forest(X, n_estimators, max_samples, random_state))
    trees = [tree for _, _, tree in _grow_trees(np.asarray(X, dtype=np.float32),
                                                int(n_estimators), int(max_samples),
                                                int(random_state), features=False)]
    return PackedForest.from_trees(trees, [t.compute_node_depths() for t in trees],
                                   X.shape[1], int(max_samples))


def _fast_fit_applies(X: np.ndarray, max_samples: int, random_state: object) -> bool:
    return (X.ndim == 2 and 0 < max_samples <= len(X)
            and isinstance(random_state, (int, np.integer))
            and bool(np.isfinite(X).all()) and _fast_fit_matches())


_MAX_INT = np.iinfo(np.int32).max


def _max_depth(max_samples: int) -> int:
    return int(np.ceil(np.log2(max(max_samples, 2))))


def _grow_trees(X: np.ndarray, n_estimators: int, max_samples: int, random_state: int,
                features: bool = True) -> list[tuple[int, np.ndarray | None, object]]:
    """The trees of ``BaseBagging._fit`` (float32 X): per tree, its seed, its feature draw
    and the fitted ``Tree``, from the same random draws in the same order.

    ``features=False`` (packing never reads the feature draw): when every row is drawn
    (``max_samples == len(X)``, the log detector's windows) the draws are skipped, as the
    tree's own generator is reseeded after them and every row's weight is 1 whatever their
    order; the feature draw is then None."""
    from sklearn.tree._classes import CRITERIA_REG, DENSE_SPLITTERS
    from sklearn.tree._tree import DepthFirstTreeBuilder, Tree
    from sklearn.utils.random import sample_without_replacement

    n, d = X.shape
    y = np.random.RandomState(random_state).uniform(size=n)
    y2 = np.ascontiguousarray(y.reshape(-1, 1), dtype=np.float64)
    max_depth = _max_depth(max_samples)
    seeds = np.random.RandomState(random_state).randint(_MAX_INT, size=n_estimators)
    one = np.array([1], dtype=np.intp)
    rng = np.random.RandomState(0)  # reseeded: the same stream as a new RandomState(seed)
    all_ones = np.ones(n) if not features and max_samples == n else None
    grown = []
    for seed in seeds:
        rng.seed(seed)
        tree_seed = rng.randint(_MAX_INT)
        if all_ones is not None:  # every row drawn: no draws (see the docstring)
            chosen, weight = None, all_ones
        else:
            rng.seed(seed)
            chosen = sample_without_replacement(d, d, random_state=rng)
            weight = np.bincount(sample_without_replacement(n, max_samples, random_state=rng),
                                 minlength=n).astype(np.float64)
        rng.seed(tree_seed)
        splitter = DENSE_SPLITTERS["random"](CRITERIA_REG["squared_error"](1, n), 1, 1, 0.0,
                                             rng, None)
        tree = Tree(d, one, 1)
        DepthFirstTreeBuilder(splitter, 2, 1, 0.0, max_depth, 0.0).build(
            tree, X, y2, weight, None)
        grown.append((tree_seed, chosen, tree))
    return grown


def _fast_fit(X: np.ndarray, n_estimators: int, max_samples: int,
              random_state: int) -> IsolationForest:
    """What ``IsolationForest.fit`` (dense X, int max_samples <= n, no sample weights) and
    ``BaseBagging._fit`` do, step for step, with the same random draws."""
    from sklearn.ensemble import IsolationForest
    from sklearn.tree import ExtraTreeRegressor

    forest = IsolationForest(n_estimators=n_estimators, max_samples=max_samples,
                             random_state=random_state)
    X = np.asarray(X, dtype=np.float32)
    n, d = X.shape
    forest.n_features_in_ = d
    forest.max_samples_ = max_samples
    max_depth = _max_depth(max_samples)
    forest._n_samples = n
    template = ExtraTreeRegressor(max_features=1, splitter="random", random_state=random_state)
    template.max_depth = max_depth
    forest.estimator_ = template
    forest._max_samples = max_samples
    forest._max_features = d
    forest._sample_weight = None
    forest.estimators_ = []  # attributes in scikit-learn's order: the pickles are compared
    forest.estimators_features_ = []
    forest._seeds = np.random.RandomState(random_state).randint(_MAX_INT, size=n_estimators)
    trees, features = [], []
    for tree_seed, chosen, tree_ in _grow_trees(X, n_estimators, max_samples, random_state):
        tree = ExtraTreeRegressor(max_depth=max_depth, max_features=1, splitter="random",
                                  random_state=tree_seed)
        tree.n_features_in_ = d
        tree.n_outputs_ = 1
        tree.max_features_ = 1
        tree.tree_ = tree_
        trees.append(tree)
        features.append(chosen)
    forest.estimators_ = trees
    forest.estimators_features_ = features
    forest._average_path_length_per_tree, forest._decision_path_lengths = zip(
        *[(_path_length(t.tree_.n_node_samples), t.tree_.compute_node_depths()) for t in trees])
    forest.offset_ = -0.5
    return forest


@functools.lru_cache(maxsize=1)
def _fast_fit_matches() -> bool:
    """Does :func:`_fast_fit` give scikit-learn's own forest here (byte-identical pickles)?"""
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(20261128)
    try:
        for n, d, max_samples, trees, seed in ((300, 4, 256, 8, 3), (40, 3, 40, 5, 11)):
            X = rng.normal(size=(n, d))
            X[:, 0] = np.round(X[:, 0])  # ties and a constant-ish column
            reference = IsolationForest(n_estimators=trees, max_samples=max_samples,
                                        random_state=seed).fit(X)
            if pickle.dumps(_fast_fit(X, trees, max_samples, seed)) != pickle.dumps(reference):
                return False
    except Exception:  # another scikit-learn's internals: use its own fit
        return False
    return True
