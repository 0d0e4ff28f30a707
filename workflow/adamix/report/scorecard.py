"""`snakemake scorecard`: a candidate learning-rate rule scored against the published study
without rerunning its baselines.

The candidate runs under the published protocol (adamix.plan.study.Plan.scorecard_protocol):
at the paper's rate under each of the scorecard's readings, and tuned (the tuning's grid
searched on the validation split at the search seed, the chosen rate rerun on every seed).
Its per-seed results are paired, seed by seed (same subset, same pre-training), with the
baselines' rows of the published reference (docs/reference/metrics.parquet). One
calibration job, Cons+Cons at the first seed, checks first that this machine reproduces
the reference; where it does not, the workflow reruns the baselines here and pairs with
those instead.

The numbers only (pandas, scipy): adamix.report.scorecard_page writes the page.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy.integrate import trapezoid

from adamix.atomic import atomic, sha256_of
from adamix.report.metrics import load_reference
from adamix.report.stats import direction, paired, prediction_interval, t_interval

PAPER, TUNED = "paper", "tuned"  # the protocols: the paper's fixed rate, the tuned rate
CALIBRATION_RUN = "Cons+Cons"  # rerun at the first seed to check this machine
BETTER, WORSE, UNDECIDED = "better", "worse", "undecided"
COLUMNS = ["epoch", "test_rer_sse", "diverged"]

log = logging.getLogger(__name__)


def _where(reference: str, protocol: Mapping) -> str:
    return f"{reference} ({protocol['dataset']} at size {protocol['size']:g})"


def reference_baselines(ref: pd.DataFrame, protocol: Mapping, reference: str) -> pd.DataFrame:
    """The reference's rows of every baseline the protocol pairs with: `baselines` at the
    paper's rate and `tuned_baselines` at the rate the study's search chose, under each of
    `readings`, with columns protocol, reading, run, rate, seed, epoch, test_rer_sse,
    diverged. ValueError naming the file where a baseline, a seed or an epoch is missing
    (a reference made under another protocol)."""
    ref = ref[(ref["dataset"] == protocol["dataset"]) & np.isclose(ref["size"], protocol["size"])]
    ref = ref.assign(run=ref["weight_rule"] + "+" + ref["bias_rule"])
    parts = []
    for reading in protocol["readings"]:
        for run in dict.fromkeys([CALIBRATION_RUN, *protocol["baselines"]]):
            rows = ref[(ref["reading"] == reading) & (ref["run"] == run)]
            parts.append(_complete(rows, protocol, f"{run} under reading {reading}", reference)
                         .assign(protocol=PAPER, rate=protocol["lr"]))  # fmt: skip
        for run in protocol["tuned_baselines"]:
            rows = ref[(ref["run"] == run) & ref["reading"].str.startswith(f"{reading}~lr")]
            if rows["reading"].nunique() != 1:
                raise ValueError(
                    f"{_where(reference, protocol)}: holds no tuned {run} under reading"
                    f" {reading} (rows of reading {reading}~lr<rate>, one rate): a reference"
                    " of another protocol; use the published one or set scorecard.tune: false"
                )
            rate = float(rows["reading"].iloc[0].split("~lr")[1])
            rows = _complete(rows, protocol, f"tuned {run} under reading {reading}", reference)
            parts.append(rows.assign(protocol=TUNED, rate=rate, reading=reading))
    keep = ["protocol", "reading", "run", "rate", "seed", *COLUMNS]
    return pd.concat(parts, ignore_index=True)[keep]


def _complete(rows: pd.DataFrame, protocol: Mapping, what: str, reference: str) -> pd.DataFrame:
    """`rows` of one baseline, every seed of the protocol present and run to its epochs
    (or diverged); ValueError naming what is missing."""
    where = _where(reference, protocol)
    if rows.empty:
        raise ValueError(f"{where}: holds no rows of {what}; a reference of another protocol")
    seeds = protocol["seeds"]
    if missing := sorted(set(seeds) - set(rows["seed"])):
        raise ValueError(
            f"{where}: {what} lacks seeds {missing} of config seeds {seeds}: the scorecard"
            " pairs seed by seed, so it runs the reference's seeds"
        )
    rows = rows[rows["seed"].isin(seeds)]
    last = rows.groupby("seed").agg(epoch=("epoch", "max"), diverged=("diverged", "any"))
    if short := list(last.index[(last["epoch"] != protocol["epochs"]) & ~last["diverged"]]):
        raise ValueError(
            f"{where}: {what} ends at epoch {int(last.loc[short[0], 'epoch'])} (seed"
            f" {short[0]}), not at finetune.epochs {protocol['epochs']}: a reference of"
            " another protocol"
        )
    return rows


def load_runs(entries: Sequence[Sequence]) -> pd.DataFrame:
    """The per-epoch rows of fine-tuning jobs run here: `entries` [protocol, reading, run,
    rate, seed, metrics parquet], with the columns of reference_baselines."""
    parts = [
        pq.read_table(path, columns=COLUMNS).to_pandas()
        .assign(protocol=protocol, reading=reading, run=run, rate=float(rate), seed=int(seed))
        for protocol, reading, run, rate, seed, path in entries
    ]  # fmt: skip
    keep = ["protocol", "reading", "run", "rate", "seed", *COLUMNS]
    return pd.concat(parts, ignore_index=True)[keep]


def per_seed(df: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """Per protocol, reading, run and seed: `final`, the test RER at `epochs`; `auc`, the
    area under the test-RER curve over epochs 1 to `epochs` divided by its width (a mean
    RER; the final RER with one epoch); `curve`, the test RER by epoch 0..epochs. A seed
    whose job diverged or has a non-finite RER scores +inf on both (a loss, never dropped)."""
    rows = []
    for (protocol, reading, run, rate, seed), g in df.groupby(
        ["protocol", "reading", "run", "rate", "seed"], sort=False
    ):
        g = g.sort_values("epoch")
        curve = g["test_rer_sse"].to_numpy(dtype=float)
        ok = (not g["diverged"].any()) and g["epoch"].max() == epochs and np.isfinite(curve).all()
        later = curve[1:] if epochs > 1 else curve[-1:]
        auc = trapezoid(later) / (later.size - 1) if later.size > 1 else later[-1]
        rows.append({
            "protocol": protocol, "reading": reading, "run": run, "rate": rate, "seed": seed,
            "final": curve[-1] if ok else math.inf, "auc": auc if ok else math.inf,
            "curve": curve if ok else None,
        })  # fmt: skip
    return pd.DataFrame(rows)


def epochs_to(curve: np.ndarray | None, target: float) -> float:
    """The first epoch (from 1) at which `curve` is at or below `target`; NaN if never."""
    if curve is None or not math.isfinite(target):
        return math.nan
    reached = np.flatnonzero(curve[1:] <= target)
    return float(reached[0] + 1) if reached.size else math.nan


def verdict(diffs: pd.Series, reference: pd.Series) -> str:
    """BETTER when the candidate's per-seed values (a) are reliably below the baseline's
    (b): the 95% t-interval of the mean paired difference lies below 0 and every seed where
    one of them diverged agrees (adamix.report.stats.direction); WORSE when reliably above."""
    return {-1: BETTER, 1: WORSE, 0: UNDECIDED}[direction(paired(diffs, reference))]


def compare(candidates: pd.DataFrame, baselines: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """Each candidate against each baseline of its protocol and reading, paired by seed:
    the means of the final test RER, the mean difference (candidate - baseline) with its
    95% t-interval, the probability of improvement (the share of seeds where the candidate
    ends lower, ties counting half), the same difference for the area under the curve, the
    mean epoch at which the candidate reaches the baseline's final RER (over the seeds where
    it does; `reached`: on how many) and the verdict."""
    cand, base = per_seed(candidates, epochs), per_seed(baselines, epochs)
    rows = []
    for (protocol, reading, run, rate), c in cand.groupby(
        ["protocol", "reading", "run", "rate"], sort=False
    ):
        c = c.set_index("seed")
        others = base[(base["protocol"] == protocol) & (base["reading"] == reading)]
        for (baseline, base_rate), b in others.groupby(["run", "rate"], sort=False):
            b = b.set_index("seed").loc[c.index]
            final, auc = paired(c["final"], b["final"]), paired(c["auc"], b["auc"])
            low, high = t_interval(final.finite)
            auc_low, auc_high = t_interval(auc.finite)
            both_lost = np.isinf(c["final"]) & np.isinf(b["final"])
            wins = (c["final"] < b["final"]) + 0.5 * (c["final"] == b["final"])
            reach = [epochs_to(c.at[s, "curve"], b.at[s, "final"]) for s in c.index]
            rows.append({
                "protocol": protocol, "reading": reading, "candidate": run, "rate": rate,
                "baseline": baseline, "baseline_rate": base_rate, "seeds": len(c),
                "candidate_rer": _mean(c["final"]), "baseline_rer": _mean(b["final"]),
                "diff": _mean(final.diffs), "diff_low": low, "diff_high": high,
                "p_improvement": float(wins[~both_lost].mean()) if (~both_lost).any()
                else math.nan,
                "auc_diff": _mean(auc.diffs), "auc_low": auc_low, "auc_high": auc_high,
                "epochs_to_baseline": float(np.nanmean(reach)) if not np.isnan(reach).all()
                else math.nan,
                "reached": int(np.isfinite(reach).sum()),
                "verdict": verdict(c["final"], b["final"]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _mean(x) -> float:
    """The mean; +inf or -inf where a value is (a diverged seed is a loss)."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()) if x.size else math.nan


