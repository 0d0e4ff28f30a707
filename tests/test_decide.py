"""Seeds until decided (`snakemake decide`): the looks on synthetic job files with
hand-computed verdicts, and the real pipeline on the tiny test configuration."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest
import scipy.stats
from test_tables import job_rows

from adamix.report.decide import look, read_look, write_decide_table
from adamix.report.metrics import write_metrics
from adamix.report.stats import FAILS, HOLDS, UNCLEAR
from conftest import snakemake

LOOKS = [3, 5, 10]
EXP1 = ["Cons+Cons", "AdaGrad+AdaGrad", "AdaDec+AdaDec", "AdaMix+Power"]


def entries(tmp_path, name: str, finals: dict, size=0.1) -> list[list]:
    """Job files whose final test RER is finals[run][seed] (None: diverged), and the
    look entries that read them under hypothesis `name`."""
    out = []
    for run, values in finals.items():
        for seed, final in enumerate(values):
            path = tmp_path / f"{name}-{run}-{size}-{seed}.parquet"
            write_metrics(job_rows(run, size, seed, final), path)
            out.append([name, name.split()[1], run, str(size), seed, str(path)])
    return out


def test_claim_1_pairs_adamix_with_the_best_other_run_and_stops_once_decided(tmp_path):
    finals = {
        "Cons+Cons": [8.0, 8.2, 8.1],
        "AdaGrad+AdaGrad": [9.0, 9.0, 9.0],
        "AdaDec+AdaDec": [7.6, 7.9, 7.7],  # the best other run: mean 7.73
        "AdaMix+Power": [7.5, 7.7, 7.6],  # differences -0.1, -0.2, -0.1
    }
    result = look(entries(tmp_path, "claim1 default", finals), 1, LOOKS, 0.05)
    h = result["hypotheses"]["claim1 default"]
    part = h["parts"]["vs AdaDec+AdaDec"]
    assert part["mean"] == pytest.approx(-0.4 / 3)
    # t = mean / (sd / sqrt 3) = -4.0 with sd = 0.0577: p = 0.057 > 0.05 / 3, undecided
    t = (-0.4 / 3) / (math.sqrt(1 / 300) / math.sqrt(3))
    assert h["p"] == pytest.approx(2 * scipy.stats.t.cdf(t, 2))
    assert (h["verdict"], h["seeds"], h["next"], result["done"]) == (UNCLEAR, 3, 5, False)
    finals["AdaMix+Power"] = [6.6, 6.9, 6.7]  # -1.0, -1.0, -1.0: decided, it stops
    result = look(entries(tmp_path, "claim1 default", finals), 1, LOOKS, 0.05)
    h = result["hypotheses"]["claim1 default"]
    assert (h["verdict"], h["next"], result["done"]) == (HOLDS, 3, True)


def test_claim_8_holds_only_where_it_holds_at_every_size(tmp_path):
    clear = {"Cons+Cons": [8.0, 8.2, 8.1], "AdaMix+Power": [7.0, 7.1, 7.1]}
    noisy = {"Cons+Cons": [5.0, 5.2, 5.1], "AdaMix+Power": [4.0, 5.6, 5.1]}
    one = entries(tmp_path, "claim8 default", clear, size=0.1)
    both = one + entries(tmp_path, "claim8 default", noisy, size=0.3)
    assert look(one, 1, LOOKS, 0.05)["hypotheses"]["claim8 default"]["verdict"] == HOLDS
    h = look(both, 1, LOOKS, 0.05)["hypotheses"]["claim8 default"]
    assert set(h["parts"]) == {"vs Cons+Cons at size 0.1", "vs Cons+Cons at size 0.3"}
    assert (h["verdict"], h["next"]) == (UNCLEAR, 5)
    worse = {"Cons+Cons": [5.0, 5.2, 5.1], "AdaMix+Power": [6.0, 6.3, 6.1]}
    h = look(one + entries(tmp_path, "claim8 default", worse, 0.3), 1, LOOKS, 0.05)
    assert h["hypotheses"]["claim8 default"]["verdict"] == FAILS


def test_a_diverged_seed_is_a_loss_and_the_cap_stops_the_looks(tmp_path):
    finals = {"Cons+Cons": [8.0, 8.2, 8.1], "AdaMix+Power": [7.0, 7.1, None]}
    h = look(entries(tmp_path, "claim8 default", finals), 1, LOOKS, 0.05)["hypotheses"]
    part = h["claim8 default"]["parts"]["vs Cons+Cons at size 0.1"]
    assert part["diverged"] == 1 and h["claim8 default"]["verdict"] == UNCLEAR  # not dropped
    noisy = {"Cons+Cons": [8.0 + (i % 3) / 10 for i in range(3)], "AdaMix+Power": [8.3, 7.9, 8.1]}
    result = look(entries(tmp_path, "claim8 default", noisy), 1, [2, 3], 0.05)
    h = result["hypotheses"]["claim8 default"]
    assert (h["verdict"], h["seeds"], h["next"], result["done"]) == (UNCLEAR, 3, 3, True)
    assert h["parts"]["vs Cons+Cons at size 0.1"]["detectable"] > 0


def test_the_writeup_section_gives_each_hypothesis_its_verdict_and_seeds(tmp_path):
    from adamix.report.decide import decide_section, write_look

    clear = {"Cons+Cons": [8.0, 8.2, 8.1], "AdaMix+Power": [7.0, 7.1, 7.1]}
    noisy = {"Cons+Cons": [8.0, 8.1, 8.2], "AdaMix+Power": [8.3, 7.9, 8.1]}
    found = entries(tmp_path, "claim8 default", clear) + entries(
        tmp_path, "claim8 per_epoch", noisy
    )
    write_look(found, tmp_path / "look1.json", 1, [2, 3], 0.05)  # 3 seeds: the cap
    out = {e: tmp_path / f"decide.{e}" for e in ("csv", "md", "html")}
    write_decide_table(tmp_path / "look1.json", out)
    table = pd.read_csv(out["csv"], dtype=str, keep_default_na=False)
    text = decide_section(table, {"readings": ["default", "per_epoch"], "looks": [2, 3],
                                  "alpha": 0.05})  # fmt: skip
    assert "Claim 8 under `default`: **holds** with 3 seeds." in text
    detectable = table.loc[table["reading"] == "per_epoch", "detectable"].iloc[0]
    assert float(detectable) > 0
    assert (
        f"Claim 8 under `per_epoch`: **inconclusive** with 3 seeds, the cap; the"
        f" smallest effect it could have detected is {detectable}." in text
    )
    assert "`default` and `per_epoch`" in text and "looks at 2, 3 seeds" in text


@pytest.fixture(scope="module")
def decided(pipeline, tmp_path_factory):
    """A copy of the finished test run, then `snakemake decide` with looks of 2 and 3
    seeds (the test config has one seed: the looks add seeds 1 and 2)."""
    workdir = tmp_path_factory.mktemp("decide") / "wf"
    shutil.copytree(pipeline, workdir, ignore=shutil.ignore_patterns("locks"))
    snakemake(workdir, "--cores", "2", "decide", "--config", "decide={looks: [2, 3]}")
    return workdir


def test_decide_adds_seeds_only_to_undecided_hypotheses(decided):
    first = read_look(decided / "results/decide/look1.json")
    hypotheses = first["hypotheses"]
    assert set(hypotheses) == {f"{c} {r}" for c in ("claim1", "claim8")
                               for r in ("default", "per_epoch")}  # fmt: skip
    assert {h["seeds"] for h in hypotheses.values()} == {2}
    undecided = {n for n, h in hypotheses.items() if h["verdict"] == UNCLEAR}
    assert {n for n, h in hypotheses.items() if h["next"] == 3} == undecided
    # Seed 2 ran exactly for the cells of the hypotheses still undecided after look 1.
    seed2 = {p.parent.parent for p in (decided / "results/finetune").rglob("seed2/metrics.parquet")}
    expected = set()
    for name in undecided:
        claim, reading = name.split()
        runs, sizes = (EXP1, ["0.01"]) if claim == "claim1" else (["AdaMix+Power", "Cons+Cons"],
                                                                   ["0.01", "0.02"])  # fmt: skip
        # Cons+Cons reads no adaptive setting: its per_epoch cell is the default job's
        job_reading = {run: "default" if run == "Cons+Cons" else reading for run in runs}
        expected |= {decided / f"results/finetune/mnist/{job_reading[r]}/{s}/{r}"
                     for r in runs for s in sizes}  # fmt: skip
    assert seed2 == expected
    last = decided / ("results/decide/look2.json" if undecided else "results/decide/look1.json")
    table = pd.read_csv(decided / "results/tables/decide.csv")
    final = read_look(last)
    assert final["done"] and (decided / "results/decide/look2.json").exists() == bool(undecided)
    assert all(h["seeds"] <= 3 for h in final["hypotheses"].values())
    seeds = {(r.claim, r.reading): r.seeds for r in table.itertuples()}
    assert seeds == {tuple(n.split()): h["seeds"] for n, h in final["hypotheses"].items()}


def test_claim_8s_pairing_is_recomputed_from_the_job_files(decided):
    final = read_look(sorted((decided / "results/decide").glob("look*.json"))[-1])
    h = final["hypotheses"]["claim8 default"]
    for size in ("0.01", "0.02"):
        diffs = []
        for seed in range(h["seeds"]):
            rer = {}
            for run in ("AdaMix+Power", "Cons+Cons"):
                path = f"results/finetune/mnist/default/{size}/{run}/seed{seed}/metrics.parquet"
                rows = pd.read_parquet(decided / path)
                rer[run] = rows.sort_values("epoch")["test_rer_sse"].iloc[-1]
            diffs.append(rer["AdaMix+Power"] - rer["Cons+Cons"])
        part = h["parts"][f"vs Cons+Cons at size {size}"]
        assert part["mean"] == pytest.approx(sum(diffs) / len(diffs), rel=1e-6)
    assert json.loads((decided / "results/decide/look1.json").read_text())["looks"] == [2, 3]
