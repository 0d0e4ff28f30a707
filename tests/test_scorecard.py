"""`snakemake scorecard`: a user's rule (RMS+Cons, tests/plugins/user_rules.py) scored seed by
seed against a small reference made here, on the tiny test configuration with two seeds."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from adamix.plan.paths import SCORECARD_CALIBRATION, SCORECARD_OUTPUTS
from adamix.report.metrics import save_reference
from adamix.report.scorecard import BETTER, UNDECIDED, WORSE, compare, epochs_to
from conftest import snakemake

BASELINES = ["Cons+Cons", "AdaGrad+AdaGrad", "AdaDec+AdaDec", "AdaMix+Power"]
# The tuned baselines (the test config's tuning.runs) at the rates of the made reference.
TUNED = {"Cons+Cons": 0.001, "Adam+Adam": 0.01}
T_975_1 = 12.706204736174707  # t(0.975, 1 degree of freedom), from a table


def card(reference: str, seeds: str = "[0,1]", runs: str = "[RMS+Cons]") -> list[str]:
    return ["--config", f"seeds={seeds}", f"scorecard={{runs: {runs}, reference: {reference}}}"]


def job(workdir, reading: str, run: str, seed: int) -> pd.DataFrame:
    path = workdir / f"results/finetune/mnist/{reading}/0.01/{run}/seed{seed}/metrics.parquet"
    return pd.read_parquet(path)


def reference_rows(rows: pd.DataFrame, reading: str) -> pd.DataFrame:
    """A job's rows as a reference holds them, under the cell's reading."""
    return rows.assign(reading=reading)


def synthetic_reference(path) -> None:
    """Every baseline at RER 99 - epoch + seed: no machine reproduces it."""
    rows = []
    cells = [("default", run) for run in BASELINES]
    cells += [(f"default~lr{rate:g}", run) for run, rate in TUNED.items()]
    for reading, run in cells:
        weight, bias = run.split("+")
        for seed in (0, 1):
            for epoch in range(3):
                rer = 99.0 - epoch + seed
                rows.append({
                    "dataset": "mnist", "reading": reading, "weight_rule": weight,
                    "bias_rule": bias, "size": 0.01, "seed": seed, "epoch": epoch,
                    "train_rer_sse": rer, "test_rer_sse": rer, "val_rer_sse": rer,
                    "cumulative_seconds": float(epoch), "diverged": False,
                })  # fmt: skip
    save_reference(pd.DataFrame(rows), path)


@pytest.fixture(scope="module")
def fallback(pipeline, tmp_path_factory):
    """A copy of the finished test run, then the scorecard of RMS+Cons against a reference
    that this machine does not reproduce: the calibration fails, the baselines rerun here."""
    workdir = tmp_path_factory.mktemp("scorecard") / "wf"
    shutil.copytree(pipeline, workdir, ignore=shutil.ignore_patterns("locks"))
    synthetic_reference(workdir / "bad.parquet")
    snakemake(workdir, "--cores", "2", "scorecard", *card("bad.parquet"))
    return workdir


@pytest.fixture(scope="module")
def paired_with_reference(fallback):
    """The same scorecard against a reference made of this machine's baselines, AdaMix+Power
    set to the candidate's RER + 10 (seed 0) and + 10.5 (seed 1) at every epoch."""
    workdir = fallback
    parts = [reference_rows(job(workdir, "default", run, s), "default")
             for run in BASELINES for s in (0, 1)]  # fmt: skip
    parts = [p for p in parts if p["weight_rule"].iloc[0] != "AdaMix"]
    for s, shift in ((0, 10.0), (1, 10.5)):
        mine = job(workdir, "default", "RMS+Cons", s)
        parts.append(mine.assign(weight_rule="AdaMix", bias_rule="Power",
                                 test_rer_sse=mine["test_rer_sse"] + shift))  # fmt: skip
    for run, rate in TUNED.items():
        reading = "default" if run == "Cons+Cons" else f"default~lr{rate:g}"
        parts += [reference_rows(job(workdir, reading, run, s), f"default~lr{rate:g}")
                  for s in (0, 1)]  # fmt: skip
    save_reference(pd.concat(parts), workdir / "good.parquet")
    snakemake(workdir, "--cores", "2", "scorecard", *card("good.parquet"))
    return workdir


def comparisons(workdir) -> pd.DataFrame:
    return pd.read_csv(workdir / SCORECARD_OUTPUTS["csv"]).set_index(["protocol", "baseline"])


