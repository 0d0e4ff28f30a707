"""The scorecard's page (rule scorecard_report): its table, figure and write-up, in
Markdown and HTML, from the numbers of adamix.report.scorecard."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import markdown
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adamix.plan.config import TRAIN_IMAGES
from adamix.report.figures import YLABEL, save_figure
from adamix.report.metrics import load_reference
from adamix.report.palette import run_style
from adamix.report.render import render
from adamix.report.scorecard import (
    BETTER,
    PAPER,
    TUNED,
    WORSE,
    compare,
    load_runs,
    reference_baselines,
    step_cost,
)

# The named questions: (protocol, baseline) -> how the page asks it.
QUESTIONS = {
    (PAPER, "AdaMix+Power"): "better than AdaMix+Power under the paper's protocol",
    (PAPER, "Cons+Cons"): "better than the constant rate (Cons+Cons) under the paper's protocol",
    (TUNED, "AdaMix+Power"): "at least as good as tuned AdaMix+Power",
    (TUNED, "Adam+Adam"): "at least as good as tuned Adam",
}
STYLE = (
    "body{font-family:sans-serif;font-size:14px;max-width:60em;margin:auto}"
    "table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #ddd;"
    "text-align:left}th{background:#f3f3f3}img{max-width:100%}"
)

log = logging.getLogger(__name__)


def answer(row: pd.Series) -> str:
    """The answer to a named question from its comparison's verdict and interval."""
    at_least = row["protocol"] == TUNED
    if row["verdict"] == BETTER:
        return "yes" + (" (reliably better)" if at_least else "")
    if row["verdict"] == WORSE:
        return "no (reliably worse)"
    high = row["diff_high"]
    room = f"; its interval allows it to be up to {high:+.2f} worse" if at_least else ""
    return "undecided at these seeds" + (room if math.isfinite(high) else "")


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The comparisons as the page shows them, numbers formatted."""

    def iv(low, high):
        return "–" if pd.isna(low) else f"[{low:+.2f}, {high:+.2f}]"

    def cells(fmt, *columns):
        return [fmt(*values) for values in zip(*(table[c] for c in columns), strict=True)]

    return pd.DataFrame({
        "protocol": table["protocol"], "reading": table["reading"],
        "candidate (rate)": cells(lambda c, r: f"{c} ({r:g})", "candidate", "rate"),
        "baseline (rate)": cells(lambda b, r: f"{b} ({r:g})", "baseline", "baseline_rate"),
        "final RER, candidate / baseline": cells(
            lambda c, b: f"{c:.2f} / {b:.2f}", "candidate_rer", "baseline_rer"),
        "difference [95% CI]": cells(
            lambda d, lo, hi: f"{d:+.2f} {iv(lo, hi)}", "diff", "diff_low", "diff_high"),
        "P(improvement)": [f"{p:.2f}" for p in table["p_improvement"]],
        "area under curve, difference": cells(
            lambda d, lo, hi: f"{d:+.2f} {iv(lo, hi)}", "auc_diff", "auc_low", "auc_high"),
        "epochs to baseline's final": cells(
            lambda e, n, s: "never" if n == 0 else f"{e:.1f} ({n} of {s} seeds)",
            "epochs_to_baseline", "reached", "seeds"),
        "verdict": table["verdict"],
    })  # fmt: skip


def scorecard_figure(runs: pd.DataFrame, table: pd.DataFrame, reading: str) -> Figure:
    """Left: the mean test RER by epoch of the candidates and baselines at the paper's rate
    under `reading`; right: every paired difference of final RER with its 95% interval."""
    fig = Figure(figsize=(14, 0.5 * len(table) + 4), layout="constrained")
    curves, forest = fig.subplots(1, 2, width_ratios=[1, 1.2])
    shown = runs[(runs["protocol"] == PAPER) & (runs["reading"] == reading)]
    for (run, kind), g in shown.groupby(["run", "kind"], sort=False):
        mean = g.groupby("epoch")["test_rer_sse"].mean()
        style = (
            {"lw": 2.5, "color": "black"} if kind == "candidate" else {"lw": 1.2, **run_style(run)}
        )
        curves.plot(mean.index, mean.to_numpy(), label=f"{run} ({kind})", **style)
    curves.set(xlabel="epoch", ylabel=YLABEL, title=f"paper's rate, reading {reading}")
    curves.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2)
    y = np.arange(len(table))[::-1]
    finite = np.isfinite(table["diff_low"].to_numpy(dtype=float))
    forest.errorbar(
        table["diff"].where(np.isfinite(table["diff"])), y,
        xerr=np.where(
            finite, [table["diff"] - table["diff_low"], table["diff_high"] - table["diff"]], 0
        ),
        fmt="o", color="black", capsize=3,
    )  # fmt: skip
    forest.axvline(0, color="grey", lw=1)
    forest.set_yticks(y, [f"{r.candidate} - {r.baseline} ({r.protocol}, {r.reading})"
                          for r in table.itertuples()], fontsize=8)  # fmt: skip
    forest.set(xlabel="final test RER, candidate - baseline (95% CI; < 0: candidate better)",
               title="paired by seed")  # fmt: skip
    return fig


def write_scorecard(
    *,
    calibration: str,
    reference: str,
    timing: str,
    candidates: Sequence[Sequence],
    baselines: Sequence[Sequence],
    protocol: Mapping,
    out: Mapping,
) -> pd.DataFrame:
    """Rule scorecard_report: pair the candidates' jobs (`candidates`: entries of
    adamix.report.scorecard.load_runs) with the reference's baselines, or with the
    baselines rerun here (`baselines`, where the calibration failed), and write the
    comparisons (CSV), the figure (PNG, PDF) and the page (Markdown, HTML)."""
    import json

    cal = json.loads(Path(calibration).read_text())
    cand = load_runs(candidates)
    if cal["passed"]:
        base = reference_baselines(load_reference(reference), protocol, reference)
    else:
        base = load_runs(baselines)
    table = compare(cand, base, protocol["epochs"])
    table.to_csv(out["csv"], index=False)
    runs = pd.concat([cand.assign(kind="candidate"), base.assign(kind="baseline")])
    save_figure(scorecard_figure(runs, table, protocol["readings"][0]), out["png"], out["pdf"])
    questions = [
        {"question": QUESTIONS[(r.protocol, r.baseline)], "candidate": r.candidate,
         "reading": r.reading, "answer": answer(pd.Series(r._asdict())),
         "diff": r.diff, "low": r.diff_low, "high": r.diff_high}
        for r in table.itertuples() if (r.protocol, r.baseline) in QUESTIONS
    ]  # fmt: skip
    text = render(
        "scorecard.md.j2",
        protocol=protocol,
        train_images=round(protocol["size"] * TRAIN_IMAGES),
        calibration=cal,
        reference=reference,
        cost=step_cost(pd.read_parquet(timing), protocol["candidates"]),
        selected=cand[cand["protocol"] == TUNED][["reading", "run", "rate"]].drop_duplicates(),
        questions=questions,
        table=shown_table(table).to_markdown(index=False),
        figure=Path(out["png"]).name,
    )
    Path(out["md"]).write_text(text + "\n", encoding="utf-8")
    body = markdown.markdown(text, extensions=["tables"])
    Path(out["html"]).write_text(
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>scorecard</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n",
        encoding="utf-8",
    )
    log.info("scorecard: %d comparisons -> %s", len(table), out["md"])
    return table
