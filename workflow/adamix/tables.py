"""Tables of the reproduction: the per-job metrics gathered, each experiment beside the
paper's numbers, the exp-1 wall times, and a verdict on each of the paper's claims.

"Ours" is always taken at the final fine-tuning epoch (the config's `finetune.epochs`,
50 as in the paper), one value per seed. A job that diverged stops early
(adamix.train); its RER counts as +inf in comparisons and it is left out of means and
confidence intervals, which the tables say in `n_diverged`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import yaml

from adamix.metrics import load_metrics, read_metrics  # noqa: F401  (re-exported)

JOB = ["reading", "weight_rule", "bias_rule", "size", "seed"]  # one fine-tuning job
BASELINE = "Cons+Cons"  # the paper's reference run

HOLDS, FAILS, UNCLEAR, NOT_RUN = "holds", "does not hold", "inconclusive", "not run"
HUGE = 0.5  # with one seed, only a difference beyond 50% of the reference counts
FAR = 2.0  # claim 3: "much worse" = more than twice the RER
CLOSE = 0.10  # claim 3: "close" = within 10% of Cons+Cons's RER
BARELY = 0.05  # claim 5: "barely matter" = within 5% of Cons+Cons's RER


# ------------------------------------------------------------------ metrics


def final_rows(df: pd.DataFrame, epoch: int | None = None) -> pd.DataFrame:
    """One row per job: its row at `epoch` (None: its last epoch), or its last row if it
    diverged before. Adds `run` (Weight+Bias), `failed` (diverged or non-finite test RER),
    `rer` (test rer_sse; +inf when failed) and `seconds` (cumulative_seconds; NaN when
    failed, since a diverged job stopped early)."""
    if epoch is not None:
        df = df[df["epoch"] <= epoch]
    last = df.sort_values("epoch", kind="stable").groupby(JOB, sort=False).tail(1).copy()
    failed = last["diverged"].astype(bool) | ~np.isfinite(last["test_rer_sse"].astype(float))
    if epoch is not None:
        short = last[~failed & (last["epoch"] != epoch)]
        if len(short):
            job = {k: short.iloc[0][k] for k in JOB}
            raise ValueError(
                f"{len(short)} job(s) end before epoch {epoch} without diverging, e.g. {job}"
            )
    last["run"] = last["weight_rule"] + "+" + last["bias_rule"]
    last["failed"] = failed
    last["rer"] = last["test_rer_sse"].astype(float).where(~failed, math.inf)
    last["seconds"] = last["cumulative_seconds"].astype(float).where(~failed)
    return last.reset_index(drop=True)


def select_experiment(df: pd.DataFrame, experiment: dict) -> pd.DataFrame:
    """The rows of one experiment (its config entry: readings, sizes, runs), with a `run`
    column, in the config's order of readings, sizes and runs."""
    df = df.reset_index(drop=True)
    run = df["weight_rule"] + "+" + df["bias_rule"]
    order = {
        "reading": list(experiment["readings"]),
        "size": [float(s) for s in experiment["sizes"]],
        "run": list(experiment["runs"]),
    }
    keep = (
        df["reading"].isin(order["reading"])
        & df["size"].isin(order["size"])
        & run.isin(order["run"])
    )
    out = df[keep].assign(run=run[keep])
    sort = pd.DataFrame({key: out[key].map(_positions(values)) for key, values in order.items()})
    sort["seed"] = out["seed"]
    if "epoch" in out:
        sort["epoch"] = out["epoch"]
    return out.loc[sort.sort_values(list(sort.columns), kind="stable").index]


def _positions(values: Sequence) -> dict:
    return {v: i for i, v in enumerate(values)}


# ------------------------------------------------------------------ paper


