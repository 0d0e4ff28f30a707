"""`snakemake demo`: the pipeline end to end on a small slice, with a table, a figure and a
short write-up in results/demo/."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from adamix.plan.paths import DEMO_OUTPUTS
from conftest import snakemake

RUNS = ["Cons+Cons", "AdaGrad+AdaGrad", "AdaDec+AdaDec", "AdaMix+Power"]


@pytest.fixture(scope="module")
def demo(pipeline, tmp_path_factory):
    """A copy of the finished test run, then `snakemake demo` (config.yaml's demo: exp1's
    runs at 0.01, seed 0, under the test config's epochs)."""
    workdir = tmp_path_factory.mktemp("demo") / "wf"
    shutil.copytree(pipeline, workdir, ignore=shutil.ignore_patterns("locks"))
    snakemake(workdir, "--cores", "2", "demo")
    return workdir


def test_the_demo_tabulates_each_run_s_last_epoch(demo):
    table = pd.read_csv(demo / DEMO_OUTPUTS["csv"])
    assert list(table["run"]) == RUNS
    for row in table.itertuples():
        job = demo / f"results/finetune/mnist/default/0.01/{row.run}/seed0/metrics.parquet"
        last = pd.read_parquet(job).iloc[-1]
        assert (row.epoch, row.test_rer_sse, row.diverged) == (
            last["epoch"], last["test_rer_sse"], last["diverged"]
        )  # fmt: skip
        assert row.seconds == last["cumulative_seconds"]


def test_the_demo_page_says_what_ran_and_shows_the_figure(demo):
    page = (demo / DEMO_OUTPUTS["writeup"]).read_text()
    table = pd.read_csv(demo / DEMO_OUTPUTS["csv"])
    best = table.loc[table["test_rer_sse"].idxmin()]
    assert "600 training and 100 test images" in page
    assert f"fine-tuned for {table['epoch'].max()} epochs" in page
    assert (
        f"The lowest test RER at the last epoch is `{best.run}`'s, {best.test_rer_sse:.2f}." in page
    )
    assert "![test RER by fine-tuning epoch](figure.png)" in page
    assert all(f"| {run}" in page for run in RUNS)
    assert (demo / DEMO_OUTPUTS["png"]).stat().st_size > 10_000


def test_a_demo_of_an_unknown_rule_is_refused_before_any_job(pipeline):
    result = snakemake(pipeline, "-n", "demo", "--config", "demo={runs: [Nope+Cons]}", check=False)
    assert result.returncode != 0
    assert (
        "config demo.runs: 'Nope+Cons' names no registered rule 'Nope'"
        in result.stdout + result.stderr
    )
