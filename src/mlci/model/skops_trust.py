"""Which types a skops file may hold without the user trusting it by hand.

skops loads without executing code, but it only trusts a small default set of
types; ordinary scikit-learn pipelines also hold ``numpy.dtype`` (encoders,
imputers), score functions (``SelectKBest``), kernels, calibrators and the node
storage of trees. `STANDARD_TYPES` is the list that
``skops.io.get_untrusted_types`` reports for scikit-learn's own estimators and
pipelines (the test ``tests/model/test_skops_trust.py`` regenerates it from
fitted pipelines and fails when a name is missing); these types are data holders,
estimators or pure functions of scikit-learn, numpy and scipy.

Two of them are memory-unsafe when crafted: the node arrays of
``sklearn.tree._tree.Tree`` and of histogram gradient boosting's ``TreePredictor``
hold child and feature indices that scikit-learn follows without bounds checks.
They are trusted only after `verify_trees` has checked every index of every
node against the tree's size and the width of the data that reaches it (the
checks skops cannot make); a model that fails the check is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["STANDARD_TYPES", "VERIFIED_TYPES", "trusted_line", "verify_trees"]

TREE = "sklearn.tree._tree.Tree"
TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"

#: Memory-unsafe node storage, trusted after `verify_trees` checked it.
VERIFIED_TYPES = frozenset({TREE, TREE_PREDICTOR})

_DISTANCES = (
    "BrayCurtis",
    "Canberra",
    "Chebyshev",
    "Dice",
    "Euclidean",
    "Hamming",
    "Haversine",
    "Jaccard",
    "Mahalanobis",
    "Manhattan",
    "Matching",
    "Minkowski",
    "RogersTanimoto",
    "RussellRao",
    "SEuclidean",
    "SokalMichener",
    "SokalSneath",
)

#: Types of scikit-learn, numpy and scipy that standard pipelines hold and that skops
#: does not trust by default (names of scikit-learn 1.2 to 1.9 and skops 0.9 to 0.16).
STANDARD_TYPES = frozenset(
    {
        # numpy and scipy
        "numpy.dtype",
        "numpy.number",
        "numpy.mean",
        "numpy.median",
        "numpy.max",
        "numpy.min",
        "builtins.object",
        "scipy.interpolate._bsplines.BSpline",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        # column selection, bunches, validation helpers held by estimators
        "sklearn.compose._column_transformer.make_column_selector",
        "sklearn.utils._bunch.Bunch",
        "sklearn.utils.Bunch",
        "sklearn.utils.validation.check_array",
        "functools.partial",
        # losses and links beyond skops' defaults
        "sklearn._loss.loss.HalfTweedieLoss",
        "sklearn._loss.loss.HalfTweedieLossIdentity",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.PinballLoss",
        "sklearn._loss.loss.HuberLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.HalfLogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.link.Interval",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        # calibration, Gaussian processes, neural networks
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
        "sklearn.gaussian_process.kernels.ConstantKernel",
        "sklearn.gaussian_process.kernels.Product",
        "sklearn.gaussian_process.kernels.Sum",
        "sklearn.gaussian_process.kernels.RBF",
        "sklearn.gaussian_process.kernels.WhiteKernel",
        "sklearn.gaussian_process.kernels.Matern",
        "sklearn.gaussian_process.kernels.DotProduct",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # score functions of feature selection
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._univariate_selection.r_regression",
        "sklearn.feature_selection._mutual_info.mutual_info_classif",
        "sklearn.feature_selection._mutual_info.mutual_info_regression",
        # clustering internals
        "sklearn.cluster._bisect_k_means._BisectingTree",
        "sklearn.cluster._kmeans._kmeans_single_lloyd",
        "sklearn.cluster._kmeans._kmeans_single_elkan",
        # neighbours: the search trees are built again from the stored data on load
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        *(f"sklearn.metrics._dist_metrics.{d}Distance64" for d in _DISTANCES),
        *(f"sklearn.metrics._dist_metrics.{d}Distance" for d in _DISTANCES),
        *(f"sklearn.neighbors._dist_metrics.{d}Distance" for d in _DISTANCES),
    }
)


def trusted_line(types: list[str]) -> str:
    """The exact ``model.trusted_types`` line that trusts ``types``."""
    return "trusted_types: [" + ", ".join(f'"{t}"' for t in sorted(set(types))) + "]"


def _children(obj: Any) -> Iterator[Any]:
    import numpy as np

    if isinstance(obj, dict):
        yield from obj.values()
    elif isinstance(obj, list | tuple | set | frozenset):
        yield from obj
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            yield from obj.ravel()
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        yield from vars(obj).values()


def _walk(root: Any) -> Iterator[Any]:
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(obj))
        yield obj
        stack.extend(_children(obj))


def _type_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _flat(value: Any) -> list[Any]:
    import numpy as np

    if isinstance(value, np.ndarray):
        return list(value.ravel())
    if isinstance(value, list | tuple):
        return [x for v in value for x in _flat(v)]
    return [value]


def _width(obj: Any) -> int | None:
    import operator

    n = getattr(obj, "n_features_in_", None)
    try:
        return operator.index(n) if n is not None and not isinstance(n, bool) else None
    except TypeError:
        return None


def _check_tree_nodes(tree: Any, width: int) -> str | None:
    """Problems of a ``sklearn.tree._tree.Tree`` read with ``width`` features."""
    import numpy as np

    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    n = int(tree.node_count)
    if not (len(left) == len(right) == len(feature) == n) or n < 1:
        return "node arrays of different lengths"
    if int(tree.n_features) != width:
        return f"the tree reads {int(tree.n_features)} features, its estimator {width}"
    if np.asarray(tree.value).shape[0] != n:
        return "a value array that does not match the nodes"
    idx = np.arange(n)
    leaf = (left == -1) & (right == -1)
    inner = ~leaf
    # Children come after their parent (depth- and best-first builders), so walks end.
    ok = (left > idx) & (left < n) & (right > idx) & (right < n)
    ok &= (feature >= 0) & (feature < width)
    if not bool(np.all(ok[inner])):
        return "child or feature indices out of bounds"
    return None


def _check_predictor(predictor: Any, width: int) -> str | None:
    """Problems of a histogram gradient boosting ``TreePredictor``."""
    import numpy as np

    nodes = getattr(predictor, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype.names is None or len(nodes) < 1:
        return "no node array"
    needed = {"left", "right", "feature_idx", "is_leaf", "is_categorical", "bitset_idx"}
    if not needed <= set(nodes.dtype.names):
        return "a node array without the expected fields"
    n = len(nodes)
    idx = np.arange(n)
    inner = ~nodes["is_leaf"].astype(bool)
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    feat = nodes["feature_idx"].astype(np.int64)
    ok = (left > idx) & (left < n) & (right > idx) & (right < n) & (feat >= 0) & (feat < width)
    if not bool(np.all(ok[inner])):
        return "child or feature indices out of bounds"
    cat = inner & nodes["is_categorical"].astype(bool)
    if bool(cat.any()):
        sets = [
            np.asarray(getattr(predictor, name, np.empty((0, 8))))
            for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets")
        ]
        count = min(s.shape[0] if s.ndim == 2 else 0 for s in sets)
        bits = nodes["bitset_idx"].astype(np.int64)
        if not bool(np.all((bits[cat] >= 0) & (bits[cat] < count))):
            return "categorical bitset indices out of bounds"
    return None


def verify_trees(estimator: Any) -> list[str]:
    """Check the node storage of every tree in ``estimator`` before anything predicts.

    Returns:
        Problems, one per offending tree (empty when every tree is sound).
    """
    problems: list[str] = []
    checked: set[int] = set()
    objects = list(_walk(estimator))
    for obj in objects:
        tree = getattr(obj, "tree_", None)
        if tree is not None and _type_name(tree) == TREE:
            width = _width(obj)
            why = (
                "its estimator records no n_features_in_"
                if width is None
                else _check_tree_nodes(tree, width)
            )
            if why:
                problems.append(f"{type(obj).__name__}.tree_: {why}")
            checked.add(id(tree))
        members = getattr(obj, "estimators_", None)
        if members is not None and not isinstance(obj, type):
            trees = [m for m in _flat(members) if _type_name(getattr(m, "tree_", None)) == TREE]
            width = _width(obj)
            subsets = getattr(obj, "estimators_features_", None)
            for i, member in enumerate(trees):
                # Ensembles call their trees without re-checking the input width.
                if subsets is not None and i < len(_flat_features(subsets)):
                    expected: int | None = len(_flat_features(subsets)[i])
                else:
                    expected = width
                if expected is None or _width(member) != expected:
                    problems.append(
                        f"{type(obj).__name__}.estimators_[{i}]: takes {_width(member)}"
                        f" features, the ensemble feeds it {expected}"
                    )
        predictors = getattr(obj, "_predictors", None)
        if predictors is not None:
            width = _width(obj)
            for i, p in enumerate(_flat(predictors)):
                if _type_name(p) != TREE_PREDICTOR:
                    continue
                why = "no n_features_in_" if width is None else _check_predictor(p, width)
                if why:
                    problems.append(f"{type(obj).__name__}._predictors[{i}]: {why}")
                checked.add(id(p))
    for obj in objects:
        if _type_name(obj) in VERIFIED_TYPES and id(obj) not in checked:
            problems.append(f"a {type(obj).__name__} outside the estimator that runs it")
    return problems


def _flat_features(subsets: Any) -> list[Any]:
    return list(subsets) if isinstance(subsets, list | tuple) else list(subsets or [])
