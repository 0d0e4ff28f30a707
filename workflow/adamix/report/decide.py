"""Seeds until decided, on the study's runs (rules decide_look and decide): each look's
verdicts on the primary hypotheses (adamix.plan.decide) by the pre-registered stopping
rule (adamix.report.sequential), the seeds the next look needs, and the final table.

Claim 1 under a reading pairs AdaMix+Power with the other run of experiment 1 that has
the lowest mean final test RER at this look; claim 8 pairs AdaMix+Power with Cons+Cons at
every size of experiment 5 and holds only where it holds at every size. A seed where one
run diverged is that run's loss (a difference of +inf or -inf), never dropped.

Look 1 also judges whether the data subset adds variance (subset_verdict): if it does,
the seeds added from look 2 on train on subsets drawn per seed (config decide.subset
`auto`, adamix.plan.decide).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from adamix.atomic import atomic
from adamix.report.metrics import load_metrics
from adamix.report.render import markdown, render
from adamix.report.sequential import detectable, p_value_of, seeds_needed, verdicts
from adamix.report.stats import UNCLEAR, Paired, paired
from adamix.report.subsets import subset_share
from adamix.report.tables import final_rows, write_table

CANDIDATE, BASELINE = "AdaMix+Power", "Cons+Cons"
ENTRY = ["hypothesis", "reading", "run", "size", "seed", "path"]


def final_rer(entries: Sequence[Sequence], columns: Sequence[str] = ENTRY) -> pd.DataFrame:
    """One row per entry (`columns`, the last one the job's metrics parquet): its job's
    final test RER `rer` (+inf where it diverged) and `failed`."""
    frame = pd.DataFrame([list(e) for e in entries], columns=list(columns))
    final = {}
    for path in dict.fromkeys(frame["path"]):
        row = final_rows(load_metrics([path])).iloc[-1]
        final[path] = (float(row["rer"]), bool(row["failed"]))
    frame["rer"] = [final[p][0] for p in frame["path"]]
    frame["failed"] = [final[p][1] for p in frame["path"]]
    return frame


def subset_verdict(entries: Sequence[Sequence], alpha: float) -> dict:
    """Whether the subset adds variance over seeds (the pre-registered rule, docs/paper.md):
    `entries` ([reading, run, seed, per_seed, metrics parquet], adamix.plan.decide
    .subset_entries) give final test RERs; the variance over seeds within each reading and
    run, pooled under the fixed and under the per-seed subsets, and the one-sided F-test of
    their ratio (adamix.report.subsets.subset_share); it `matters` where p < alpha."""
    frame = final_rer(entries, ["reading", "run", "seed", "per_seed", "path"])
    rows = frame.assign(reading=frame["reading"] + " " + frame["run"], run="pooled")
    share = subset_share(rows).iloc[0]
    verdict = {k: float(share[k]) for k in ("var_fixed", "var_per_seed", "share", "f", "p")}
    verdict |= {k: int(share[k]) for k in ("df_fixed", "df_per_seed")}
    return verdict | {"matters": bool(share["p"] < alpha)}  # NaN (no variance): it does not


def differences(frame: pd.DataFrame) -> dict[str, dict[str, Paired]]:
    """{hypothesis: {part: paired differences, AdaMix+Power minus its opponent}}: claim 1
    one part (against the best other run), claim 8 one part per size."""
    out = {}
    for name, rows in frame.groupby("hypothesis", sort=False):
        claim = name.split()[0]
        parts = {}
        for size, at in rows.groupby("size", sort=False):
            rer = at.pivot_table(index="seed", columns="run", values="rer", aggfunc="first")
            if claim == "claim1":
                others = rer.drop(columns=CANDIDATE).replace(math.inf, np.nan).mean()
                opponent = others.idxmin()
                parts[f"vs {opponent}"] = paired(rer[CANDIDATE], rer[opponent])
            else:
                parts[f"vs {BASELINE} at size {size}"] = paired(rer[CANDIDATE], rer[BASELINE])
        out[name] = parts
    return out


def look(entries: Sequence[Sequence], number: int, looks: Sequence[int], alpha: float) -> dict:
    """The verdict of look `number` on every hypothesis of `entries`, and the seeds each
    runs with next (`next` equal to `seeds`: stopped, decided or at the cap)."""
    frame = final_rer(entries)
    counts = frame.groupby("hypothesis", sort=False)["seed"].nunique().to_dict()
    pairs = differences(frame)
    diffs = {name: {part: p.diffs for part, p in parts.items()} for name, parts in pairs.items()}
    verdict = verdicts(diffs, alpha, looks)
    nxt = seeds_needed(diffs, alpha, looks, counts)
    pvalues = {name: p_value_of(d)[0] for name, d in diffs.items()}
    # Holm's step-down tests the hypothesis of rank r (0: smallest p) at alpha / looks / (m - r)
    steps = {name: len(pvalues) - r for r, name in enumerate(sorted(pvalues, key=pvalues.get))}
    hypotheses = {}
    for name, parts in pairs.items():
        p = pvalues[name]
        hypotheses[name] = {
            "claim": name.split()[0],
            "reading": name.split()[1],
            "seeds": int(counts[name]),
            "next": int(nxt[name]),
            "verdict": verdict[name],
            "p": p,
            "parts": {part: _part(pair, alpha, looks, steps[name]) for part, pair in parts.items()},
        }
    done = all(h["next"] == h["seeds"] for h in hypotheses.values())
    return {"look": number, "looks": list(looks), "alpha": alpha, "done": done,
            "hypotheses": hypotheses}  # fmt: skip


def _part(pair: Paired, alpha: float, looks: Sequence[int], step: int) -> dict:
    """The mean paired difference with its t-interval at the level Holm tested it at in
    this look (alpha / looks / step), the seeds where one run diverged, and that interval's
    half-width: the smallest effect this look could tell from 0."""
    finite = pair.finite
    mean = float(finite.mean()) if finite.size else math.nan
    half = detectable(pair.diffs, alpha, looks, step)
    return {
        "mean": mean,
        "low": mean - half,
        "high": mean + half,
        "diverged": int(np.isinf(pair.diffs).sum()),
        "detectable": half,
    }


def write_look(
    entries: Sequence[Sequence], out: str | Path, number: int, looks, alpha, subset=None
) -> dict:
    """look(...) written as JSON (NaN as null), with `subset` (a mapping: the subset the
    seeds added beyond config `seeds` train on, and why) where given."""
    result = look(entries, number, looks, alpha)
    if subset is not None:
        result["subset"] = dict(subset)
    text = json.dumps(_nan_to_none(result), indent=1)
    with atomic(out) as tmp:
        Path(tmp).write_text(text + "\n")
    return result


def _nan_to_none(value):
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_look(path: str | Path) -> dict:
    """A look written by write_look."""
    return json.loads(Path(path).read_text())


def decide_table(result: Mapping) -> pd.DataFrame:
    """One row per hypothesis and part of the last look: seeds, verdict, p, the mean
    difference with its interval at the level Holm tested it at, diverged seeds, and,
    where still undecided at the cap, the smallest effect the study could have detected;
    then the subset the added seeds trained on and look 1's test of it (the same on every
    row)."""
    subset = result.get("subset", {"mode": "shared", "per_seed": False})
    test = ""
    if "f" in subset:
        test = f"F = {_number(subset['f'], '{:.2f}')}, p = {_number(subset['p'], '{:.2g}')}"
    rows = []
    for h in result["hypotheses"].values():
        capped = h["verdict"] == UNCLEAR and h["seeds"] == result["looks"][-1]
        for part, d in h["parts"].items():
            rows.append({
                "claim": h["claim"], "reading": h["reading"], "comparison": part,
                "seeds": h["seeds"], "verdict": h["verdict"], "p": _number(h["p"], "{:.2g}"),
                "difference [tested interval]": f"{_number(d['mean'], '{:+.2f}')} "
                f"[{_number(d['low'], '{:+.2f}')}, {_number(d['high'], '{:+.2f}')}]",
                "diverged seeds": d["diverged"],
                "detectable": _number(d["detectable"], "{:.2f}") if capped else "",
                "added seeds' subset": "per seed" if subset["per_seed"] else "shared",
                "subset test": test,
            })  # fmt: skip
    return pd.DataFrame(rows)


def _number(value, fmt: str) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "n/a" if missing else fmt.format(value)


def write_decide_table(last_look: str | Path, out: Mapping) -> None:
    """The table of the last look (rule decide)."""
    result = read_look(last_look)
    note = (
        f"The primary hypotheses after look {result['look']} of {result['looks']} seeds"
        f" (docs/paper.md, the pre-registered analysis): family-wise alpha {result['alpha']}"
        " split by Holm across the hypotheses and evenly over the looks; difference:"
        " AdaMix+Power minus its opponent, per seed (below 0: AdaMix+Power ends lower),"
        " its mean with the two-sided t-interval at the level Holm tested the hypothesis"
        " at in this look (alpha / looks / the hypotheses from its rank by p on: holds"
        " when below 0; claim 8's does not hold also multiplies p by the sizes), a"
        " diverged seed a loss that agrees in sign or leaves the hypothesis undecided;"
        " detectable: for a hypothesis undecided at the last look, that interval's"
        " half-width, the smallest effect the study could detect;"
        " added seeds' subset: the subset the seeds beyond look 1's trained on (from"
        " look 2 on under decide.subset `auto`), after look 1's one-sided F-test of the"
        " variance over seeds under per-seed against the shared subset (subset test)."
    )
    write_table(decide_table(result), out, "Seeds until decided", note)


def _hypotheses(table: pd.DataFrame) -> list[dict]:
    """Per hypothesis of the decide table (cells as strings): claim, reading, verdict,
    seeds, whether it stopped at the cap undecided, and the effect it could have detected."""
    return [
        {"claim": claim, "reading": reading, "verdict": rows["verdict"].iloc[0],
         "seeds": int(rows["seeds"].iloc[0]),
         "capped": any(rows["detectable"].astype(str) != ""),
         "detectable": ", ".join(str(d) for d in rows["detectable"] if str(d) != "")}
        for (claim, reading), rows in table.groupby(["claim", "reading"], sort=False)
    ]  # fmt: skip


def _subset(table: pd.DataFrame) -> dict:
    """The subset the added seeds trained on (`per_seed`) and look 1's test of it (`test`,
    "" where none ran), from the decide table's last two columns where it has them."""
    if "added seeds' subset" not in table:
        return {"per_seed": False, "test": ""}
    first = table.iloc[0]
    return {"per_seed": first["added seeds' subset"] == "per seed", "test": first["subset test"]}


