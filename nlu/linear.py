"""The intent classifier's linear SVM fit (scikit-learn's LinearSVC, i.e. liblinear) as a
function of arrays, so that it runs in a child process on the second core (`nlu.background`)
as well as in the calling one, with the same result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
# the intents (sorted), the weights (one row per intent) and the biases
LinearFit = tuple[list[str], Matrix, Matrix]


def fit_linear(x: Any, labels: Sequence[str], c: float) -> LinearFit:
    """One-against-the-rest squared-hinge SVM over ``x`` (rows: examples), class-balanced."""
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=c, class_weight="balanced", random_state=0)  # reproducible fits
    svm.fit(x, list(labels))
    coef = np.asarray(svm.coef_, dtype=np.float32)
    bias = np.asarray(svm.intercept_, dtype=np.float32)
    if coef.shape[0] == 1:  # binary problem: sklearn keeps one row
        coef, bias = np.vstack([-coef, coef]), np.concatenate([-bias, bias])
    return [str(k) for k in svm.classes_], coef, bias
