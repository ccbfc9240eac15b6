"""Judging a frozen encoder's features with labels: a linear probe and a weighted kNN classifier.

An encoder trained without labels is only as good as what its features make easy. The two standard checks train
nothing inside the encoder: the linear probe (the linear evaluation protocol of SimCLR, Chen et al. 2020) asks how
well one linear layer separates the classes, and weighted kNN (Wu et al. 2018, instance discrimination) asks whether
an item's nearest neighbours by cosine similarity share its class, with no training and no optimiser to tune. Both
take plain feature arrays, so any encoder's output can be compared on the same footing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lookalike.errors import LookalikeError

_STD_FLOOR = 1e-6  # a feature that is constant on the training set is left unscaled rather than blown up


@dataclass(frozen=True)
class ProbeScores:
    top1: float
    top5: float  # top-k accuracy with k = min(5, classes): with 5 classes or fewer it is 1.0 by construction
    train_top1: float  # accuracy on the training features; far above top1 means the probe overfits
    classes: int  # distinct classes in the training labels


@dataclass(frozen=True)
class _Split:
    train_x: np.ndarray
    train_y: np.ndarray  # class indices 0..classes-1, in the order of the sorted distinct training labels
    test_x: np.ndarray
    test_y: np.ndarray
    classes: int


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    weight_decay: float = 1e-4,
    max_iter: int = 500,
) -> ProbeScores:
    """Top-1 and top-5 test accuracy of a multinomial logistic regression on frozen features.

    The features are standardised with the training mean and std, then one linear layer is fitted full-batch with
    L-BFGS (strong Wolfe line search, float64, CPU) to minimise mean cross-entropy plus
    ``weight_decay * ||W||^2`` (the bias is not penalised). The weights start at zero, so the result has no
    randomness: the same inputs give the same scores. Fitting stops after `max_iter` L-BFGS iterations or when it
    converges. Test labels are never seen during fitting.

    Labels are integer class ids; classes are the distinct training labels, and a test label that never occurs in
    training is an error.
    """
    if not (isinstance(weight_decay, (int, float)) and np.isfinite(weight_decay) and weight_decay >= 0):
        raise LookalikeError(f"the weight decay must be a finite number, 0 or more, got {weight_decay!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise LookalikeError(f"max_iter must be a whole number, 1 or more, got {max_iter!r}")
    split = _check_split(train_x, train_y, test_x, test_y)
    mean = split.train_x.mean(axis=0, dtype=np.float64)
    std = np.maximum(split.train_x.std(axis=0, dtype=np.float64), _STD_FLOOR)
    train = torch.from_numpy((split.train_x - mean) / std)
    test = torch.from_numpy((split.test_x - mean) / std)
    weight, bias = _fit_logistic(train, torch.from_numpy(split.train_y), split.classes, weight_decay, int(max_iter))
    with torch.no_grad():
        train_logits = train @ weight.T + bias
        test_logits = test @ weight.T + bias
    test_labels = torch.from_numpy(split.test_y)
    top_k = torch.topk(test_logits, min(5, split.classes), dim=1).indices
    return ProbeScores(
        top1=float((test_logits.argmax(dim=1) == test_labels).double().mean()),
        top5=float((top_k == test_labels[:, None]).any(dim=1).double().mean()),
        train_top1=float((train_logits.argmax(dim=1) == torch.from_numpy(split.train_y)).double().mean()),
        classes=split.classes,
    )


def knn_accuracy(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    k: int = 20,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> float:
    """Test accuracy of weighted kNN by cosine similarity (Wu et al. 2018).

    Each test item's `k` most similar training items (all of them if there are fewer) vote for their class with
    weight ``exp(similarity / temperature)``; the class with the largest total wins, the lowest class id on a tie.
    A low temperature lets the closest neighbour dominate, a high one approaches a plain majority vote. Test rows are
    scored `chunk` at a time, so memory grows with ``chunk * len(train_x)``, not with the test set.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise LookalikeError(f"k must be a whole number, 1 or more, got {k!r}")
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
        raise LookalikeError(f"the temperature must be a finite number above 0, got {temperature!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise LookalikeError(f"chunk must be a whole number, 1 or more, got {chunk!r}")
    split = _check_split(train_x, train_y, test_x, test_y)
    train = F.normalize(torch.from_numpy(split.train_x).float(), dim=1)
    test = F.normalize(torch.from_numpy(split.test_x).float(), dim=1)
    train_labels = torch.from_numpy(split.train_y)
    test_labels = torch.from_numpy(split.test_y)
    k = min(int(k), len(train))
    correct = 0
    for start in range(0, len(test), chunk):
        similarity = test[start : start + chunk] @ train.T
        top_sim, top_index = torch.topk(similarity, k, dim=1)
        # Shifting by each row's best similarity scales all its weights alike, so the vote is unchanged, and
        # exp cannot overflow however small the temperature.
        weights = torch.exp((top_sim - top_sim[:, :1]) / temperature)
        votes = torch.zeros(len(top_sim), split.classes, dtype=weights.dtype)
        votes.scatter_add_(1, train_labels[top_index], weights)
        correct += int((votes.argmax(dim=1) == test_labels[start : start + chunk]).sum())
    return correct / len(test)


def _fit_logistic(
    x: torch.Tensor, y: torch.Tensor, classes: int, weight_decay: float, max_iter: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight (classes x D) and bias of the L2-penalised multinomial logistic regression on `x`, `y`."""
    weight = torch.zeros(classes, x.shape[1], dtype=x.dtype, requires_grad=True)
    bias = torch.zeros(classes, dtype=x.dtype, requires_grad=True)
    # torch's default tolerance_change (1e-9 on the loss) can stop while the gradient is still ~1e-5; 1e-12 lets
    # it run to a gradient of ~1e-7 (tolerance_grad) for a few more cheap iterations.
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-7,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)  # one step runs up to max_iter iterations, stopping early once converged
    return weight.detach(), bias.detach()


def _check_split(train_x, train_y, test_x, test_y) -> _Split:
    """The inputs as float64 features and class indices, or a LookalikeError saying what is wrong with them."""
    train_x = _features(train_x, "train_x")
    test_x = _features(test_x, "test_x")
    if train_x.shape[1] != test_x.shape[1]:
        raise LookalikeError(
            f"train and test features differ in width: {train_x.shape[1]} and {test_x.shape[1]} dimensions"
        )
    train_y = _labels(train_y, "train_y", len(train_x))
    test_y = _labels(test_y, "test_y", len(test_x))
    known = np.unique(train_y)
    if len(known) < 2:
        raise LookalikeError(f"the training labels need at least 2 classes, found {len(known)}")
    unseen = np.setdiff1d(test_y, known)
    if len(unseen):
        shown = ", ".join(str(c) for c in unseen[:10]) + (", ..." if len(unseen) > 10 else "")
        raise LookalikeError(f"test labels include classes that never occur in the training labels: {shown}")
    return _Split(
        train_x=train_x,
        train_y=np.searchsorted(known, train_y).astype(np.int64),
        test_x=test_x,
        test_y=np.searchsorted(known, test_y).astype(np.int64),
        classes=len(known),
    )


def _features(x, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.ndim != 2:
        raise LookalikeError(f"{name} must be a 2-D array (items x dimensions), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise LookalikeError(f"{name} is empty (shape {array.shape})")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise LookalikeError(f"{name} must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise LookalikeError(
            f"{name} has {int(bad.sum())} NaN or infinite values, the first at row {row}, column {col}"
        )
    return array


def _labels(y, name: str, rows: int) -> np.ndarray:
    array = np.asarray(y)
    if array.ndim != 1:
        raise LookalikeError(f"{name} must be a 1-D array of class ids, got shape {array.shape}")
    if len(array) != rows:
        raise LookalikeError(f"{name} has {len(array)} labels for {rows} feature rows")
    if not np.issubdtype(array.dtype, np.integer):
        raise LookalikeError(f"{name} must hold integer class ids, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)