def calibrate(ours: str, baselines: pd.DataFrame, protocol: Mapping) -> dict:
    """Does this machine reproduce the reference? Our Cons+Cons at the first seed (its
    metrics parquet `ours`, under the first reading) against the reference's Cons+Cons over
    all seeds: it passes inside their 95% prediction interval for one more run (the
    reference's spread across seeds), and a diverged or unfinished run fails."""
    reading, seed = protocol["readings"][0], protocol["seeds"][0]
    ref = baselines[(baselines["protocol"] == PAPER) & (baselines["reading"] == reading)
                    & (baselines["run"] == CALIBRATION_RUN)]  # fmt: skip
    ref_final = per_seed(ref, protocol["epochs"]).set_index("seed")["final"]
    mine = per_seed(
        load_runs([[PAPER, reading, CALIBRATION_RUN, protocol["lr"], seed, ours]]),
        protocol["epochs"],
    )["final"].iloc[0]
    finite = ref_final[np.isfinite(ref_final)]
    low, high = prediction_interval(finite.mean(), finite.std(ddof=1), len(finite))
    return {
        "run": CALIBRATION_RUN, "reading": reading, "seed": seed, "ours": mine,
        "reference_same_seed": float(ref_final[seed]), "reference_mean": float(finite.mean()),
        "low": low, "high": high, "passed": bool(low <= mine <= high),
    }  # fmt: skip


