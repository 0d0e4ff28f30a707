"""Every file the workflow writes, written once: the path templates of results/, logs/ and
benchmarks/ (with Snakemake's wildcards in braces), the published docs/ files, and the
functions that fill a template in.

The layout is ``results/<stage>/<wildcards>/<file>``, its log ``logs/<stage>/<same>.log``.
A template's wildcards are the rule's: ``{dataset}``, ``{size}`` (a size label, "0.1"),
``{reading}``, ``{seed}``, ``{layer}``, ``{weight}+{bias}`` (a run), ``{experiment}``.
The rules (workflow/rules/*.smk) declare their outputs with these templates; the plan
(adamix.plan.study) fills them in for the inputs of the rules downstream.
"""

from __future__ import annotations

# Stage 1, data: the data set as downloaded, and its nested class-stratified subsets.
DATASET = "results/data/{dataset}.npz"
SUBSET = "results/data/{dataset}/subset_{size}.npz"
DOWNLOAD_LOG = "logs/data/download_{dataset}.log"
SUBSET_LOG = "logs/data/{dataset}/subset_{size}.log"
# A reading's `subset: per_seed`: a subset per training seed (adamix.plan.config.subset_seed_of).
SEED_SUBSET = "results/data/{dataset}/seed{seed}/subset_{size}.npz"
SEED_SUBSET_LOG = "logs/data/{dataset}/seed{seed}/subset_{size}.log"

# Stage 2, pre-training: one RBM layer (checkpoint and per-epoch errors) per job.
_PRETRAIN = "{dataset}/{reading}/{size}/seed{seed}/layer{layer}"
LAYER = f"results/pretrain/{_PRETRAIN}.pt"
LAYER_ERRORS = f"results/pretrain/{_PRETRAIN}.parquet"
PRETRAIN_LOG = f"logs/pretrain/{_PRETRAIN}.log"
PRETRAIN_BENCHMARK = f"benchmarks/pretrain/{_PRETRAIN}.tsv"

# Stage 3, fine-tuning: one job per data set, reading, size, Weight+Bias run and seed; its
# resume state lives outside the outputs (Snakemake would delete it with a killed job's).
_FINETUNE = "{dataset}/{reading}/{size}/{weight}+{bias}/seed{seed}"
FINETUNE_METRICS = f"results/finetune/{_FINETUNE}/metrics.parquet"
RESUME_STATE = f"results/resume/{_FINETUNE}.pt"
FINETUNE_LOG = f"logs/finetune/{_FINETUNE}.log"
FINETUNE_BENCHMARK = f"benchmarks/finetune/{_FINETUNE}.tsv"

# Claim 2's controlled timing of an experiment's training steps (rule step_timing).
STEP_TIMING = "results/timing/{experiment}.parquet"
STEP_TIMING_LOG = "logs/timing/{experiment}.log"

# Stage 4, aggregation: every cell's metrics, one experiment's, the tuned runs'.
METRICS = "results/metrics.parquet"
EXPERIMENT_METRICS = "results/metrics/{experiment}.parquet"
TUNING_METRICS = "results/metrics/tuning.parquet"
# Every cell's metrics, as the tables read them; what `publish` keeps as the reference.
GATHERED = [METRICS, TUNING_METRICS]

# The tuning's search over rates and the rate it selects per run (checkpoint tuning_select).
TUNING_SEARCH = "results/tuning/search.csv"
TUNING_SELECTED = "results/tuning/selected.csv"

TABLES = "results/tables"
FIGURES = "results/figures"
# The tuning's figures, shown in the write-up after the experiments'.
TUNING_FIGURES = ("tuning_sensitivity", "tuning_curves")

