"""`snakemake publish`: the write-up and the reference go to docs/ whole or not at all."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from adamix.atomic import sha256_of
from adamix.plan.cells import tuning_reading
from adamix.plan.paths import GATHERED
from adamix.report.metrics import (
    REFERENCE_KEYS,
    REFERENCE_RATES,
    load_metrics,
    load_reference,
    write_metrics,
)
from adamix.report.publish import publish
from conftest import NO_SLURM, REPO, snakemake


def docs_files(workdir: Path) -> dict[str, bytes]:
    """Every file under docs/ (its path relative to docs/ -> its bytes)."""
    docs = workdir / "docs"
    return {str(p.relative_to(docs)): p.read_bytes() for p in docs.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def published_once(pipeline, tmp_path_factory) -> Path:
    """A copy of the finished test run whose config.yaml is the test config, so that the
    run is its own full default study, published once with `snakemake publish`."""
    workdir = tmp_path_factory.mktemp("published") / "wf"
    shutil.copytree(pipeline, workdir, ignore=shutil.ignore_patterns("locks"))
    # config.yaml := the test run's config, as Snakemake merged it (tests/config.yaml over
    # the workflow's config.yaml)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "tests" / "config.yaml").read_text()))
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(workdir, "publish", "--cores", "1", config=None)
    return workdir


@pytest.fixture
def published(published_once, tmp_path) -> Path:
    """A copy of the published run of its own, for a test that changes it (copy2: the
    same mtimes, so Snakemake finds the same state)."""
    return shutil.copytree(published_once, tmp_path / "wf", ignore=shutil.ignore_patterns("locks"))


def test_publish_writes_the_writeup_and_a_checked_reference(published_once):
    published = published_once
    docs = published / "docs"
    writeup = published / "results" / "reproduction"
    assert (docs / "reproduction.md").read_bytes() == (writeup / "reproduction.md").read_bytes()
    figures = sorted(p.name for p in (writeup / "figures").iterdir())
    assert figures and sorted(p.name for p in (docs / "figures").iterdir()) == figures
    assert len(load_reference(docs / "reference" / "metrics.parquet")) > 0
    listing = (writeup / "published.txt").read_text().splitlines()
    assert len(listing) == 1 + len(figures) + 2  # write-up, figures, reference, its sha256
    for line in listing:
        sha256, path = line.split("  ")
        assert sha256_of(published / path) == sha256
    assert not (docs / ".publish").exists()


def test_the_reference_holds_the_tuning_search_and_every_rows_rate(published_once):
    """Each search job of results/tuning/search.csv (one per reading, run and rate, at the
    search seed) is in the reference as role "search", its lr the grid rate its reading
    names and its final validation RER the one the selection read; every other row has
    its job's rate, and the readers (load_reference) see the cells alone."""
    published = published_once
    config = yaml.safe_load((published / "config.yaml").read_text())
    tuning, epochs = config["tuning"], config["finetune"]["epochs"]
    path = published / "docs" / "reference" / "metrics.parquet"
    everything = load_reference(path, search=True)
    assert set(everything["role"]) == {"experiment", "tuned", "library", "search"}
    search = everything[everything["role"] == "search"].assign(
        run=lambda df: df["weight_rule"] + "+" + df["bias_rule"]
    )
    table = pd.read_csv(published / "results" / "tuning" / "search.csv")
    assert len(table) == len(tuning["readings"]) * len(tuning["runs"]) * len(tuning["rates"])
    assert len(search.groupby(["reading", "run"])) == len(table)
    for row in table.itertuples():
        job = search[(search["reading"] == tuning_reading(row.reading, row.rate))
                     & (search["run"] == row.run)]  # fmt: skip
        assert set(job["seed"]) == {tuning["search_seed"]}
        assert set(job["lr"]) == {row.rate} and row.rate in tuning["rates"]
        assert (job["dataset"] == tuning["dataset"]).all()
        assert np.allclose(job["size"], tuning["size"])
        if math.isfinite(row.val_rer):
            final = job.loc[job["epoch"] == epochs, "val_rer_sse"].item()
            assert final == pytest.approx(row.val_rer, rel=1e-6)  # float32
    cells = load_reference(path)
    assert len(cells) == len(everything) - len(search) and "search" not in set(cells["role"])
    rated = ["reading", "weight_rule", "bias_rule", "lr"]  # each cell's rate, as its job ran
    gathered = load_metrics(published / p for p in GATHERED)[rated].drop_duplicates()
    pd.testing.assert_frame_equal(
        cells[rated].drop_duplicates().sort_values(rated, ignore_index=True),
        gathered.sort_values(rated, ignore_index=True),
    )
    tuned = cells[cells["role"] == "tuned"]
    assert not tuned.empty
    assert (tuned["lr"] == tuned["reading"].str.split("~lr").str[1].astype(float)).all()


