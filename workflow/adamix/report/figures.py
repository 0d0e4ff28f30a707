"""Figures 4-8 of He & Li 2016 redrawn from our metrics, with the paper's epoch-50 values.

Figures are built on matplotlib.figure.Figure directly (no pyplot): they render with the
Agg backend whatever backend is configured, and leave no global state behind.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from adamix.report.metrics import load_metrics
from adamix.report.palette import run_colours, run_style
from adamix.report.paper import applies, paper_rer, paper_seconds
from adamix.report.stats import geometric_mean, log_interval, t_interval
from adamix.report.tables import (
    BASELINE,
    select_experiment,
    walltime_per_seed,
    write_walltime_table,
)
from adamix.report.timing import measured, noise_floor

DPI = 120
PANEL = (8.0, 5.0)  # inches per panel: 960 x 600 pixels at DPI
MAX_COLUMNS = 3  # panels (readings) per row
STAR_DODGE = 0.4  # epochs between neighbouring stars of the paper's values
MARK_EVERY = 5  # the paper reports and plots epochs 5, 10, ..., 50
PAPER_EPOCH = 50
YLABEL = "test RER (squared error summed over pixels, per image)"

log = logging.getLogger(__name__)


def figure_pixels(fig: Figure) -> tuple[int, int]:
    """(width, height) in pixels of `fig` saved by save_figure."""
    width, height = fig.get_size_inches()
    return round(width * DPI), round(height * DPI)


def save_figure(fig: Figure, *paths: str | Path) -> None:
    """Save at DPI to each path; the format follows the suffix (PNG, PDF, SVG)."""
    for path in paths:
        metadata = {"CreationDate": None} if str(path).endswith(".pdf") else None
        fig.savefig(path, dpi=DPI, metadata=metadata)


def _line_styles(experiment: dict, label: Callable[[str, float], str]) -> dict[str, dict]:
    """{line: color and linestyle}: a run's own (adamix.report.palette); with several
    data sizes (exp5), colour by size and line style by run."""
    runs, sizes = list(experiment["runs"]), [float(s) for s in experiment["sizes"]]
    if len(sizes) == 1:
        return {label(r, sizes[0]): run_style(r) for r in runs}
    colours = sns.color_palette("viridis", len(sizes)).as_hex()[::-1]  # light: least data
    dashes = ["-", "--", ":", "-."]
    return {
        label(r, s): {"color": colours[j], "linestyle": dashes[i % len(dashes)]}
        for i, r in enumerate(runs)
        for j, s in enumerate(sizes)
    }


def _line_label(experiment: dict) -> Callable[[str, float], str]:
    """How to name one line: by its run, its data size (exp5), or both."""
    many_runs, many_sizes = len(experiment["runs"]) > 1, len(experiment["sizes"]) > 1
    if many_sizes and not many_runs:
        return lambda run, size: f"size {size:g}"
    if many_sizes:
        return lambda run, size: f"{run}, size {size:g}"
    return lambda run, size: run


def experiment_figure(
    df: pd.DataFrame, name: str, experiment: dict, epoch: int | None = None
) -> Figure:
    """Test RER against fine-tuning epoch (from epoch 1, as the paper plots from 5), one
    line per run (per data size in exp5): mean over seeds with a 95% t-CI band, dots at
    epochs 5, 10, ..., and the paper's epoch-50 value as a star of the line's colour at
    epoch 50 (at our last epoch when we ran fewer). One panel per reading.
    `df`: per-epoch metrics of any jobs (adamix.report.metrics.load_metrics)."""
    label = _line_label(experiment)
    data = select_experiment(df, experiment)
    last = math.inf if epoch is None else epoch
    data = data[(data["epoch"] >= 1) & (data["epoch"] <= last)]
    rer = data["test_rer_sse"].astype(float)
    data = data.assign(
        rer=rer.where(np.isfinite(rer)),  # a diverged last epoch is a gap, not +inf
        line=[label(r, s) for r, s in zip(data["run"], data["size"], strict=True)],
    )
    lines = [label(r, float(s)) for r in experiment["runs"] for s in experiment["sizes"]]
    styles = _line_styles(experiment, label)
    paper = {
        label(r, float(s)): paper_rer(name, r, s) if applies(experiment) else math.nan
        for r in experiment["runs"]
        for s in experiment["sizes"]
    }

    readings = list(experiment["readings"])
    cols = min(len(readings), MAX_COLUMNS)
    rows = math.ceil(len(readings) / cols)
    fig = Figure(figsize=(PANEL[0] * cols, PANEL[1] * rows), dpi=DPI, layout="constrained")
    # each panel its own y-axis: a shared one squashes the readings that end close together
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, reading in zip(axes, readings, strict=False):
        _rer_panel(ax, data[data["reading"] == reading], lines, styles, paper)
        ax.set_title(f"reading: {reading}")
    for ax in axes[len(readings) :]:  # the empty places of the last row
        ax.set_visible(False)
    on = "" if applies(experiment) else f" on {experiment['dataset']}"
    cf = f" (cf. paper fig. {experiment['figure']})" if "figure" in experiment else ""
    fig.suptitle(f"{name}{on}: ours{cf}")
    return fig


def _dash(style: dict):
    """seaborn's dashes of a matplotlib linestyle: "" for a solid line."""
    return {"-": "", "--": (4, 2), ":": (1, 2), "-.": (4, 2, 1, 2)}[style["linestyle"]]