def paper_results() -> dict:
    """The paper's numbers (adamix/paper_results.yaml): citation, and per experiment
    `rer_epoch50` {run: {size: RER}} and, for exp1, `wall_seconds_50_epochs` {run: s}."""
    text = resources.files("adamix").joinpath("paper_results.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _paper_rer(paper_experiment: dict, run: str, size: float) -> float:
    return float(paper_experiment.get("rer_epoch50", {}).get(run, {}).get(float(size), math.nan))


# ------------------------------------------------------------------ statistics

# Two-sided 95% quantiles of Student's t, t_{0.975, df}, for df = 1..30.
T975 = {
    1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582, 6: 2.446912,
    7: 2.364624, 8: 2.306004, 9: 2.262157, 10: 2.228139, 11: 2.200985, 12: 2.178813,
    13: 2.160369, 14: 2.144787, 15: 2.131450, 16: 2.119905, 17: 2.109816, 18: 2.100922,
    19: 2.093024, 20: 2.085963, 21: 2.079614, 22: 2.073873, 23: 2.068658, 24: 2.063899,
    25: 2.059539, 26: 2.055529, 27: 2.051831, 28: 2.048407, 29: 2.045230, 30: 2.042272,
}  # fmt: skip


def t_quantile_975(df: int) -> float:
    """t_{0.975, df}: the table above, then the Cornish-Fisher expansion around the normal
    quantile (Abramowitz & Stegun 26.7.5), accurate to 1e-6 beyond df = 30."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df in T975:
        return T975[df]
    z = NormalDist().inv_cdf(0.975)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def t_interval(values: Iterable[float]) -> tuple[float, float]:
    """95% confidence interval of the mean of the finite values (Student's t); NaN with
    fewer than two. Also seaborn's `errorbar` in adamix.figures, so bands match tables."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan, math.nan
    half = t_quantile_975(x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return x.mean() - half, x.mean() + half


def describe(values: Iterable[float]) -> dict:
    """n, mean, std (ddof=1) and 95% t-CI of the finite values."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    low, high = t_interval(x)
    return {
        "n": int(x.size),
        "mean": float(x.mean()) if x.size else math.nan,
        "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
        "ci95_low": low,
        "ci95_high": high,
    }


# ------------------------------------------------------------------ experiment tables

EXPERIMENT_COLUMNS = [
    "experiment", "figure", "reading", "size", "run", "epoch", "n_seeds", "n_diverged",
    "rer_mean", "rer_std", "rer_ci95_low", "rer_ci95_high", "paper_rer_epoch50", "diff_vs_paper",
]  # fmt: skip


def experiment_table(
    df: pd.DataFrame, name: str, experiment: dict, epoch: int | None = None
) -> pd.DataFrame:
    """Per reading, size and run: our final-epoch test RER over seeds (mean, std, 95% t-CI,
    diverged seeds left out) beside the paper's epoch-50 value, and ours - paper."""
    paper = paper_results()["experiments"].get(name, {})
    final = select_experiment(final_rows(df, epoch), experiment)
    rows = []
    for (reading, size, run), jobs in final.groupby(["reading", "size", "run"], sort=False):
        stats = describe(jobs["rer"])
        paper_rer = _paper_rer(paper, run, size)
        rows.append(
            {
                "experiment": name,
                "figure": experiment.get("figure"),
                "reading": reading,
                "size": size,
                "run": run,
                "epoch": epoch if epoch is not None else int(jobs["epoch"].max()),
                "n_seeds": len(jobs),
                "n_diverged": int(jobs["failed"].sum()),
                **{f"rer_{k}": v for k, v in stats.items() if k != "n"},
                "paper_rer_epoch50": paper_rer,
                "diff_vs_paper": stats["mean"] - paper_rer,
            }
        )
    return pd.DataFrame(rows, columns=EXPERIMENT_COLUMNS)


# ------------------------------------------------------------------ wall time

WALLTIME_COLUMNS = [
    "reading", "size", "run", "epoch", "n_seeds", "n_diverged", "seconds_mean", "seconds_std",
    "seconds_ci95_low", "seconds_ci95_high", "ratio_to_cons", "paper_seconds",
    "paper_ratio_to_cons",
]  # fmt: skip


def walltime_per_seed(df: pd.DataFrame, experiment: dict, epoch: int | None = None):
    """Final rows of the experiment with `ratio`: the job's seconds over those of Cons+Cons
    on the same reading, size and seed (NaN for diverged jobs, which stopped early)."""
    final = select_experiment(final_rows(df, epoch), experiment)
    on = ["reading", "size", "seed"]
    base = final.loc[final["run"] == BASELINE, [*on, "seconds"]]
    final = final.merge(base.rename(columns={"seconds": "baseline"}), on=on, how="left")
    return final.assign(ratio=final["seconds"] / final["baseline"])


def walltime_table(
    df: pd.DataFrame, experiment: dict, name: str = "exp1", epoch: int | None = None
) -> pd.DataFrame:
    """Per reading, size and run: our cumulative fine-tuning seconds at the final epoch over
    seeds, the mean per-seed ratio to Cons+Cons, and the paper's 50-epoch seconds and
    ratio. Seconds of a few epochs do not compare with the paper's 50; ratios do."""
    paper = paper_results()["experiments"].get(name, {}).get("wall_seconds_50_epochs", {})
    paper_base = paper.get(BASELINE, math.nan)
    final = walltime_per_seed(df, experiment, epoch)
    rows = []
    for (reading, size, run), jobs in final.groupby(["reading", "size", "run"], sort=False):
        stats = describe(jobs["seconds"])
        rows.append(
            {
                "reading": reading,
                "size": size,
                "run": run,
                "epoch": epoch if epoch is not None else int(jobs["epoch"].max()),
                "n_seeds": len(jobs),
                "n_diverged": int(jobs["failed"].sum()),
                **{f"seconds_{k}": v for k, v in stats.items() if k != "n"},
                "ratio_to_cons": describe(jobs["ratio"])["mean"],
                "paper_seconds": paper.get(run, math.nan),
                "paper_ratio_to_cons": paper.get(run, math.nan) / paper_base,
            }
        )
    return pd.DataFrame(rows, columns=WALLTIME_COLUMNS)


# ------------------------------------------------------------------ comparisons


@dataclass(frozen=True)
class Paired:
    """Per-seed differences a - b of two runs sharing seeds (and so pre-training).
    +inf: only a diverged on that seed; -inf: only b did. `ref`: mean of b's finite values,
    the scale of "huge" and of equivalence margins."""

    diffs: np.ndarray
    ref: float

    @property
    def finite(self) -> np.ndarray:
        return self.diffs[np.isfinite(self.diffs)]

    def __str__(self) -> str:
        f = self.finite
        text = f"{f.mean():+.3g}" if f.size else "n/a"
        if f.size >= 2:
            low, high = t_interval(f)
            text += f" [{low:+.3g}, {high:+.3g}]"
        text += f" (n={f.size}"
        if lost := int(np.isinf(self.diffs).sum()):
            text += f"; {lost} seed(s) where one run diverged"
        return text + ")"


def paired(a: pd.Series, b: pd.Series) -> Paired:
    """Pair two runs' per-seed values (Series indexed by seed). Seeds missing from either
    (NaN) and seeds where both diverged (both +inf) carry no information and are dropped."""
    both = pd.concat([a, b], axis=1, keys=["a", "b"]).astype(float).dropna()
    both = both[~(np.isinf(both["a"]) & np.isinf(both["b"]))]
    ref = both["b"][np.isfinite(both["b"])].mean()
    return Paired((both["a"] - both["b"]).to_numpy(), float(ref))


def direction(p: Paired) -> int:
    """-1: a is reliably below b; +1: reliably above; 0: unclear. Reliably: the 95% t-CI
    of the mean difference excludes 0 (one seed: the difference exceeds HUGE x ref), and
    every seed where only one run diverged (a loss for that run) agrees."""
    signs = {int(s) for s in np.sign(p.diffs[np.isinf(p.diffs)])}
    f = p.finite
    if f.size >= 2:
        low, high = t_interval(f)
        signs.add(-1 if high < 0 else 1 if low > 0 else 0)
    elif f.size == 1:
        signs.add(int(np.sign(f[0])) if abs(f[0]) > HUGE * abs(p.ref) else 0)
    return signs.pop() if len(signs) == 1 else 0


def lower(p: Paired) -> str:
    """Verdict on "a is lower than b"."""
    return {-1: HOLDS, 1: FAILS, 0: UNCLEAR}[direction(p)]


def higher(p: Paired) -> str:
    """Verdict on "a is higher than b"."""
    return {1: HOLDS, -1: FAILS, 0: UNCLEAR}[direction(p)]


def close(p: Paired, margin: float) -> str:
    """Verdict on "a is within ±margin x ref of b": holds when the 95% t-CI of the mean
    difference lies inside; does not hold when it lies wholly outside, when one run
    diverged on some seed, or (one seed) when the difference exceeds HUGE x ref."""
    m = margin * abs(p.ref)
    if np.isinf(p.diffs).any():
        return FAILS
    f = p.finite
    if f.size >= 2:
        low, high = t_interval(f)
        if -m <= low and high <= m:
            return HOLDS
        return FAILS if low > m or high < -m else UNCLEAR
    if f.size == 1 and abs(f[0]) > HUGE * abs(p.ref):
        return FAILS
    return UNCLEAR


def combine(verdicts: Iterable[str]) -> str:
    """All hold: holds; any does not hold: does not hold; otherwise inconclusive."""
    verdicts = list(verdicts)
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return FAILS if FAILS in verdicts else UNCLEAR


def _means(wide: pd.DataFrame, columns: Sequence) -> str:
    parts = []
    for c in columns:
        x = wide[c].astype(float)
        text = f"{c} {x[np.isfinite(x)].mean():.4g}"
        if lost := int(np.isinf(x).sum()):
            text += f" ({lost} diverged)"
        parts.append(text)
    return "means: " + ", ".join(parts)


# ------------------------------------------------------------------ claims
# Each claim is judged on a "wide" table: index seed, one column per run (per data size
# for claim 6), values the final-epoch test RER (+inf: diverged) or, for claim 2, seconds.

RELIABLY = (
    " Reliably lower/higher: the 95% t-CI of the mean per-seed difference (runs share seeds)"
    f" excludes 0; with one seed, the difference exceeds {HUGE:.0%} of the reference; a seed"
    " where only one run diverged counts as a loss for that run."
)
WITHIN = (
    " Within m: the 95% t-CI of the mean per-seed difference lies inside ±m (wholly outside,"
    f" any one-sided divergence, or with one seed a difference beyond {HUGE:.0%}: does not"
    " hold)."
)
EXP1_OTHERS = ["Cons+Cons", "AdaGrad+AdaGrad", "AdaDec+AdaDec"]
ADAPTIVE = ["AdaGrad+Cons", "AdaDec+Cons", "AdaMix+Cons"]
SIMPLE = ["Cons+Cons", "Exp+Cons", "Power+Cons"]
EXP4_OTHERS = ["Cons+Exp", "Cons+Power", "Cons+AdaGrad", "Cons+AdaDec", "Cons+AdaMix"]


def claim_adamix_lowest(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 1 (exp1): AdaMix+Power has a lower RER than each of the other three runs."""
    diffs = {run: paired(rer["AdaMix+Power"], rer[run]) for run in EXP1_OTHERS}
    numbers = "; ".join(f"AdaMix+Power − {run}: {p}" for run, p in diffs.items())
    return combine(lower(p) for p in diffs.values()), numbers


def claim_adamix_faster(seconds: pd.DataFrame) -> tuple[str, str]:
    """Claim 2 (exp1): AdaMix+Power takes less time than AdaGrad+AdaGrad and AdaDec+AdaDec."""
    diffs = {run: paired(seconds["AdaMix+Power"], seconds[run]) for run in EXP1_OTHERS[1:]}
    numbers = "; ".join(f"AdaMix+Power − {run}, seconds: {p}" for run, p in diffs.items())
    return combine(lower(p) for p in diffs.values()), numbers


def claim_weights_matter(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 3 (exp2): None+Cons is far worse than Cons+None, which is close to Cons+Cons."""
    far = paired(rer["None+Cons"], FAR * rer["Cons+None"])
    near = paired(rer["Cons+None"], rer["Cons+Cons"])
    numbers = (
        f"{_means(rer, ['Cons+None', 'Cons+Cons', 'None+Cons'])}; "
        f"None+Cons − {FAR:g}×Cons+None: {far}; Cons+None − Cons+Cons: {near}, "
        f"margin ±{CLOSE * abs(near.ref):.3g}"
    )
    return combine([higher(far), close(near, CLOSE)]), numbers


def claim_adaptive_weights(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 4 (exp3): every adaptive weight rule beats every simple one (9 pairs)."""
    verdicts = [lower(paired(rer[a], rer[s])) for a in ADAPTIVE for s in SIMPLE]
    numbers = (
        f"{_means(rer, ADAPTIVE + SIMPLE)}; of {len(verdicts)} pairs adaptive − simple: "
        f"{verdicts.count(HOLDS)} reliably lower, {verdicts.count(FAILS)} reliably higher"
    )
    return combine(verdicts), numbers


def claim_bias_rules_minor(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 5 (exp4): every bias rule's RER within BARELY of Cons+Cons's."""
    diffs = {run: paired(rer[run], rer[BASELINE]) for run in EXP4_OTHERS}
    means = rer.where(np.isfinite(rer)).mean()
    spread = means.max() - means.min()
    numbers = (
        f"spread of the six means {spread:.3g} ({spread / means[BASELINE]:.1%} of Cons+Cons); "
        f"margin ±{BARELY * means[BASELINE]:.3g}; "
        + "; ".join(f"{run} − Cons+Cons: {p}" for run, p in diffs.items())
    )
    return combine(close(p, BARELY) for p in diffs.values()), numbers


def claim_more_data(rer: pd.DataFrame) -> tuple[str, str]:
    """Claim 6 (exp5): RER decreases from each data size to the next larger one."""
    sizes = sorted(rer.columns)
    if len(sizes) < 2:
        return UNCLEAR, f"only one data size ({sizes[0]:g})"
    steps = {(s, t): paired(rer[t], rer[s]) for s, t in zip(sizes[:-1], sizes[1:], strict=True)}
    numbers = f"{_means(rer, sizes)}; " + "; ".join(
        f"{t:g} − {s:g}: {p}" for (s, t), p in steps.items()
    )
    return combine(lower(p) for p in steps.values()), numbers


@dataclass(frozen=True)
class Claim:
    number: int
    statement: str
    experiment: str
    runs: tuple[str, ...]  # the runs the claim needs
    judge: Callable[[pd.DataFrame], tuple[str, str]]
    rule: str
    value: str = "rer"  # or "seconds"
    columns: str = "run"  # or "size": one column per data size


CLAIMS = [
    Claim(
        1, "AdaMix has the lowest RER of the four in exp 1", "exp1",
        ("AdaMix+Power", *EXP1_OTHERS), claim_adamix_lowest,
        "Holds if AdaMix+Power is reliably lower than each of Cons+Cons, AdaGrad+AdaGrad and"
        " AdaDec+AdaDec; does not hold if reliably higher than any; else inconclusive."
        + RELIABLY,
    ),
    Claim(
        2, "AdaMix costs less time than AdaGrad and AdaDec (exp 1)", "exp1",
        ("AdaMix+Power", *EXP1_OTHERS[1:]), claim_adamix_faster,
        "Same as claim 1 on cumulative fine-tuning seconds at the final epoch, against"
        " AdaGrad+AdaGrad and AdaDec+AdaDec (diverged jobs left out: they stopped early)."
        + RELIABLY,
        value="seconds",
    ),
    Claim(
        3, "Weights matter far more than biases (exp 2)", "exp2",
        ("Cons+None", "Cons+Cons", "None+Cons"), claim_weights_matter,
        f"Holds if None+Cons is reliably higher than {FAR:g}× Cons+None AND Cons+None is within"
        f" ±{CLOSE:.0%} of Cons+Cons's mean RER; does not hold if None+Cons is reliably lower"
        f" than {FAR:g}× Cons+None or Cons+None is not within; else inconclusive."
        + RELIABLY
        + WITHIN,
    ),
    Claim(
        4, "Per-parameter weight rules beat simple ones (exp 3)", "exp3",
        (*ADAPTIVE, *SIMPLE), claim_adaptive_weights,
        "Holds if each of AdaGrad+Cons, AdaDec+Cons, AdaMix+Cons is reliably lower than each of"
        " Cons+Cons, Exp+Cons, Power+Cons (9 pairs); does not hold if any adaptive run is"
        " reliably higher than any simple one; else inconclusive." + RELIABLY,
    ),
    Claim(
        5, "Bias rules barely matter (exp 4)", "exp4",
        (BASELINE, *EXP4_OTHERS), claim_bias_rules_minor,
        f"Holds if each of the five other bias rules is within ±{BARELY:.0%} of Cons+Cons's mean"
        " RER; does not hold if any is not (see 'within'); else inconclusive." + WITHIN,
    ),
    Claim(
        6, "More data, lower RER (exp 5)", "exp5",
        ("AdaMix+Power",), claim_more_data,
        "Holds if the RER at each data size is reliably lower than at the next smaller size;"
        " does not hold if reliably higher at any step; else inconclusive (also with one"
        " size)." + RELIABLY,
        columns="size",
    ),
]  # fmt: skip

CLAIM_COLUMNS = [
    "claim", "statement", "experiment", "reading", "sizes", "verdict", "numbers", "rule",
]  # fmt: skip


def claims_table(df: pd.DataFrame, experiments: dict, epoch: int | None = None) -> pd.DataFrame:
    """One row per claim and reading (and data size, except claim 6): verdict, the numbers
    behind it and the rule. `experiments`: the config's experiments; a claim whose
    experiment or runs are absent gets "not run"."""
    final = final_rows(df, epoch)
    rows = []
    for claim in CLAIMS:
        rows += _judge(claim, final, experiments)
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def _judge(claim: Claim, final: pd.DataFrame, experiments: dict) -> list[dict]:
    base = {
        "claim": claim.number,
        "statement": claim.statement,
        "experiment": claim.experiment,
        "rule": claim.rule,
    }
    data = pd.DataFrame()
    if claim.experiment in experiments:
        data = select_experiment(final, experiments[claim.experiment])
    if data.empty:
        why = f"no results of {claim.experiment}"
        return [{**base, "reading": "", "sizes": "", "verdict": NOT_RUN, "numbers": why}]
    by = ["reading"] if claim.columns == "size" else ["reading", "size"]
    rows = []
    for keys, group in data.groupby(by, sort=False):
        sizes = ", ".join(f"{s:g}" for s in group["size"].unique())
        row = {**base, "reading": keys[0], "sizes": sizes}
        if missing := [run for run in claim.runs if run not in set(group["run"])]:
            rows.append({**row, "verdict": NOT_RUN, "numbers": f"missing runs: {missing}"})
            continue
        group = group[group["run"].isin(claim.runs)]
        wide = group.pivot(index="seed", columns=claim.columns, values=claim.value)
        verdict, numbers = claim.judge(wide)
        rows.append({**row, "verdict": verdict, "numbers": numbers})
    return rows


# ------------------------------------------------------------------ writing


def write_table(
    df: pd.DataFrame,
    csv_path: str | Path,
    md_path: str | Path,
    title: str,
    html_path: str | Path | None = None,
    note: str = "",
) -> None:
    """Write a table as CSV (full precision), Markdown (title line, optional note, 4
    significant digits) and optionally as a standalone HTML page (for Snakemake's report,
    which shows HTML inline but offers CSV only as a download)."""
    df.to_csv(csv_path, index=False)
    shown = df.astype(object).where(df.notna(), None)  # blank cells, not "nan"
    md = shown.to_markdown(index=False, floatfmt=".4g", missingval="")
    parts = [f"# {title}", note, md]
    Path(md_path).write_text("\n\n".join(p for p in parts if p) + "\n", encoding="utf-8")
    if html_path is not None:
        Path(html_path).write_text(_html_page(df, title, note), encoding="utf-8")


def _html_page(df: pd.DataFrame, title: str, note: str) -> str:
    table = df.to_html(index=False, na_rep="", float_format=lambda x: f"{x:.4g}", border=0)
    style = (
        "body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse}"
        "th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}"
    )
    paragraph = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{paragraph}{table}"
        "</body></html>\n"
    )
