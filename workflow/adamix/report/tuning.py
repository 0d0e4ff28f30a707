"""Beyond the paper: a tuned comparison. Every run of `tuning.runs` gets its initial rate
(weights and biases alike) chosen from the same grid with the same budget: one search job
per rate at one seed, the rate with the lowest validation RER at the final epoch wins, and
that rate reruns with every seed of the study and is reported on the test set.

The selection reads the validation columns of the search jobs only (SEARCH_COLUMNS): the
test set decides nothing. Torch-free, like the rest of the aggregation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from adamix.plan.cells import oneshot_reading, tuning_reading
from adamix.report.figures import experiment_figure, save_figure
from adamix.report.metrics import load_metrics
from adamix.report.palette import run_colours
from adamix.report.stats import describe, direction, paired
from adamix.report.tables import final_rows, write_table

# What the selection reads of a search job's metrics: no test column.
SEARCH_COLUMNS = ["epoch", "val_rer_sse", "diverged"]
REFERENCE = "AdaMix+Power"  # the paper's proposal: every tuned run is compared with it

log = logging.getLogger(__name__)


def search_results(inputs: Sequence[str | Path], cells: Sequence, epoch: int) -> pd.DataFrame:
    """Per search job (cells: its [reading, run, rate], in the order of `inputs`): the
    validation RER at `epoch` (+inf when the job diverged or its RER is not finite)."""
    rows = []
    for path, (reading, run, rate) in zip(inputs, cells, strict=True):
        df = pq.read_table(path, columns=SEARCH_COLUMNS).to_pandas()
        last = df[df["epoch"] <= epoch].iloc[-1]
        val = float(last["val_rer_sse"])
        failed = bool(df["diverged"].any()) or not math.isfinite(val) or last["epoch"] != epoch
        rows.append(
            {"reading": reading, "run": run, "rate": float(rate),
             "val_rer": math.inf if failed else val}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=["reading", "run", "rate", "val_rer"])


def select(search: pd.DataFrame, rates: Sequence[float]) -> pd.DataFrame:
    """Per reading and run: the rate with the lowest validation RER (the smaller rate on a
    tie), and `edge`: True when it is the smallest or largest rate of the grid (the best
    rate may lie outside it). A run that diverged at every rate has no rate (NaN)."""
    rows = []
    for (reading, run), group in search.groupby(["reading", "run"], sort=False):
        group = group.sort_values("rate", kind="stable")
        best = group.loc[group["val_rer"].idxmin()]
        found = math.isfinite(best["val_rer"])
        rows.append(
            {
                "reading": reading,
                "run": run,
                "rate": best["rate"] if found else math.nan,
                "val_rer": best["val_rer"] if found else math.nan,
                "edge": found and best["rate"] in (min(rates), max(rates)),
            }
        )
    return pd.DataFrame(rows, columns=["reading", "run", "rate", "val_rer", "edge"])


def write_selection(
    inputs: Iterable[str | Path], out: Mapping, cells: Sequence, rates: Sequence, epoch: int
) -> pd.DataFrame:
    """Rule tuning_select: the search results (out["search"]) and the chosen rates
    (out["selected"]), both CSV."""
    search = search_results(list(inputs), cells, epoch)
    search.to_csv(out["search"], index=False)
    selected = select(search, rates)
    selected.to_csv(out["selected"], index=False)
    for row in selected.itertuples():
        flag = " (edge of the grid)" if row.edge else ""
        log.info("%s, %s: rate %g, val RER %.4g%s", row.reading, row.run, row.rate,
                 row.val_rer, flag)  # fmt: skip
    return selected


# ------------------------------------------------------------------ the tuned table

TUNED_COLUMNS = [
    "reading", "run", "choice", "rate", "edge", "val_rer", "n_seeds", "n_diverged", "rer_mean",
    "rer_ci95_low", "rer_ci95_high", "rank", f"diff_vs_{REFERENCE}", "diff_ci95_low",
    "diff_ci95_high", f"vs_{REFERENCE}",
]  # fmt: skip


def tuned_table(df: pd.DataFrame, selected: pd.DataFrame, epoch: int) -> pd.DataFrame:
    """Per reading and tuned run: its chosen rate, our test RER at `epoch` over seeds (mean,
    95% t-CI, diverged seeds left out), its rank within the reading (1: lowest mean), and
    the per-seed difference to tuned AdaMix+Power (mean, 95% t-CI) with its direction:
    "lower", "higher" or "unclear" (adamix.report.stats.direction). Then the one-shot rows (choice
    "library"): each modern run at its library's default rate, unranked, compared with
    tuned AdaMix+Power alike. `df`: the rerun jobs' metrics, their `reading` the tuning
    reading of their rate (tuning_reading) or the one-shot name (oneshot_reading)."""
    final = final_rows(df, epoch)
    cells = [(sel.reading, sel.run, "tuned", tuning_reading(sel.reading, sel.rate), sel)
             for sel in selected.itertuples() if math.isfinite(sel.rate)]  # fmt: skip
    oneshot = final[final["reading"].str.endswith(oneshot_reading(""))]
    for name, run in oneshot[["reading", "run"]].drop_duplicates().itertuples(index=False):
        cells.append((name.split("~")[0], run, "library", name, None))
    rows = []
    for reading, run, choice, name, sel in cells:
        jobs = final[(final["reading"] == name) & (final["run"] == run)]
        stats = describe(jobs["rer"])
        rows.append(
            {"reading": reading, "run": run, "choice": choice,
             "rate": sel.rate if sel else jobs["lr"].iloc[0],
             "edge": sel.edge if sel else False, "val_rer": sel.val_rer if sel else math.nan,
             "n_seeds": len(jobs), "n_diverged": int(jobs["failed"].sum()),
             "rer_mean": stats["mean"], "rer_ci95_low": stats["ci95_low"],
             "rer_ci95_high": stats["ci95_high"], "_per_seed": jobs.set_index("seed")["rer"]}
        )  # fmt: skip
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=TUNED_COLUMNS)
    tuned = table["choice"] == "tuned"
    table.loc[tuned, "rank"] = table[tuned].groupby("reading")["rer_mean"].rank(method="min")
    table["rank"] = table["rank"].astype("Int64")
    for i, row in table.iterrows():
        ref = table[(table["reading"] == row["reading"]) & (table["run"] == REFERENCE) & tuned]
        if ref.empty or (row["run"] == REFERENCE and row["choice"] == "tuned"):
            continue
        p = paired(row["_per_seed"], ref["_per_seed"].iloc[0])
        diff = describe(p.finite)
        table.loc[i, [f"diff_vs_{REFERENCE}", "diff_ci95_low", "diff_ci95_high"]] = (
            diff["mean"], diff["ci95_low"], diff["ci95_high"],
        )  # fmt: skip
        table.loc[i, f"vs_{REFERENCE}"] = {-1: "lower", 1: "higher", 0: "unclear"}[direction(p)]
    return table.reindex(columns=TUNED_COLUMNS)


def write_tuned_table(
    inputs: Iterable[str | Path], out: Mapping, selected: str | Path, epoch: int
) -> pd.DataFrame:
    """Rule tuning_table: tuned_table of the rerun jobs, as CSV, Markdown and HTML."""
    table = tuned_table(load_metrics(list(inputs)), pd.read_csv(selected), epoch)
    write_table(
        table,
        out,
        title=f"Tuned comparison: test RER at fine-tuning epoch {epoch}, each run at its best rate",
        note=(
            "rate: the initial rate with the lowest validation RER at the final epoch of the"
            " search (one seed; edge: the smallest or largest rate of the grid). Then that rate"
            " with every seed: test rer_sse, mean and 95% t-CI over seeds (diverged seeds left"
            f" out), rank within the reading, and the per-seed difference to tuned {REFERENCE}"
            " (mean and 95% t-CI; lower/higher: reliably so, as in the claims). choice"
            " library: the one-shot comparison, a modern run at its library's default rate"
            " (torch.optim's), untuned and unranked."
        ),
    )
    return table


# ------------------------------------------------------------------ sensitivity figure


def sensitivity_figure(search: pd.DataFrame) -> Figure:
    """Validation RER at the final epoch against the initial rate (log x), one line per
    run in its colour (adamix.report.palette), one panel per reading; a diverged rate is
    a gap in its line and a cross of its colour at the top of the panel."""
    readings = list(dict.fromkeys(search["reading"]))
    fig = Figure(figsize=(8.0 * len(readings), 5.0), dpi=120, layout="constrained")
    axes = fig.subplots(1, len(readings), sharey=True, squeeze=False).ravel()
    data = search.assign(val_rer=search["val_rer"].where(np.isfinite(search["val_rer"])))
    runs = list(dict.fromkeys(search["run"]))
    for ax, reading in zip(axes, readings, strict=True):
        panel = data[data["reading"] == reading]
        sns.lineplot(
            panel, x="rate", y="val_rer", hue="run", hue_order=runs, palette=run_colours(runs),
            marker="o", ax=ax,
        )  # fmt: skip
        diverged = panel[panel["val_rer"].isna()]
        top = ax.get_xaxis_transform()  # x in data, y in axes: 1 is the top
        for run, rate in zip(diverged["run"], diverged["rate"], strict=True):
            ax.plot([rate], [0.98], marker="x", markersize=9, color=run_colours([run])[run],
                    transform=top, clip_on=False, linestyle="none")  # fmt: skip
        if len(diverged):
            ax.text(0.01, 0.93, "x: diverged at this rate", transform=ax.transAxes,
                    fontsize="small", color="grey")  # fmt: skip
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))  # 60, not 6 x 10^1
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.set_title(f"reading: {reading}")
        ax.set_xlabel("initial learning rate (weights and biases)")
        ax.set_ylabel("validation RER at the final epoch (one seed)")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Tuning: sensitivity of each run to its initial rate (ours)")
    return fig


def write_sensitivity_figure(search: str | Path, out: Mapping) -> None:
    """Rule tuning_figure: the sensitivity figure of the search results, PNG and PDF."""
    save_figure(sensitivity_figure(pd.read_csv(search)), out["png"], out["pdf"])


# ------------------------------------------------------------------ learning curves


def base_reading(df: pd.DataFrame) -> pd.DataFrame:
    """The tuned runs' rows, each tuning reading (default~lr0.003) named by its base reading
    (default): one set of rows per reading, each run at its own rate. The one-shot rows
    (default~library) are left out."""
    df = df[df["reading"].str.contains("~lr", regex=False)]
    return df.assign(reading=df["reading"].str.split("~").str[0])


def write_learning_curves(
    inputs: Iterable[str | Path], out: Mapping, tuning: dict, epoch: int
) -> None:
    """Rule tuning_curves: the tuned runs' test RER per epoch (mean over seeds, 95% band),
    one line per run at its chosen rate, one panel per reading; PNG and PDF."""
    df = base_reading(load_metrics(list(inputs)))
    experiment = {"runs": tuning["runs"], "sizes": [tuning["size"]],
                  "readings": tuning["readings"], "dataset": tuning["dataset"]}  # fmt: skip
    fig = experiment_figure(df, "tuning", experiment, epoch=epoch)
    fig.suptitle("Tuned runs, each at the rate its search chose: test RER per epoch")
    save_figure(fig, out["png"], out["pdf"])