def final(workdir, reading: str, run: str) -> list[float]:
    return [float(job(workdir, reading, run, s)["test_rer_sse"].iloc[-1]) for s in (0, 1)]


def test_a_failed_calibration_says_so_and_pairs_with_baselines_rerun_here(fallback):
    calibration = json.loads((fallback / SCORECARD_CALIBRATION).read_text())
    ours = final(fallback, "default", "Cons+Cons")[0]
    assert calibration["passed"] is False
    assert calibration["ours"] == pytest.approx(ours)
    assert calibration["reference_same_seed"] == 97.0  # 99 - 2 + 0
    page = (fallback / SCORECARD_OUTPUTS["md"]).read_text()
    assert "**This machine does not reproduce the reference.**" in page
    assert "the baselines below were rerun here" in page
    table = comparisons(fallback)
    for run in BASELINES:  # the reruns' numbers, never the reference's 97 and 98
        assert table.loc[("paper", run), "baseline_rer"] == pytest.approx(
            np.mean(final(fallback, "default", run))
        )
    adam = final(fallback, "default~lr0.01", "Adam+Adam")
    assert table.loc[("tuned", "Adam+Adam"), "baseline_rer"] == pytest.approx(np.mean(adam))


def test_the_candidate_is_paired_seed_by_seed_with_the_reference(paired_with_reference):
    workdir = paired_with_reference
    calibration = json.loads((workdir / SCORECARD_CALIBRATION).read_text())
    assert calibration["passed"] is True
    row = comparisons(workdir).loc[("paper", "AdaMix+Power")]
    # differences -10 and -10.5: mean -10.25, sd 0.5/sqrt(2), so a half-width t * 0.25
    assert row["diff"] == pytest.approx(-10.25, abs=1e-4)
    assert row["diff_low"] == pytest.approx(-10.25 - T_975_1 * 0.25, abs=1e-4)
    assert row["diff_high"] == pytest.approx(-10.25 + T_975_1 * 0.25, abs=1e-4)
    assert row["auc_diff"] == pytest.approx(-10.25, abs=1e-4)
    assert (row["p_improvement"], row["verdict"], row["seeds"]) == (1.0, BETTER, 2)
    page = (workdir / SCORECARD_OUTPUTS["md"]).read_text()
    assert "This machine reproduces the reference" in page
    assert (
        "`RMS+Cons` better than AdaMix+Power under the paper's protocol (reading `default`):"
        " **yes**; final test RER difference -10.25 [-13.43, -7.07]." in page
    )
    assert "<table>" in (workdir / SCORECARD_OUTPUTS["html"]).read_text()
    assert (workdir / SCORECARD_OUTPUTS["png"]).stat().st_size > 10_000
    # The other baselines are this machine's own runs, so their pairing is recomputed here.
    mine, cons = final(workdir, "default", "RMS+Cons"), final(workdir, "default", "Cons+Cons")
    diffs = np.subtract(mine, cons)
    half = T_975_1 * diffs.std(ddof=1) / math.sqrt(2)
    row = comparisons(workdir).loc[("paper", "Cons+Cons")]
    assert (row["diff_low"], row["diff_high"]) == pytest.approx(
        (diffs.mean() - half, diffs.mean() + half), abs=1e-4
    )


def test_the_step_cost_is_measured_against_cons_in_one_process(paired_with_reference):
    timing = pd.read_parquet(paired_with_reference / "results/scorecard/timing.parquet")
    assert set(timing["run"]) == {"Cons+Cons", "RMS+Cons"}
    ratio = timing.groupby("run")["seconds"].median()
    page = (paired_with_reference / SCORECARD_OUTPUTS["md"]).read_text()
    assert f"costs {ratio['RMS+Cons'] / ratio['Cons+Cons']:.2f} times Cons+Cons's" in page