def test_the_reference_keeps_the_weights_rates_the_discussion_cites(published_once):
    """Every row of the reference carries its job's lr_weight_mean and lr_weight_min at
    that epoch (float32), as the gathered metrics have them."""
    path = published_once / "docs" / "reference" / "metrics.parquet"
    cells = load_reference(path)
    keys = [*REFERENCE_KEYS, "epoch"]
    gathered = load_metrics(published_once / p for p in GATHERED)[keys + REFERENCE_RATES]
    both = cells.merge(gathered.drop_duplicates(keys), on=keys, suffixes=("", "_job"))
    assert len(both) == len(cells) and cells[REFERENCE_RATES].notna().any().all()
    for rate in REFERENCE_RATES:
        assert cells[rate].dtype == np.float32
        np.testing.assert_array_equal(both[rate], both[f"{rate}_job"].astype(np.float32))


def test_a_failed_publish_leaves_the_published_writeup_whole(published):
    before = docs_files(published)
    writeup = published / "results" / "reproduction" / "reproduction.md"
    writeup.write_text(writeup.read_text() + "\nA new version.\n")
    (published / "docs" / ".publish").write_text("in the way")  # staging cannot start
    result = snakemake(published, "publish", "--cores", "1", config=None, check=False)
    assert result.returncode != 0
    (published / "docs" / ".publish").unlink()
    assert docs_files(published) == before


def test_an_interrupted_publish_leaves_every_file_whole(published):
    """Ctrl-C while publish runs: each docs/ file is the old one or the new one, whole."""
    before = docs_files(published)
    writeup = published / "results" / "reproduction" / "reproduction.md"
    writeup.write_text(writeup.read_text() + "\nA new version.\n")
    env = {**os.environ, "PATH": f"{NO_SLURM}{os.pathsep}{os.environ['PATH']}"}
    cmd = [sys.executable, "-m", "snakemake", "publish", "--cores", "1"]
    proc = subprocess.Popen(
        cmd, cwd=published, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    staging, deadline = published / "docs" / ".publish", time.monotonic() + 120
    while proc.poll() is None and not staging.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: the whole process group
    proc.wait(timeout=120)
    after = docs_files(published)
    assert set(after) == set(before)
    new = writeup.read_bytes()
    for name, blob in after.items():
        assert blob == before[name] or (name == "reproduction.md" and blob == new), name


def test_publish_stages_everything_before_it_replaces_anything(tmp_path):
    docs = tmp_path / "docs"
    (docs / "figures").mkdir(parents=True)
    old = {"reproduction.md": b"old", "figures/a.png": b"old a"}
    for name, blob in old.items():
        (docs / name).write_bytes(blob)
    (tmp_path / "new.md").write_text("new")
    copies = [(str(tmp_path / "new.md"), str(docs / "reproduction.md")),
              (str(tmp_path / "missing.png"), str(docs / "figures/a.png"))]  # fmt: skip
    with pytest.raises(FileNotFoundError, match="missing.png"):
        reference = str(docs / "reference/metrics.parquet")
        publish(copies, [], reference, str(tmp_path / "list"), docs=str(docs))
    assert docs_files(tmp_path) == old and not (tmp_path / "list").exists()


def test_publish_refuses_jobs_computed_by_two_versions_of_the_code(pipeline, tmp_path):
    df = load_metrics([pipeline / "results" / "metrics.parquet"])
    assert df["code"].nunique() == 1  # one version computed the test run
    df.loc[df["weight_rule"] == "Cons", "code"] = "0ld0c0de"  # the Cons jobs: older code
    metrics = tmp_path / "mixed.parquet"
    write_metrics(df.to_dict("records"), metrics)
    docs = tmp_path / "docs"
    docs.mkdir()
    with pytest.raises(ValueError, match=r"2 versions of the numeric code: .*0ld0c0de"):
        reference = str(docs / "reference/metrics.parquet")
        publish([], [str(metrics)], reference, str(tmp_path / "l"), docs=str(docs))
    assert not any(docs.iterdir()) and not (tmp_path / "l").exists()