# The write-up of this run; `snakemake publish` copies it (that of the full default study
# only) to docs/, with the compact metrics of every cell as the published reference.
WRITEUP = "results/reproduction"
WRITEUP_MD = f"{WRITEUP}/reproduction.md"
DISCUSSION = "docs/reproduction_discussion.md"  # the write-up's hand-written part
PUBLISHED = "docs"
PUBLISHED_MD = f"{PUBLISHED}/reproduction.md"
REFERENCE = "docs/reference/metrics.parquet"  # the published run's, in the repository
PUBLISHED_LIST = f"{WRITEUP}/published.txt"  # what `publish` wrote to docs/, with sha256s

# `snakemake demo`: a first run in minutes (config `demo`)
# Seeds until decided (rules decide_look and decide): each look's verdicts and next seeds.
DECIDE_LOOK = "results/decide/look{look}.json"

DEMO = "results/demo"
DEMO_OUTPUTS = {
    "writeup": f"{DEMO}/demo.md",
    "png": f"{DEMO}/figure.png",
    "pdf": f"{DEMO}/figure.pdf",
    "csv": f"{DEMO}/table.csv",
    "md": f"{DEMO}/table.md",
    "html": f"{DEMO}/table.html",
}

# `snakemake scorecard`: candidate runs paired with the published reference (config
# `scorecard`): the calibration, the candidates' search and chosen rates, their step timing.
SCORECARD = "results/scorecard"
SCORECARD_CALIBRATION = f"{SCORECARD}/calibration.json"
SCORECARD_SEARCH = f"{SCORECARD}/search.csv"
SCORECARD_SELECTED = f"{SCORECARD}/selected.csv"
SCORECARD_TIMING = f"{SCORECARD}/timing.parquet"
SCORECARD_OUTPUTS = {
    "md": f"{SCORECARD}/scorecard.md",
    "html": f"{SCORECARD}/scorecard.html",
    "png": f"{SCORECARD}/figure.png",
    "pdf": f"{SCORECARD}/figure.pdf",
    "csv": f"{SCORECARD}/comparisons.csv",
}


def subset(dataset: str, size: str) -> str:
    """The subset file of a data set at a size label."""
    return SUBSET.format(dataset=dataset, size=size)


def seed_subset(dataset: str, size: str, seed) -> str:
    """The subset file drawn for training seed `seed` (a reading's `subset: per_seed`)."""
    return SEED_SUBSET.format(dataset=dataset, size=size, seed=seed)


def layer(dataset: str, reading: str, size: str, seed, k: int) -> str:
    """The checkpoint of layer `k` of one pre-training (`reading`: the pre-training's)."""
    return LAYER.format(dataset=dataset, reading=reading, size=size, seed=seed, layer=k)


def layer_errors(dataset: str, reading: str, size: str, seed, k: int) -> str:
    """The per-epoch error table written beside layer `k`'s checkpoint."""
    return LAYER_ERRORS.format(dataset=dataset, reading=reading, size=size, seed=seed, layer=k)


def finetune_metrics(dataset: str, reading: str, size: str, run: str, seed) -> str:
    """The metrics parquet of the fine-tuning job of `run` (Weight+Bias) under `reading`."""
    weight, bias = run.split("+")
    return FINETUNE_METRICS.format(
        dataset=dataset, reading=reading, size=size, weight=weight, bias=bias, seed=seed
    )


def step_timing(experiment: str) -> str:
    """The controlled timing of an experiment's runs (claim 2)."""
    return STEP_TIMING.format(experiment=experiment)


def table(name: str, ext: str = "csv") -> str:
    """A table under results/tables/ (csv, md, html)."""
    return f"{TABLES}/{name}.{ext}"


def figure(name: str, ext: str = "png") -> str:
    """A figure under results/figures/ (png, pdf)."""
    return f"{FIGURES}/{name}.{ext}"


def doc_figure(name: str, folder: str = WRITEUP) -> str:
    """The copy of figure `name` (PNG) that the write-up in `folder` shows."""
    return f"{folder}/figures/{name}.png"


def log(stage: str, name: str) -> str:
    """The log of a one-off job of a stage (report, tuning): logs/<stage>/<name>.log."""
    return f"logs/{stage}/{name}.log"
