"""The workflow through a real single-node Slurm cluster (`.ci/slurm.sh`), with fake GPUs.

Runs experiment 2 of the test config (data as local rules, 4 pre-training layers and 3
fine-tuning jobs as Slurm jobs that request a GPU) and checks that the jobs really went
through Slurm and that their metrics equal the local run's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, copy_workflow

SLURM_SH = REPO / ".ci" / "slurm.sh"
TIMING = ["epoch_seconds", "cumulative_seconds", "finished_at"]

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("slurmctld") is None,
        reason="needs root and Debian's slurmctld/slurmd/munge (`bash .ci/slurm.sh install`)",
    ),
]


@pytest.fixture(scope="module")
def cluster():
    """Start the cluster; always stop its daemons afterwards."""
    subprocess.run(["bash", str(SLURM_SH), "start"], check=True, timeout=120)
    try:
        yield
    finally:
        subprocess.run(["bash", str(SLURM_SH), "stop"], check=True, timeout=120)


def test_exp2_through_slurm_equals_the_local_run(cluster, pipeline, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    # The README's Slurm command, plus what this cluster without accounting needs: squeue
    # for job states (no sacct) and fast polling.
    cmd = [
        sys.executable, "-m", "snakemake", "exp2",
        "--workflow-profile", "workflow/profiles/slurm",
        "--configfile", "tests/config.yaml",
        "--config", "gpus_per_job=1",
        "--jobs", "4", "--retries", "0", "--latency-wait", "5",
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        "--seconds-between-status-checks", "1",
        "--slurm-keep-successful-logs",
    ]  # fmt: skip
    env = {**os.environ, "SLURM_PARTITION": "debug"}
    run = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]

    # 4 pre-training layers + 3 fine-tuning jobs were sbatch-ed; data and report ran locally.
    job_ids = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert len(job_ids) == 7, log[-5000:]
    assert len(list((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))) == 7
    for job_id in job_ids:
        record = subprocess.run(
            ["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True
        ).stdout
        assert "JobState=COMPLETED" in record, record
        assert re.search(r"TresPerJob=gres[:/]gpu[:=]1", record), record  # the GPU request

    for run_name in ("Cons+None", "Cons+Cons", "None+Cons"):
        path = f"results/finetune/default/0.01/{run_name}/seed0/metrics.parquet"
        ours = pd.read_parquet(workdir / path).drop(columns=TIMING)
        local = pd.read_parquet(pipeline / path).drop(columns=TIMING)
        pd.testing.assert_frame_equal(ours, local)
    assert (workdir / "results/figures/exp2.png").stat().st_size > 0