def test_a_corrupt_reference_is_refused_before_any_job(paired_with_reference, tmp_path):
    workdir = paired_with_reference
    data = bytearray((workdir / "good.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (workdir / "corrupt.parquet").write_bytes(bytes(data))
    shutil.copy(workdir / "good.parquet.sha256", workdir / "corrupt.parquet.sha256")
    result = snakemake(workdir, "-n", "scorecard", *card("corrupt.parquet"), check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "corrupt.parquet: its sha256 is not the one corrupt.parquet.sha256 holds" in out
    missing = snakemake(workdir, "-n", "scorecard", *card("gone.parquet"), check=False)
    assert missing.returncode != 0
    assert "gone.parquet: no published reference" in missing.stdout + missing.stderr


def test_a_reference_of_another_protocol_is_refused_before_any_job(paired_with_reference):
    result = snakemake(paired_with_reference, "-n", "scorecard",
                       *card("good.parquet", seeds="[0,1,2]"), check=False)  # fmt: skip
    assert result.returncode != 0
    assert "lacks seeds [2] of config seeds [0, 1, 2]" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ("[Nope+Cons]", "config scorecard.runs: 'Nope+Cons' names no registered rule 'Nope'"),
        ("[]", "config scorecard.runs is empty: name the candidate runs"),
    ],
)
def test_an_unknown_or_missing_candidate_is_refused_before_any_job(pipeline, runs, message):
    result = snakemake(pipeline, "-n", "scorecard", *card("x.parquet", runs=runs), check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def frame(run: str, protocol: str, finals: dict[int, float]) -> pd.DataFrame:
    """Two-epoch curves 60 -> 50 -> final per seed (inf: the seed diverged)."""
    rows = []
    for seed, last in finals.items():
        for epoch, rer in enumerate([60.0, 50.0, last]):
            rows.append({"protocol": protocol, "reading": "default", "run": run, "rate": 0.001,
                         "seed": seed, "epoch": epoch, "test_rer_sse": rer,
                         "diverged": math.isinf(last)})  # fmt: skip
    return pd.DataFrame(rows)


def test_pairing_by_hand_with_a_diverged_seed_counted_as_a_loss():
    cand = frame("Mine+Mine", "paper", {0: 40.0, 1: 42.0, 2: 44.0})
    base = pd.concat([frame("Cons+Cons", "paper", {0: 41.0, 1: 41.0, 2: 46.0}),
                      frame("AdaMix+Power", "paper", {0: 45.0, 1: 46.9, 2: math.inf})])  # fmt: skip
    table = compare(cand, base, epochs=2).set_index("baseline")
    cons = table.loc["Cons+Cons"]
    # differences -1, +1, -2: mean -2/3, sd sqrt(7/3), half-width t(0.975, 2) sd / sqrt(3)
    half = 4.302652729749464 * math.sqrt(7 / 3) / math.sqrt(3)
    assert cons["diff"] == pytest.approx(-2 / 3)
    assert (cons["diff_low"], cons["diff_high"]) == pytest.approx((-2 / 3 - half, -2 / 3 + half))
    assert cons["p_improvement"] == pytest.approx(2 / 3)
    assert cons["verdict"] == UNDECIDED
    # area under epochs 1-2: (50 + final) / 2, so half the differences
    assert cons["auc_diff"] == pytest.approx(-1 / 3)
    # seed 1 (42 against 41) never reaches the baseline's final: 2 of 3 seeds, at epoch 2
    assert (cons["epochs_to_baseline"], cons["reached"]) == (2.0, 2)
    mix = table.loc["AdaMix+Power"]  # -5, -4.9 and a seed where only AdaMix+Power diverged
    assert (mix["diff"], mix["p_improvement"], mix["verdict"]) == (-math.inf, 1.0, BETTER)
    half = T_975_1 * 0.05
    assert (mix["diff_low"], mix["diff_high"]) == pytest.approx((-4.95 - half, -4.95 + half))
    lost = compare(frame("Mine+Mine", "paper", {0: math.inf, 1: 40.0, 2: 41.0}),
                   frame("Cons+Cons", "paper", {0: 50.0, 1: 50.0, 2: 50.0}), 2)  # fmt: skip
    assert lost["verdict"].item() == UNDECIDED  # losses disagree with the finite differences
    assert compare(frame("Mine+Mine", "paper", {0: 52.0, 1: 53.0, 2: 54.0}),
                   frame("Cons+Cons", "paper", {0: 41.0, 1: 42.0, 2: 43.0}),
                   2)["verdict"].item() == WORSE  # fmt: skip


def test_epochs_to_a_target():
    curve = np.array([60.0, 50.0, 45.0, 44.0])
    assert epochs_to(curve, 45.0) == 2.0
    assert epochs_to(curve, 60.0) == 1.0  # epoch 0 does not count
    assert math.isnan(epochs_to(curve, 40.0)) and math.isnan(epochs_to(None, 50.0))