def decide_section(table: pd.DataFrame, decide: Mapping) -> str:
    """The write-up's section on the primary analysis: the table of rule decide (read back
    from its CSV, cells as strings) and one sentence per hypothesis. `decide`: the config's
    `decide` block (readings, looks, alpha)."""
    table = table.fillna("")
    hypotheses = _hypotheses(table)
    return render(
        "decide.md.j2",
        readings=decide["readings"],
        looks=decide["looks"],
        alpha=decide["alpha"],
        hypotheses=hypotheses,
        subset=_subset(table),
        added=max(h["seeds"] for h in hypotheses) > decide["looks"][0],
        table=markdown(table.drop(columns=["added seeds' subset", "subset test"], errors="ignore")),
    )


def decide_headline(table: pd.DataFrame, decide: Mapping) -> str:
    """The primary analysis in one paragraph for the headline: each hypothesis's verdict
    and seeds, and what look 1 found about the subset (with the subset the added seeds
    trained on, if any were added). `decide`: the config's `decide` block (looks)."""
    table = table.fillna("")
    hypotheses = _hypotheses(table)
    added = max(h["seeds"] for h in hypotheses) > decide["looks"][0]
    return render("decide_headline.md.j2", hypotheses=hypotheses, subset=_subset(table),
                  added=added)  # fmt: skip
