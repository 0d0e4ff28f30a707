"""The classic ``mnist.pkl.gz`` (MNIST's offline copy, adamix.data.download), read without
running its code.

The file is a gzip pickle of ((train x, train y), (valid x, valid y), (test x, test y)),
the pixels float32 byte/256. A pickle runs code when loaded, so it is read only after its
sha256 matched, and only through ``RestrictedUnpickler``, which knows four numpy names.
"""

from __future__ import annotations

import gzip
import io
import pickle

import numpy as np


# The only globals a numpy ndarray pickle needs; numpy 2 moved numpy.core to numpy._core.
def _allowed_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that can build numpy arrays and nothing else.

    Any other global (``os.system``, ``builtins.eval``, ...) raises
    pickle.UnpicklingError before it is imported.
    """

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name}: only numpy arrays may be unpickled"
            ) from None


def _uint8_pixels(x: object, what: str) -> np.ndarray:
    """float32 pixels holding byte/256 exactly -> the bytes; anything else raises ValueError."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 2:
        raise ValueError(f"offline {what}: expected a float32 matrix, got {type(x).__name__}")
    v = x.astype(np.float64) * 256.0  # exact: a power of two
    if not np.array_equal(v, np.floor(v)) or v.min() < 0 or v.max() > 255:
        raise ValueError(f"offline {what}: pixels are not exact multiples k/256, k in 0..255")
    return v.astype(np.uint8)


def _uint8_labels(y: object, what: str) -> np.ndarray:
    if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"offline {what}: expected an integer vector, got {type(y).__name__}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"offline {what}: labels outside 0..9")
    return y.astype(np.uint8)


def arrays_from_pickle_gz(blob: bytes) -> dict[str, np.ndarray]:
    """The canonical arrays from the classic mnist.pkl.gz 3-way split (train+valid = train)."""
    data = RestrictedUnpickler(io.BytesIO(gzip.decompress(blob)), encoding="latin1").load()
    try:
        (tx, ty), (vx, vy), (sx, sy) = data
    except (TypeError, ValueError):
        raise ValueError("offline pickle is not ((x, y), (x, y), (x, y))") from None
    return {
        "train_images": np.concatenate(
            [_uint8_pixels(tx, "train x"), _uint8_pixels(vx, "valid x")]
        ),
        "train_labels": np.concatenate(
            [_uint8_labels(ty, "train y"), _uint8_labels(vy, "valid y")]
        ),
        "test_images": _uint8_pixels(sx, "test x"),
        "test_labels": _uint8_labels(sy, "test y"),
    }
