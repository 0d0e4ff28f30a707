"""Fixtures that run the real pipeline (Snakemake, MNIST, torch) on the tiny test config."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
# Test this checkout's adamix package, whichever copy pip installed last.
sys.path.insert(0, str(REPO / "workflow"))
TEST_CONFIG = REPO / "tests" / "config.yaml"

# The Slurm executor plugin runs `scontrol show config` when Snakemake imports it; where
# Slurm is installed but its daemons are stopped (CI, between Slurm tests) that waits 10 s
# per Snakemake call. The local runs of these tests put a `scontrol` that fails at once
# first on PATH (tests/test_slurm.py runs the real one).
NO_SLURM = Path(tempfile.mkdtemp(prefix="adamix-no-slurm-"))
(NO_SLURM / "scontrol").write_text("#!/bin/sh\nexit 1\n")
(NO_SLURM / "scontrol").chmod(0o755)


def copy_workflow(dest: Path) -> Path:
    """A fresh working directory holding the workflow (not results/) of this checkout."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, dest / name)
    for name in ("workflow", "envs", "tests"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    # The hand-written part of docs/reproduction.md; the rest of docs/ is generated.
    (dest / "docs").mkdir(exist_ok=True)
    shutil.copy(REPO / "docs" / "reproduction_discussion.md", dest / "docs")
    return dest


def snakemake(
    workdir: Path, *args: str, config: str | None = "tests/config.yaml", check: bool = True
) -> subprocess.CompletedProcess:
    """Run the real Snakemake CLI in `workdir`, on the test config unless `config` says otherwise
    (None: the workflow's own config.yaml alone)."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    if config is not None:
        cmd += ["--configfile", config]
    env = {**os.environ, "PATH": f"{NO_SLURM}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (`-n 2 --dist loadgroup`, pyproject.toml) each module goes whole to
    one worker, so that its module fixtures run once; the `pipeline` run is shared."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Path:
    """The whole test config run once through `snakemake --cores 2` (download to figures),
    once per test session: under pytest-xdist the first worker to ask runs it, holding a
    file lock, and the others wait for it and share it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, above each worker's own
    workdir, done = shared / "pipeline" / "wf", shared / "pipeline" / "done"
    with FileLock(shared / "pipeline.lock"):
        if not done.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a run that failed in another worker
            snakemake(copy_workflow(workdir), "--cores", "2")
            done.touch()
    return workdir


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A folder on a file system of its own, 256 KiB of tmpfs: a full or read-only disk for
    real (`mount -o remount,ro` makes it read-only). Mounting takes root."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs takes root")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def fill(folder: Path) -> None:
    """Write to `folder` until its file system is full."""
    with open(folder / "filler", "wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 512)