def _rer_panel(ax, data: pd.DataFrame, lines: list, styles: dict, paper: dict) -> None:
    colours = {line: styles[line]["color"] for line in lines}
    if not data.empty:
        sns.lineplot(
            data, x="epoch", y="rer", hue="line", hue_order=lines, palette=colours,
            style="line", style_order=lines, dashes={k: _dash(v) for k, v in styles.items()},
            errorbar=t_interval, legend=False, ax=ax,
        )  # fmt: skip
    means = data.groupby(["line", "epoch"])["rer"].mean()
    last = data["epoch"].max() if not data.empty else PAPER_EPOCH
    star_x = PAPER_EPOCH if last >= PAPER_EPOCH else last
    starred = [line for line in lines if math.isfinite(paper[line])]
    # the paper's values side by side around the epoch, so that close ones do not overlap
    dodge = {line: (i - (len(starred) - 1) / 2) * STAR_DODGE for i, line in enumerate(starred)}
    for line in lines:
        if line in means.index.get_level_values("line"):
            m = means.loc[line]
            m = m[m.index % MARK_EVERY == 0]
            ax.plot(m.index, m.to_numpy(), "o", color=colours[line], markersize=5)
        if math.isfinite(paper[line]):
            ax.plot(
                [star_x + dodge[line]], [paper[line]], marker="*", markersize=15,
                color=colours[line], markeredgecolor="black", markeredgewidth=0.7,
                linestyle="none", zorder=5,
            )  # fmt: skip
    n_seeds = data.groupby(["line"])["seed"].nunique().max() if not data.empty else 0
    handles = [Line2D([], [], **styles[line], label=line) for line in lines]
    handles.append(
        Line2D([], [], color="grey", marker="o", markersize=5,
               label=f"ours: mean of {n_seeds} seed{'' if n_seeds == 1 else 's, band 95% t-CI'}")
    )  # fmt: skip
    if any(math.isfinite(v) for v in paper.values()):
        handles.append(
            Line2D([], [], color="grey", marker="*", markersize=12, markeredgecolor="black",
                   linestyle="none", label=f"paper, epoch {PAPER_EPOCH}")
        )  # fmt: skip
    # below the panel, off the data
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3,
              fontsize="small")  # fmt: skip
    ax.set_xlabel("fine-tuning epoch")
    ax.set_ylabel(YLABEL)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # 5, 10, ...
    ax.grid(alpha=0.3)


def walltime_figure(
    df: pd.DataFrame,
    name: str,
    experiment: dict,
    epoch: int | None = None,
    timing: pd.DataFrame | None = None,
) -> Figure:
    """Fine-tuning wall time of one experiment: (a) seconds, ours (geometric mean over seeds,
    95% interval on the log scale: stats.log_interval) beside
    the paper's 50-epoch seconds, log scale; (b) the same relative to Cons+Cons, the part
    that compares across machines and epoch counts. One bar colour per reading. With the
    controlled `timing` (rule step_timing), a second row: timing_panels."""
    ours = walltime_per_seed(df, experiment, epoch)
    ours = ours.assign(source="ours, " + ours["reading"])[["run", "source", "seconds", "ratio"]]
    paper = paper_seconds(name) if applies(experiment) else {}
    theirs = pd.DataFrame(
        {
            "run": list(paper),
            "source": f"paper ({PAPER_EPOCH} epochs)",
            "seconds": list(paper.values()),
            "ratio": [s / paper.get(BASELINE, math.nan) for s in paper.values()],
        }
    )
    data = pd.concat([ours, theirs], ignore_index=True)
    runs = list(experiment["runs"])
    data = data[data["run"].isin(runs)]
    # the bars' colour says whose seconds (ours per reading, the paper's): greys, so that
    # no bar takes a rule's colour (adamix.report.palette)
    sources = list(dict.fromkeys(data["source"]))
    greys = dict(zip(sources, [str(g) for g in np.linspace(0.2, 0.75, len(sources))], strict=True))

    rows = 1 if timing is None else 2
    fig = Figure(figsize=(2 * PANEL[0], rows * PANEL[1]), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False)
    left, right = axes[0]
    # seconds as the table has them: geometric mean, interval on the log scale; the ratio
    # to Cons+Cons as its mean over seeds with the t-interval
    for ax, column, ylabel, estimator, errorbar in [
        (left, "seconds", "fine-tuning seconds (log scale)", geometric_mean, log_interval),
        (right, "ratio", "seconds relative to Cons+Cons", "mean", t_interval),
    ]:
        sns.barplot(
            data, x="run", y=column, hue="source", order=runs, palette=greys,
            estimator=estimator, errorbar=errorbar, capsize=0.1, ax=ax,
        )  # fmt: skip
        ax.set(xlabel="Weight+Bias run", ylabel=ylabel)
        ax.tick_params(axis="x", labelrotation=15)
        ax.get_legend().remove()
    left.set_yscale("log")
    right.axhline(1.0, color="black", linewidth=0.8)
    handles, labels = right.get_legend_handles_labels()  # above the bars, off the data
    left.legend(
        handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=len(labels),
        fontsize="small", frameon=False,
    )  # fmt: skip
    if timing is not None:
        timing_panels(*axes[1], timing, experiment)
    ran = f"{epoch} epochs" if epoch is not None else "all epochs run"
    fig.suptitle(
        f"Wall time of fine-tuning, {name}: ours ({ran}) vs the paper ({PAPER_EPOCH} epochs)"
    )
    return fig


