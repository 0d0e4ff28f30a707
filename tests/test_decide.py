"""Seeds until decided (`snakemake decide`): the looks on synthetic job files with
hand-computed verdicts, and the real pipeline on the tiny test configuration."""

from __future__ import annotations

import json
import math
import re
import shutil

import pandas as pd
import pytest
import scipy.stats
from test_plan import load_config
from test_tables import job_rows

from adamix.plan.config import per_seed_reading
from adamix.plan.decide import look_entries, subset_entries
from adamix.plan.study import Plan
from adamix.report.decide import (
    decide_headline,
    decide_section,
    decide_table,
    look,
    read_look,
    subset_verdict,
    write_decide_table,
    write_look,
)
from adamix.report.metrics import write_metrics
from adamix.report.stats import FAILS, HOLDS, UNCLEAR
from adamix.schedules.registry import catalog
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


def test_each_interval_is_at_the_level_holm_tested_its_hypothesis_at(tmp_path):
    """Two hypotheses, one look of three: the one with the smaller p is tested at
    0.05 / 3 / 2, the other at 0.05 / 3 / 1; the interval and `detectable` use that level."""
    clear = {"Cons+Cons": [8.0, 8.2, 8.1], "AdaMix+Power": [7.0, 7.1, 7.1]}  # -1.0 -1.1 -1.0
    noisy = {"Cons+Cons": [8.0, 8.1, 8.2], "AdaMix+Power": [8.3, 7.9, 8.1]}  # 0.3 -0.2 -0.1
    found = entries(tmp_path, "claim8 default", clear) + entries(
        tmp_path, "claim8 per_epoch", noisy
    )
    h = look(found, 1, LOOKS, 0.05)["hypotheses"]
    for name, diffs, step in [("claim8 default", [-1.0, -1.1, -1.0], 2),
                              ("claim8 per_epoch", [0.3, -0.2, -0.1], 1)]:  # fmt: skip
        half = scipy.stats.t.ppf(1 - 0.05 / 3 / step / 2, 2) * pd.Series(diffs).std() / 3**0.5
        part = h[name]["parts"]["vs Cons+Cons at size 0.1"]
        assert part["detectable"] == pytest.approx(half)
        mean = sum(diffs) / 3
        assert (part["low"], part["high"]) == pytest.approx((mean - half, mean + half))
    assert h["claim8 default"]["verdict"] == HOLDS  # its interval lies below 0
    assert h["claim8 default"]["parts"]["vs Cons+Cons at size 0.1"]["high"] < 0


def test_the_writeup_section_gives_each_hypothesis_its_verdict_and_seeds(tmp_path):
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


def subset_jobs(tmp_path, finals: dict) -> list[list]:
    """Job files whose final test RER is finals[(reading, per_seed)][run][seed], and the
    entries of the subset's test that read them ([reading, run, seed, per_seed, path])."""
    out = []
    for (reading, per_seed), runs in finals.items():
        for run, values in runs.items():
            for seed, final in enumerate(values):
                path = tmp_path / f"subset-{reading}-{run}-{seed}.parquet"
                write_metrics(job_rows(run, 0.1, seed, final, reading=reading), path)
                out.append([reading, run, seed, per_seed, str(path)])
    return out


def test_the_subset_test_pools_runs_and_readings_and_decides_at_alpha(tmp_path):
    finals = {
        ("default", False): {"A+A": [8.0, 8.1, 8.2], "B+B": [7.0, 7.2, 7.4]},  # var .01, .04
        ("subset-per_seed", True): {"A+A": [8.0, 9.0, 10.0], "B+B": [7.0, 8.0, 9.0]},  # 1, 1
    }
    found = subset_verdict(subset_jobs(tmp_path, finals), 0.05)
    # pooled over (reading, run): fixed (0.02 + 0.08) / 4 = 0.025, per seed 4 / 4 = 1
    assert found["var_fixed"] == pytest.approx(0.025) and found["var_per_seed"] == pytest.approx(1)
    assert (found["df_fixed"], found["df_per_seed"]) == (4, 4)
    assert found["f"] == pytest.approx(40) and found["share"] == pytest.approx(0.975)
    assert found["p"] == pytest.approx(scipy.stats.f.sf(40, 4, 4)) and found["matters"]
    finals[("subset-per_seed", True)] = {"A+A": [8.0, 8.2, 8.1], "B+B": [7.3, 7.1, 7.2]}
    found = subset_verdict(subset_jobs(tmp_path, finals), 0.05)
    assert found["f"] == pytest.approx(0.01 / 0.025) and not found["matters"]  # var .01, .01


def test_added_seeds_read_the_per_seed_subset_jobs_once_it_matters():
    plan = Plan(load_config(), catalog())  # config.yaml: seeds 0-2, looks 3, 5, 10
    assert per_seed_reading(plan.config, "per_epoch") == "per_epoch_subset-per_seed"
    counts = {"claim1 default": 5, "claim1 per_epoch": 3, "claim8 default": 3,
              "claim8 per_epoch": 3}  # fmt: skip
    for per_seed, reading in ((False, "default"), (True, "subset-per_seed")):
        found = [e for e in look_entries(plan, counts, per_seed) if e[0] == "claim1 default"]
        assert len(found) == 4 * 5  # exp1's four runs at seeds 0-4
        for _, hypothesis_reading, run, size, seed, path in found:
            job = reading if seed >= 3 else "default"
            assert hypothesis_reading == "default"
            assert path == f"results/finetune/mnist/{job}/{size}/{run}/seed{seed}/metrics.parquet"
    # the test: exp1 at look 1's seeds under both primary readings and their per-seed
    # counterparts, each job once (Cons+Cons reads no adaptive setting: one job per subset)
    tested = subset_entries(plan)
    assert len(tested) == len({e[-1] for e in tested}) == (4 + 3) * 2 * 3
    assert {(e[0], e[3]) for e in tested} == {
        ("default", False), ("per_epoch", False),
        ("subset-per_seed", True), ("per_epoch_subset-per_seed", True),
    }  # fmt: skip
    config = {**plan.config, "readings": {"default": {}, "per_epoch": {"update": "epoch"}}}
    with pytest.raises(ValueError, match="no reading is 'default' with its subset drawn per seed"):
        per_seed_reading(config, "default")


