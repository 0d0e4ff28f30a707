"""`snakemake demo`: a first run of the whole pipeline in minutes, and its short write-up.

The demo fine-tunes a few runs (config `demo`; by default experiment 1's four) on a small
subset with one seed, through the same rules as the study: download, subset, pre-training,
fine-tuning. This module turns their metrics into results/demo/: a table, a figure and a
page that says what ran and what it measured. One seed on a small subset is a check that
the pipeline works, not a verdict on the paper's claims (the study's write-up is that).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from adamix.plan.config import TRAIN_IMAGES
from adamix.report.figures import experiment_figure, save_figure
from adamix.report.metrics import load_metrics
from adamix.report.render import render
from adamix.report.tables import final_rows, write_table

TEST_IMAGES = 10_000  # MNIST's and Fashion-MNIST's test sets
COLUMNS = ["run", "epoch", "test_rer_sse", "train_rer_sse", "diverged", "seconds"]

log = logging.getLogger(__name__)


def demo_table(df: pd.DataFrame, runs: list[str]) -> pd.DataFrame:
    """One row per run, in the config's order: its last epoch's test and training RER,
    whether it diverged, and its training seconds."""
    final = final_rows(df).set_index("run").loc[runs].reset_index()
    final["seconds"] = final["cumulative_seconds"]
    return final[COLUMNS]


def write_demo(inputs: Iterable[str | Path], out: Mapping, demo: Mapping) -> None:
    """The demo's table (CSV, Markdown, HTML), figure (PNG, PDF) and write-up from the
    per-job metrics `inputs` (rule demo_report; `out`: adamix.plan.paths.DEMO_OUTPUTS)."""
    inputs = list(inputs)
    df = load_metrics(inputs)
    runs, size = list(demo["runs"]), float(demo["size"])
    table = demo_table(df, runs)
    note = (
        f"Test and training RER (squared error summed over pixels, per image) at the last"
        f" epoch, seed {demo['seed']}; seconds: training time of all epochs."
    )
    write_table(table, out, title=f"demo: {demo['dataset']} at size {size:g}", note=note)
    experiment = {"dataset": demo["dataset"], "runs": runs, "sizes": [size]}
    fig = experiment_figure(df, "demo", {**experiment, "readings": [demo["reading"]]})
    fig.suptitle(f"demo: test RER by epoch, {demo['dataset']} at size {size:g}, one seed")
    save_figure(fig, out["png"], out["pdf"])
    finished = table[~table["diverged"]]
    text = render(
        "demo.md.j2",
        demo=demo,
        size=size,
        train_images=round(size * TRAIN_IMAGES),
        test_images=round(size * TEST_IMAGES),
        epochs=int(table["epoch"].max()),
        table=Path(out["md"]).read_text(encoding="utf-8").split("\n\n", 2)[-1].strip(),
        figure=Path(out["png"]).name,
        best=finished.loc[finished["test_rer_sse"].idxmin()] if len(finished) else None,
        diverged=list(table.loc[table["diverged"], "run"]),
        seconds=float(table["seconds"].sum()),
    )
    Path(out["writeup"]).write_text(text + "\n", encoding="utf-8")
    log.info("demo: %d jobs -> %s", len(inputs), out["writeup"])
