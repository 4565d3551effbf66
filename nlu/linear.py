"""The intent classifier's linear SVM fit (scikit-learn's LinearSVC, i.e. liblinear) as a
function of arrays, so that it runs in a child process on the second core (`nlu.background`)
as well as in the calling one, with the same result.

`fit_linear` with ``init`` solves the same problem from a given solution (an incremental
retraining's: the previous model's weights, `nlu.incremental`): upstream LIBLINEAR's primal
Newton solver for the L2-regularised squared hinge (``-s 2``, the package ``liblinear-official``)
accepts an initial solution, which scikit-learn's copy of liblinear (whose default for this
problem is the dual solver, ``-s 1``) does not. The objective is the same: one against the rest,
positive examples of class k at cost ``C * n / (K * n_k)`` ("balanced"), the rest at ``C``, a
regularised bias feature of value 1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
# the intents (sorted), the weights (one row per intent) and the biases
LinearFit = tuple[list[str], Matrix, Matrix]
# LIBLINEAR's stopping tolerance for the warm-started primal solver (its default is 0.01,
# relative to the gradient at zero and scaled by the smaller side's share of the examples)
WARM_TOL = 0.01


def fit_linear(
    x: Any, labels: Sequence[str], c: float, init: tuple[Matrix, Matrix] | None = None
) -> LinearFit:
    """One-against-the-rest squared-hinge SVM over ``x`` (rows: examples), class-balanced;
    with ``init`` (weights (intents × features) and biases, intents sorted), started there."""
    if init is not None:
        return _fit_from(x, labels, c, init)
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=c, class_weight="balanced", random_state=0)  # reproducible fits
    svm.fit(x, list(labels))
    coef = np.asarray(svm.coef_, dtype=np.float32)
    bias = np.asarray(svm.intercept_, dtype=np.float32)
    if coef.shape[0] == 1:  # binary problem: sklearn keeps one row
        coef, bias = np.vstack([-coef, coef]), np.concatenate([-bias, bias])
    return [str(k) for k in svm.classes_], coef, bias


def _fit_from(x: Any, labels: Sequence[str], c: float, init: tuple[Matrix, Matrix]) -> LinearFit:
    """The warm-started fit (LIBLINEAR ``-s 2`` with ``init_sol``)."""
    from ctypes import POINTER, c_double

    import liblinear.liblinear as ll
    from liblinear.liblinear import liblinear, parameter, problem, toPyModel
    from scipy import sparse

    ll.csr_to_problem_nojit = _csr_to_problem  # its per-row Python loop, as one numpy step

    classes = sorted(set(labels))
    index = {k: i for i, k in enumerate(classes)}
    y = np.array([index[k] for k in labels], dtype=np.float64)
    counts = np.bincount(y.astype(np.int64), minlength=len(classes))
    costs = len(y) / (len(classes) * counts)  # scikit-learn's "balanced" class weights
    _, first = np.unique(y, return_index=True)
    order = np.argsort(first)  # LIBLINEAR numbers the classes by first occurrence
    coef, bias = init
    start = np.vstack([coef.T, bias[None, :]]).astype(np.float64)[:, order]  # (features+1, K)
    if len(classes) == 2:
        start = start[:, :1]  # one weight vector, for LIBLINEAR's first class
    start = np.ascontiguousarray(start).ravel()  # init_sol[j * K + i]
    weights = " ".join(f"-w{i} {float(costs[i])!r}" for i in range(len(classes)))
    param = parameter(f"-s 2 -c {float(c)!r} -e {float(WARM_TOL)!r} -B 1 -q {weights}")
    prob = problem(y, sparse.csr_matrix(x, dtype=np.float64))
    prob.set_bias(1.0)
    param.init_sol = start.ctypes.data_as(POINTER(c_double))
    error = liblinear.check_parameter(prob, param)
    if error:
        raise ValueError(error.decode() if isinstance(error, bytes) else str(error))
    m = toPyModel(liblinear.train(prob, param))
    got = [int(k) for k in m.get_labels()]
    n_w = m.nr_class if m.nr_class > 2 else 1
    w = np.ctypeslib.as_array(m.w, shape=(prob.n * n_w,)).reshape(prob.n, n_w).copy()
    del m  # frees LIBLINEAR's model
    out_coef = np.zeros((len(classes), prob.n - 1), dtype=np.float32)
    out_bias = np.zeros(len(classes), dtype=np.float32)
    if len(classes) == 2:
        w = np.hstack([w, -w])  # LIBLINEAR's first class, then the other
    for col, k in enumerate(got):
        out_coef[k], out_bias[k] = w[:-1, col], w[-1, col]
    return [str(k) for k in classes], out_coef, out_bias


def _csr_to_problem(
    rows: int, val: Any, ind: Any, rowptr: Any, out_val: Any, out_ind: Any, _out_rowptr: Any
) -> None:
    """``liblinear.liblinear.csr_to_problem_nojit`` without its loop over rows: row i's entries
    move 2·i places on (each row before it ends with two more nodes: bias and terminator)."""
    at = np.arange(len(ind)) + 2 * np.repeat(np.arange(rows), np.diff(rowptr[: rows + 1]))
    out_ind[at] = ind + 1
    out_val[at] = val