def step_cost(timing: pd.DataFrame, candidates: Sequence[str]) -> dict[str, float]:
    """Each candidate's median training step over Cons+Cons's, both timed in one process
    (adamix.train.step_timing): 1.05 is 5% slower."""
    median = timing.groupby("run")["seconds"].median()
    return {run: float(median[run] / median[CALIBRATION_RUN]) for run in candidates}


def write_calibration(ours: str, reference: str, protocol: Mapping, out: str) -> dict:
    """Checkpoint scorecard_calibration: calibrate, plus the rate of each tuned baseline in
    the reference (what a rerun of the baselines uses), as JSON in `out`."""
    baselines = reference_baselines(load_reference(reference), protocol, reference)
    result = calibrate(ours, baselines, protocol)
    tuned = baselines[baselines["protocol"] == TUNED][["reading", "run", "rate"]]
    result["tuned_rates"] = tuned.drop_duplicates().to_dict("records")
    result["reference_sha256"] = sha256_of(reference)
    with atomic(out) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    verb = "reproduces" if result["passed"] else "does NOT reproduce"
    log.info(
        "calibration: this machine %s the reference's %s (ours %.4f, reference %.4f at the"
        " same seed, 95%% prediction interval [%.4f, %.4f])", verb, CALIBRATION_RUN,
        result["ours"], result["reference_same_seed"], result["low"], result["high"],
    )  # fmt: skip
    return result
