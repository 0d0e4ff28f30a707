"""Claim 1 along the continuum of readings: AdaMix+Power against the best other run of
experiment 1 at every scale s of the gradient in the adaptive denominators (ambiguity 5,
``g_scale``), for both units of the adaptive state's update (ambiguity 6, ``update``).

Claim 1 says AdaMix+Power ends lowest. Its margin at a point is the per-seed difference
AdaMix+Power - best, where best is the other run with the lowest mean final test RER
there; the verdict is adamix.report.stats.lower's (the 95% t-interval of the paired
differences below 0: holds; above: does not hold; else inconclusive; a seed where one
run diverged counts as that run's loss). The figure shows where the verdict flips.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adamix.plan.settings import FinetuneSettings
from adamix.report.figures import DPI, PANEL, save_figure
from adamix.report.metrics import load_metrics
from adamix.report.render import DASH, markdown, render
from adamix.report.stats import FAILS, HOLDS, UNCLEAR, lower, paired, t_interval
from adamix.report.tables import final_rows, write_table

CANDIDATE = "AdaMix+Power"
# The named points of the continuum: s of eq. 6 as written, of a mean over the minibatch
# (the size the study runs), over the pixels (eq. 9), and over both.
LANDMARKS = {1.0: "sum", 1 / 100: "mean", 1 / 784: "1/784", 1 / 78_400: "1/78,400"}
COLUMNS = [
    "reading", "update", "g_scale", "s", "best_other", "n_seeds", "margin_mean", "margin_ci95_low",
    "margin_ci95_high", "n_diverged", "verdict",
]  # fmt: skip

log = logging.getLogger(__name__)


def continuum_table(df: pd.DataFrame, candidate: str = CANDIDATE) -> pd.DataFrame:
    """One row per reading of the per-epoch metrics `df` (an experiment's: each reading
    one point, its g_scale and update), by s: the candidate's paired margin over the best
    other run and claim 1's verdict there."""
    final = final_rows(df)
    rows = []
    for reading, point in final.groupby("reading", sort=False):
        update, g_scale, batch = point.iloc[0][["update", "g_scale", "batch_size"]]
        rer = point.pivot_table(index="seed", columns="run", values="rer", aggfunc="first")
        others = rer.drop(columns=candidate).replace(math.inf, np.nan).mean()
        best = others.idxmin()
        pair = paired(rer[candidate], rer[best])
        low, high = t_interval(pair.finite)
        rows.append(
            {
                "reading": reading,
                "update": update,
                "g_scale": g_scale,
                "s": FinetuneSettings(g_scale=g_scale, batch_size=int(batch)).scale_of_g(),
                "best_other": best,
                "n_seeds": len(pair.diffs),
                "margin_mean": pair.finite.mean() if pair.finite.size else math.nan,
                "margin_ci95_low": low,
                "margin_ci95_high": high,
                "n_diverged": int(point["failed"].sum()),
                "verdict": lower(pair),
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["update", "s"], ascending=[False, False], ignore_index=True)


def continuum_figure(table: pd.DataFrame) -> Figure:
    """Claim 1's margin (mean and 95% t-interval of AdaMix+Power - best other) against s,
    on a log axis, one line per update unit; below 0 AdaMix+Power ends lowest."""
    fig = Figure(figsize=PANEL, dpi=DPI, layout="constrained")
    ax = fig.subplots()
    styles = {"step": ("tab:blue", "o", "-"), "epoch": ("tab:orange", "s", "--")}
    for update, line in table.groupby("update", sort=False):
        colour, marker, style = styles.get(update, ("tab:grey", "^", ":"))
        yerr = [
            line["margin_mean"] - line["margin_ci95_low"],
            line["margin_ci95_high"] - line["margin_mean"],
        ]
        ax.errorbar(
            line["s"], line["margin_mean"], yerr=yerr, color=colour, marker=marker,
            linestyle=style, capsize=3, label=f"update per {update}",
        )  # fmt: skip
    ax.axhline(0.0, color="black", linewidth=0.8)
    for s in LANDMARKS:
        ax.axvline(s, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.invert_xaxis()  # from the literal sum towards ever smaller scales
    # the landmarks' names on an axis of their own above the panel, off the data
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(LANDMARKS), labels=list(LANDMARKS.values()), fontsize="small")
    top.minorticks_off()
    ax.set_xlabel("s, the gradient's scale in the adaptive denominators (g_scale)")
    ax.set_ylabel(f"{CANDIDATE} - best other run, test RER (paired over seeds)")
    ax.set_title("Ours: claim 1 along the readings (below 0: AdaMix+Power ends lowest)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def write_continuum(inputs: Iterable[str | Path], out: Mapping) -> pd.DataFrame:
    """The continuum table (CSV, Markdown) and figure (PNG, PDF) from the per-job metrics
    `inputs` (rule continuum; `out`: keys csv, md, png, pdf)."""
    inputs = list(inputs)
    table = continuum_table(load_metrics(inputs))
    note = (
        f"margin: {CANDIDATE} - best other run (lowest mean there), final test rer_sse,"
        " paired over seeds, mean and 95% t-CI; verdict on claim 1 (AdaMix+Power lowest)."
    )
    write_table(table, out, title="Claim 1 along the continuum of readings", note=note)
    save_figure(continuum_figure(table), out["png"], out["pdf"])
    log.info("continuum: %d points from %d jobs", len(table), len(inputs))
    return table


def scale_name(s: float) -> str:
    """s as the write-up names it: a landmark's name, else 1/N."""
    for landmark, name in LANDMARKS.items():
        if math.isclose(s, landmark, rel_tol=1e-9):
            return f"s = {name}"
    return f"s = 1/{1 / s:,.0f}"


def margin_text(mean: float, low: float, high: float) -> str:
    """ "+0.12 [-0.03, +0.27]"; without an interval (one seed) the mean alone, and a dash
    without a mean."""
    if not np.isfinite(mean):
        return DASH
    text = f"{mean:+.2f}"
    return text + (f" [{low:+.2f}, {high:+.2f}]" if np.isfinite(low) and np.isfinite(high) else "")


def continuum_section(table: pd.DataFrame, name: str, link: str) -> str:
    """The write-up's section on experiment `name`'s continuum (its table as
    write_continuum wrote it, read back from the CSV): the figure, per update unit the
    points where claim 1 holds, does not hold or is inconclusive, and the table."""
    units = []
    for update, line in table.groupby("update", sort=False):
        names = {v: [scale_name(r.s) for r in line.itertuples() if r.verdict == v]
                 for v in (HOLDS, FAILS, UNCLEAR)}  # fmt: skip
        units.append({"unit": update, "holds": names[HOLDS], "fails": names[FAILS],
                      "unclear": names[UNCLEAR]})  # fmt: skip
    shown = pd.DataFrame(
        {
            "update": table["update"],
            "s": [scale_name(s) for s in table["s"]],
            "best other run": table["best_other"],
            "seeds": table["n_seeds"],
            "margin [95% CI]": [
                margin_text(r.margin_mean, r.margin_ci95_low, r.margin_ci95_high)
                for r in table.itertuples()
            ],
            "diverged": table["n_diverged"],
            "claim 1": table["verdict"],
        }
    )
    return render("continuum.md.j2", name=name, link=link, units=units, table=markdown(shown))
