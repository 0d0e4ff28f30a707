"""Convergence speed, judged beside the final epoch (secondary in the pre-registered
analysis, docs/paper.md): per cell with a paper value, the first epoch at which a run
reaches the paper's epoch-50 RER, and the area under its test-RER curve (the mean test RER
over epochs 1 to the last); claim 1 asked again on that area.

A seed whose run diverged never reaches the target and has an infinite area: a loss in
the pairing of claim 1, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from adamix.report.paper import applies, paper_rer
from adamix.report.render import DASH, interval, markdown, number, render, signed
from adamix.report.stats import lower, paired, t_interval

CANDIDATE = "AdaMix+Power"


def per_seed(rows: pd.DataFrame, target: float, epoch: int | None = None) -> pd.DataFrame:
    """One row per seed of one run's per-epoch `rows`: `auc`, its mean test RER over
    epochs 1 to `epoch` (its last epoch if None; +inf if it diverged), and `reached`, the
    first epoch at or below `target` (NaN if never, or if target is NaN)."""
    out = []
    for seed, run in rows.sort_values("epoch").groupby("seed"):
        run = run[(run["epoch"] >= 1) & (run["epoch"] <= (epoch or math.inf))]
        rer = run["test_rer_sse"].astype(float)
        failed = bool(run["diverged"].any()) or not np.isfinite(rer).all()
        hits = run["epoch"][rer <= target] if not math.isnan(target) else []
        out.append({"seed": seed, "auc": math.inf if failed else float(rer.mean()),
                    "reached": float(hits.iloc[0]) if len(hits) else math.nan})  # fmt: skip
    return pd.DataFrame(out, columns=["seed", "auc", "reached"])


def convergence_table(
    metrics: pd.DataFrame, experiments: Mapping, readings: Sequence[str], epoch=None
) -> pd.DataFrame:
    """Per experiment on the paper's data set, reading of `readings`, run and size with a
    paper value (each (reading, run, size) once): the paper's value, the seeds that
    reached it and their mean epoch, and the area under the curve (mean over seeds, 95%
    t-interval)."""
    run_of = metrics["weight_rule"] + "+" + metrics["bias_rule"]
    rows, seen = [], set()
    for name, exp in experiments.items():
        if not applies(exp):
            continue
        for reading in [r for r in exp["readings"] if r in readings]:
            for size in exp["sizes"]:
                for run in exp["runs"]:
                    if (reading, run, float(size)) in seen:
                        continue
                    seen.add((reading, run, float(size)))
                    cell = metrics[(metrics["reading"] == reading) & (run_of == run)
                                   & np.isclose(metrics["size"], float(size))]  # fmt: skip
                    if cell.empty:
                        continue
                    target = paper_rer(name, run, size)
                    if math.isnan(target):
                        continue  # no paper value to reach
                    seeds = per_seed(cell, target, epoch)
                    finite = seeds["auc"][np.isfinite(seeds["auc"])]
                    low, high = t_interval(finite) if len(finite) >= 2 else (math.nan,) * 2
                    rows.append({
                        "experiment": name, "reading": reading, "run": run,
                        "size": float(size), "paper": target, "seeds": len(seeds),
                        "reached": int(seeds["reached"].notna().sum()),
                        "epoch_reached": seeds["reached"].mean(),
                        "auc": finite.mean() if len(finite) else math.inf,
                        "auc_low": low, "auc_high": high,
                    })  # fmt: skip
    return pd.DataFrame(rows)


def claim1_on_auc(metrics: pd.DataFrame, experiment: Mapping, reading: str, epoch=None):
    """Claim 1 on the area under the curve under `reading`: AdaMix+Power minus the other
    run of experiment 1 with the lowest mean area, paired by seed; (opponent, paired
    differences, verdict), or None where a run is missing."""
    run_of = metrics["weight_rule"] + "+" + metrics["bias_rule"]
    size = float(experiment["sizes"][0])
    auc = {}
    for run in experiment["runs"]:
        cell = metrics[(metrics["reading"] == reading) & (run_of == run)
                       & np.isclose(metrics["size"], size)]  # fmt: skip
        if cell.empty:
            return None
        auc[run] = per_seed(cell, math.nan, epoch).set_index("seed")["auc"]
    others = {r: a.replace(math.inf, np.nan).mean() for r, a in auc.items() if r != CANDIDATE}
    opponent = min(others, key=others.get)
    pair = paired(auc[CANDIDATE], auc[opponent])
    return opponent, pair, lower(pair)


def convergence_section(
    metrics: pd.DataFrame, experiments: Mapping, readings: Sequence[str], epoch=None
) -> str:
    """The write-up's convergence section ("" when there is nothing to show)."""
    table = convergence_table(metrics, experiments, readings, epoch)
    shown = pd.DataFrame() if table.empty else pd.DataFrame({
        "experiment": table["experiment"], "reading": table["reading"], "run": table["run"],
        "size": table["size"].map(lambda s: f"{s:g}"), "paper": table["paper"].map(number),
        "reached the paper's value": [
            DASH if math.isnan(p) else f"{k} of {n}" + (f", epoch {e:.1f}" if k else "")
            for p, k, n, e in zip(table["paper"], table["reached"], table["seeds"],
                                  table["epoch_reached"], strict=True)
        ],
        "area under curve [95% CI]": [
            _with_interval(number(a), lo, hi) if math.isfinite(a) else "diverged"
            for a, lo, hi in zip(table["auc"], table["auc_low"], table["auc_high"], strict=True)
        ],
    })  # fmt: skip
    claim1 = []
    if "exp1" in experiments:
        for reading in [r for r in experiments["exp1"]["readings"] if r in readings]:
            if (found := claim1_on_auc(metrics, experiments["exp1"], reading, epoch)) is not None:
                opponent, pair, verdict = found
                low, high = t_interval(pair.finite) if pair.finite.size >= 2 else (math.nan,) * 2
                diff = signed(pair.finite.mean()) if pair.finite.size else DASH
                claim1.append({"reading": reading, "opponent": opponent, "verdict": verdict,
                               "diff": _with_interval(diff, low, high)})  # fmt: skip
    if shown.empty and not claim1:
        return ""
    table_md = "" if shown.empty else markdown(shown)
    return render("convergence.md.j2", table=table_md, claim1=claim1)


def _with_interval(text: str, low: float, high: float) -> str:
    """`text` and its 95% interval, where there is one (two seeds or more)."""
    return text if math.isnan(low) else f"{text} {interval(low, high)}"
