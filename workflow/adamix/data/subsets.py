"""The canonical data file, its checks, and the nested, class-stratified subsets.

The paper trains on fractions of MNIST (the "1/10" set is 6000 training and 1000
test images; 3/10, 6/10 and 1 scale both). Fashion-MNIST (Xiao, Rasul & Vollgraf 2017)
has the same format: 28x28 uint8 images, 60000/10000, 10 classes. Everything downstream
reads one canonical ``.npz`` per data set (written by adamix.data.download):

=============== ============== =====
key             shape          dtype
=============== ============== =====
train_images    (60000, 784)   uint8
train_labels    (60000,)       uint8
test_images     (10000, 784)   uint8
test_labels     (10000,)       uint8
=============== ============== =====

Pixels are the raw 0..255 bytes of the IDX files, rows in the files' order. A
subset file has the same four keys plus ``train_index`` and ``test_index`` (int64
rows of the canonical file, ascending), and, below the full size, a validation split
``val_images``, ``val_labels``, ``val_index``: training images outside the subset, for
tuning decisions (the test set never decides anything).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from adamix.atomic import atomic

N_TRAIN = 60000
N_TEST = 10000
PIXELS = 28 * 28
KEYS = ("train_images", "train_labels", "test_images", "test_labels")
INDEX_KEYS = ("train_index", "test_index")
VAL_KEYS = ("val_images", "val_labels", "val_index")  # subsets below the full size


# ------------------------------------------------------------- canonical file


def check_arrays(arrays: Mapping[str, np.ndarray], *, full: bool) -> None:
    """Raise ValueError unless ``arrays`` has the canonical keys, dtypes and shapes.

    ``full`` also demands the real MNIST sizes (60000 train, 10000 test).
    """
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise ValueError(f"data arrays lack keys {missing}")
    splits = ("train", "test", "val") if "val_images" in arrays else ("train", "test")
    for split in splits:
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise ValueError(f"{split}: dtypes {x.dtype}/{y.dtype}, expected uint8/uint8")
        if x.ndim != 2 or x.shape[1] != PIXELS:
            raise ValueError(f"{split}_images has shape {x.shape}, expected (n, {PIXELS})")
        if y.shape != (x.shape[0],):
            raise ValueError(f"{split}: {x.shape[0]} images but labels of shape {y.shape}")
        if y.size and int(y.max()) > 9:
            raise ValueError(f"{split}_labels has label {int(y.max())}, expected 0..9")
        if blank := int((~x.any(axis=1)).sum()):  # a zeroed file: every image is blank
            raise ValueError(f"{split}_images: {blank} blank images (all pixels 0)")
    for split, n_full in (("train", N_TRAIN), ("test", N_TEST)):
        if full and arrays[f"{split}_images"].shape[0] != n_full:
            n = arrays[f"{split}_images"].shape[0]
            raise ValueError(f"{split}: {n} images, the data set has {n_full}")


def write_npz_atomic(out_path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``out_path`` via a temp file in the same directory and os.replace.

    A crash or an exception leaves either the old file or none, never a partial one.
    """
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with atomic(out_path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())


def load_subset(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a subset file (or of the canonical file), validated: the one way jobs
    read their data."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        check_arrays(arrays, full=False)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path}: not a valid subset file ({error}); rule make_subset (rule download for"
            " the canonical file) makes it: delete it and run again to make it anew"
        ) from None
    for split, key in zip(("train", "test", "val"), (*INDEX_KEYS, "val_index"), strict=True):
        if key in arrays:
            idx = arrays[key]
            if idx.dtype != np.int64 or idx.shape != arrays[f"{split}_labels"].shape:
                raise ValueError(f"{path}: {key} has {idx.dtype} {idx.shape}")
    return arrays


# ------------------------------------------------------------------- subsets


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(len(labels))`` whose every prefix is class-stratified.

    Within each class c (N_c examples) a seeded shuffle ranks the examples; the
    k-th gets key (k + 0.5) / N_c, and all examples are sorted by key (ties broken
    by a seeded random order of the classes). A prefix of length n then holds
    about n * N_c / N of class c: it rounds n * N_c / N to a neighbour
    (Sainte-Lague apportionment), for every n at once, so prefixes are nested.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {labels.shape}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    tie = np.empty(labels.shape[0], dtype=np.int64)
    key = np.empty(labels.shape[0], dtype=np.float64)
    for c, rank in zip(classes, rng.permutation(len(classes)), strict=True):
        members = rng.permutation(np.flatnonzero(labels == c))
        key[members] = (np.arange(members.size) + 0.5) / members.size
        tie[members] = rank
    return np.lexsort((tie, key)).astype(np.int64)  # last key is the primary one


def nested_subset_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The indices (int64, ascending) of a class-stratified subset of ``n`` of ``labels``.

    For a fixed ``seed`` a smaller subset is always inside a larger one: both are
    prefixes of ``stratified_order(labels, seed)``. Ascending order keeps MNIST's
    own order, so n = len(labels) is the identity.
    """
    if not 0 <= n <= len(labels):
        raise ValueError(f"n must be in 0..{len(labels)}, got {n}")
    return np.sort(stratified_order(labels, seed)[:n])


def make_subset(
    mnist_path: str | os.PathLike, out_path: str | os.PathLike, *, fraction: float, seed: int
) -> dict:
    """Write the ``fraction`` subset of the canonical file to ``out_path``; its counts.

    round(fraction * N) images of both the training and the test set (0.1 -> 6000
    and 1000), nested across fractions and stratified by class for a fixed ``seed``.
    The file has the canonical keys plus ``train_index``/``test_index`` (int64 rows
    of the canonical file, ascending).

    Validation: as many training images as the subset has test images, the LAST ones of
    the same stratified order of the training set (so class-stratified as well), ascending:
    outside this subset and every smaller one, the same images whatever the training
    seed. A subset that leaves too few training images outside it (the full set) has none.

    ``seed`` is config ``data.subset_seed`` for the subsets every training seed shares
    (rule make_subset); a reading with ``subset: per_seed`` passes the seed derived from
    the training seed (rule make_seed_subset, adamix.plan.config.subset_seed_of), whose
    subsets (and validation split) are nested and stratified in the same way.
    """
    try:
        ok = 0 < float(fraction) <= 1  # False for nan
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    full = load_subset(mnist_path)
    out: dict[str, np.ndarray] = {}
    counts: dict = {"fraction": float(fraction), "seed": int(seed)}
    for split in ("train", "test"):
        labels = full[f"{split}_labels"]
        n = round(fraction * labels.shape[0])
        if n == 0:
            raise ValueError(f"fraction {fraction} leaves no {split} images")
        idx = nested_subset_indices(labels, n, seed)
        out[f"{split}_images"] = full[f"{split}_images"][idx]
        out[f"{split}_labels"] = labels[idx]
        out[f"{split}_index"] = idx
        counts[split] = int(n)
        counts[f"{split}_per_class"] = np.bincount(labels[idx], minlength=10).tolist()
    labels, n_val = full["train_labels"], counts["test"]
    if counts["train"] + n_val <= labels.shape[0]:
        idx = np.sort(stratified_order(labels, seed)[labels.shape[0] - n_val :])
        out["val_images"], out["val_labels"], out["val_index"] = (
            full["train_images"][idx], labels[idx], idx,
        )  # fmt: skip
        counts["val"] = int(n_val)
    check_arrays(out, full=False)
    write_npz_atomic(out_path, {k: out[k] for k in (*KEYS, *INDEX_KEYS, *VAL_KEYS) if k in out})
    return counts