def timing_panels(ms_ax, ratio_ax, timing: pd.DataFrame, experiment: dict) -> None:
    """The controlled timing (rule step_timing) per reading: (c) each run's milliseconds per
    training step, (d) its step over Cons+Cons's in the same round; both the geometric mean
    over rounds with its 95% interval (stats.log_interval), a run in its rule's colour
    (adamix.report.palette). The grey band of (d): the noise floor, how far apart two
    identical Cons+Cons jobs come out (adamix.report.timing.noise_floor)."""
    floor = noise_floor(timing)
    data = measured(timing)
    base = data.loc[data["run"] == BASELINE, ["reading", "round", "seconds"]]
    data = data.merge(base, on=["reading", "round"], how="left", suffixes=("", "_cons"))
    data = data.assign(ms=1000 * data["seconds"], ratio=data["seconds"] / data["seconds_cons"])
    readings = [r for r in experiment["readings"] if r in set(data["reading"])]
    runs = [r for r in experiment["runs"] if r in set(data["run"])]
    rounds = data["round"].nunique()
    for ax, column, ylabel in [
        (ms_ax, "ms", "controlled: ms per training step"),
        (ratio_ax, "ratio", f"controlled: step relative to {BASELINE}"),
    ]:
        sns.pointplot(
            data, x="reading", y=column, hue="run", order=readings, hue_order=runs,
            palette=run_colours(runs), estimator=geometric_mean, errorbar=log_interval,
            dodge=0.5, linestyle="none", capsize=0.1, ax=ax,
        )  # fmt: skip
        ax.set(xlabel="reading", ylabel=ylabel)
        ax.tick_params(axis="x", labelrotation=15)
        ax.grid(alpha=0.3, axis="y")
        ax.get_legend().remove()
    ms_ax.set_title(f"controlled timing: geometric mean over {rounds} rounds, 95% CI")
    ratio_ax.axhline(1.0, color="black", linewidth=0.8)
    handles, labels = ratio_ax.get_legend_handles_labels()
    if floor is not None:
        f = floor["floor"]
        band = ratio_ax.axhspan(1 / (1 + f), 1 + f, color="grey", alpha=0.25, linewidth=0)
        handles, labels = [*handles, band], [*labels, f"noise floor ±{f:.1%}"]
        ratio_ax.set_title(f"per round over {BASELINE}; grey: two identical jobs' noise floor")
    else:
        ratio_ax.set_title(f"per round over {BASELINE}; no noise floor measured")
    # below the bottom row, off the data
    ms_ax.figure.legend(
        handles, labels, loc="outside lower center", ncols=len(labels), fontsize="small"
    )


# ------------------------------------------------------------------ rule outputs


def write_experiment_figure(
    inputs: Iterable[Path], out: Mapping, name: str, experiment: dict, epoch: int | None = None
) -> None:
    """experiment_figure of the per-job metrics files `inputs`, saved as PNG and PDF (rule
    experiment_figure; `out`: their paths, keys png, pdf)."""
    inputs = list(inputs)
    fig = experiment_figure(load_metrics(inputs), name, experiment, epoch=epoch)
    save_figure(fig, out["png"], out["pdf"])
    log.info("%s: figure of %d jobs", name, len(inputs))


def write_walltime(
    inputs: Iterable[Path],
    out: Mapping,
    name: str,
    experiment: dict,
    epoch: int | None = None,
    timing: Path | None = None,
) -> None:
    """The wall times of one experiment from its per-job metrics files `inputs` (and the
    controlled timing's parquet `timing`, rule step_timing): the table
    (adamix.report.tables.walltime_table) as CSV, Markdown and HTML, and the figure as PNG,
    with the controlled timing's panels when there is one (rule walltime; `out`: their
    paths, keys png, csv, md, html)."""
    inputs = list(inputs)
    metrics = load_metrics(inputs)
    steps = pd.read_parquet(timing) if timing is not None else None
    write_walltime_table(metrics, out, name, experiment, epoch=epoch, timing=steps)
    fig = walltime_figure(metrics, name, experiment, epoch=epoch, timing=steps)
    save_figure(fig, out["png"])
    log.info("%s: wall times of %d jobs", name, len(inputs))