def test_the_headline_and_section_say_which_subset_the_added_seeds_used(tmp_path):
    clear = {"Cons+Cons": [8.0, 8.2, 8.1], "AdaMix+Power": [7.0, 7.1, 7.1]}
    result = look(entries(tmp_path, "claim8 default", clear), 1, [3, 5], 0.05)
    result["subset"] = {"mode": "auto", "per_seed": True, "f": 40.0, "p": 0.0018}
    table = decide_table(result).astype(str)
    assert set(table["added seeds' subset"]) == {"per seed"}
    assert set(table["subset test"]) == {"F = 40.00, p = 0.0018"}
    text = decide_section(table, {"readings": ["default"], "looks": [3, 5], "alpha": 0.05})
    assert "(one-sided F-test at alpha 0.05): F = 40.00, p = 0.0018." in text
    assert "had one, they would have trained on subsets drawn per seed" in text
    assert "added seeds' subset" not in text  # a sentence, not two repeated columns
    assert re.search(r"\.\n\n\| claim", text)  # Markdown needs a blank line before a table
    line = decide_headline(table, {"looks": [3, 5]})
    assert "claim 8 holds under `default` (3 seeds)." in line
    # decided at look 1: no seeds added, so no subset they trained on
    assert "The data subset adds variance over seeds (F = 40.00, p = 0.0018)." in line
    assert "No hypothesis needed seeds beyond look 1." in line
    added = decide_headline(table.assign(seeds="5"), {"looks": [3, 5]})
    assert "(F = 40.00, p = 0.0018): the seeds added after look 1 trained on subsets drawn" in added
    assert "No hypothesis needed" not in added
    result["subset"] = {"mode": "shared", "per_seed": False}  # no test ran: nothing to say
    assert "subset" not in decide_headline(decide_table(result).astype(str), {"looks": [3, 5]})


@pytest.fixture(scope="module")
def decided(pipeline, tmp_path_factory):
    """A copy of the finished test run, then `snakemake decide` with looks of 2 and 3
    seeds (the test config has one seed: the looks add seeds 1 and 2), under the primary
    reading `default` (per_epoch's jobs are planned alike: test_added_seeds_read_...)."""
    workdir = tmp_path_factory.mktemp("decide") / "wf"
    shutil.copytree(pipeline, workdir, ignore=shutil.ignore_patterns("locks"))
    decide = "decide={looks: [2, 3], readings: [default]}"
    snakemake(workdir, "--cores", "2", "decide", "--config", decide)
    return workdir


def test_decide_adds_seeds_only_to_undecided_hypotheses(decided):
    first = read_look(decided / "results/decide/look1.json")
    hypotheses = first["hypotheses"]
    assert set(hypotheses) == {"claim1 default", "claim8 default"}
    assert {h["seeds"] for h in hypotheses.values()} == {2}
    undecided = {n for n, h in hypotheses.items() if h["verdict"] == UNCLEAR}
    assert {n for n, h in hypotheses.items() if h["next"] == 3} == undecided
    # Look 1 tested the subset (decide.subset `auto`) on exp1 at seeds 0 and 1, the fixed
    # subset against the per-seed one, and look 2's seed trains on what it decided.
    subset = first["subset"]
    assert subset["mode"] == "auto" and subset["per_seed"] == (subset["p"] < 0.05)
    assert (subset["df_fixed"], subset["df_per_seed"]) == (4, 4)  # exp1's 4 runs, 2 seeds
    for seed in (0, 1):
        assert (decided / f"results/data/mnist/seed{seed}/subset_0.01.npz").exists()
    reading = "subset-per_seed" if subset["per_seed"] else "default"
    # Seed 2 ran exactly for the cells of the hypotheses still undecided after look 1.
    seed2 = {p.parent.parent for p in (decided / "results/finetune").rglob("seed2/metrics.parquet")}
    expected = set()
    for name in undecided:
        runs, sizes = (EXP1, ["0.01"]) if name.startswith("claim1") else (
            ["AdaMix+Power", "Cons+Cons"], ["0.01", "0.02"])  # fmt: skip
        expected |= {decided / f"results/finetune/mnist/{reading}/{s}/{r}"
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
    # seed 2, added by look 2, trained on what look 1 decided about the subset
    per_seed = read_look(decided / "results/decide/look1.json")["subset"]["per_seed"]
    for size in ("0.01", "0.02"):
        diffs = []
        for seed in range(h["seeds"]):
            rer = {}
            for run in ("AdaMix+Power", "Cons+Cons"):
                reading = "subset-per_seed" if per_seed and seed == 2 else "default"
                path = f"results/finetune/mnist/{reading}/{size}/{run}/seed{seed}/metrics.parquet"
                rows = pd.read_parquet(decided / path)
                rer[run] = rows.sort_values("epoch")["test_rer_sse"].iloc[-1]
            diffs.append(rer["AdaMix+Power"] - rer["Cons+Cons"])
        part = h["parts"][f"vs Cons+Cons at size {size}"]
        assert part["mean"] == pytest.approx(sum(diffs) / len(diffs), rel=1e-6)
    assert json.loads((decided / "results/decide/look1.json").read_text())["looks"] == [2, 3]
