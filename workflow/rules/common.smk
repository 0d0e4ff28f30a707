# Config validation and the functions that turn the config into target lists.
import csv
import os
import re
import sys

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# Rule scripts import this workflow's own adamix package (workflow/adamix), also where
# another copy is installed: results always come from the code beside the Snakefile.
_pythonpath = [os.path.join(workflow.basedir, "workflow"), os.getenv("PYTHONPATH")]
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, _pythonpath)))
sys.path.insert(0, _pythonpath[0])

# Imported after sys.path is set (ruff's E402 does not look into .smk files).
from adamix.plan.config import (
    PRETRAIN_OVERRIDES,
    check_publishable,
    pretrain_reading,
    pretrain_settings,
    pretrained,
    size_label,
    typed_like_schema,
    walltime_experiments,
)
from adamix.schedules import RULES, load_plugin, settings_read
from adamix.plan.cells import oneshot_reading, tuning_reading

# On the command line `--config seeds=0` arrives as 0 (one seed), and nested values
# (`seeds=[0]`, `finetune={epochs: 3}`) as strings: read them as the schema types them.
if not isinstance(config.get("seeds", []), list):
    config["seeds"] = [config["seeds"]]
_schema_path = os.path.join(
    workflow.basedir, "workflow", "schemas", "config.schema.yaml"
)
with open(_schema_path) as _f:
    config.update(typed_like_schema(dict(config), yaml.safe_load(_f)))

validate(config, schema=_schema_path)

# The user's own learning-rate rules (config `plugins`): loaded here, so that a missing
# file, a name clash or an incomplete rule stops the workflow before any job runs.
PLUGINS = {entry: load_plugin(entry) for entry in config["plugins"]}


def check_experiments():
    """Cross-checks that the JSON schema cannot express."""
    sizes = {size_label(s) for s in config["data"]["sizes"]}
    for name, exp in config["experiments"].items():
        if exp["dataset"] not in config["datasets"]:
            raise ValueError(
                f"config experiments.{name}.dataset: '{exp['dataset']}' is not a key of"
                f" datasets {sorted(config['datasets'])}"
            )
        for size in exp["sizes"]:
            if size_label(size) not in sizes:
                raise ValueError(
                    f"config experiments.{name}.sizes: {size} is not in data.sizes {sorted(sizes)}"
                )
        for reading in exp["readings"]:
            if reading not in config["readings"]:
                raise ValueError(
                    f"config experiments.{name}.readings: '{reading}' is not a key of readings"
                )
        for run in exp["runs"]:
            for rule_name in run.split("+"):
                if rule_name not in RULES:
                    raise ValueError(
                        f"config experiments.{name}.runs: '{run}' names no registered rule"
                        f" '{rule_name}'; rules: {', '.join(RULES)} (add your own: `plugins`)"
                    )


def check_tuning(tuning):
    """The tuning's data, readings and runs exist (config `tuning`)."""
    where = "config tuning"
    if tuning["dataset"] not in config["datasets"]:
        raise ValueError(
            f"{where}.dataset: '{tuning['dataset']}' is not a key of datasets"
        )
    if size_label(tuning["size"]) not in {
        size_label(s) for s in config["data"]["sizes"]
    }:
        raise ValueError(f"{where}.size: {tuning['size']} is not in data.sizes")
    for reading in tuning["readings"]:
        if reading not in config["readings"]:
            raise ValueError(f"{where}.readings: '{reading}' is not a key of readings")
    for run in tuning["runs"]:
        for rule_name in run.split("+"):
            if rule_name not in RULES:
                raise ValueError(
                    f"{where}.runs: '{run}' names no registered rule '{rule_name}'"
                )


check_experiments()
check_tuning(config["tuning"])

SIZES = [size_label(s) for s in config["data"]["sizes"]]
RULE = "|".join(re.escape(name) for name in RULES)  # the registered rules
DATASETS = list(config["datasets"])
N_LAYERS = len(config["model"]["layers"]) - 1


wildcard_constraints:
    dataset="|".join(re.escape(name) for name in DATASETS),
    size=r"[01]\.[0-9]+",
    seed=r"\d+",
    layer=r"\d+",
    weight=RULE,
    bias=RULE,
    reading=r"[A-Za-z0-9_.~-]+",
    experiment=r"[A-Za-z0-9_]+",


def library_rate(run):
    """The default rate of a run's rules in their library (Adam+Adam: torch.optim.Adam's
    0.001), if both have the same one; else None (the paper's rules have none)."""
    rates = {getattr(RULES[name], "library_lr", None) for name in run.split("+")}
    return rates.pop() if len(rates) == 1 and None not in rates else None


# The tuning's readings (config `tuning`): each of its readings at each rate of its grid
# and at each library rate of its runs (the one-shot comparison), named by tuning_reading
# (default~lr0.003), after the config's own readings.
TUNING = config["tuning"]
ONESHOT = [
    [reading, run, library_rate(run)]
    for reading in TUNING["readings"]
    for run in TUNING["runs"]
    if library_rate(run) is not None
]
TUNING_READINGS = {
    tuning_reading(reading, rate): {**config["readings"][reading], "lr": rate}
    for reading in TUNING["readings"]
    for rate in [*TUNING["rates"], *(cell[2] for cell in ONESHOT)]
}
READINGS = {**config["readings"], **TUNING_READINGS}


def job_reading(reading, run):
    """The reading whose job computes `run` under `reading`: the first reading, in the
    config's order (then the tuning's), that agrees with `reading` on every setting the run
    reads (declared by its rules in the registry) and on the pre-training it starts from.
    Each distinct run is computed once, under that name."""

    def identity(r):
        settings = reading_settings(r)
        return [settings[k] for k in settings_read(run)], pretrain_of(r)

    mine = identity(reading)
    return next(r for r in READINGS if identity(r) == mine)


def finetune_metrics(dataset, reading, size, run, seed):
    """The parquet of the job that computes `run` under `reading` (see job_reading)."""
    reading = job_reading(reading, run)
    return f"results/finetune/{dataset}/{reading}/{size_label(size)}/{run}/seed{seed}/metrics.parquet"


def experiment_cells(name):
    """(dataset, reading, run, job's reading, the reading's settings) of each cell of an
    experiment."""
    exp = config["experiments"][name]
    return [
        [
            exp["dataset"],
            reading,
            run,
            job_reading(reading, run),
            reading_settings(reading),
        ]
        for reading in exp["readings"]
        for run in exp["runs"]
    ]


def timing_data(name):
    """(subset, layer checkpoints) the timing of experiment `name` runs on: its data set,
    first size and reading's pre-training, the first seed."""
    exp = config["experiments"][name]
    dataset, size = exp["dataset"], size_label(exp["sizes"][0])
    reading, seed = pretrain_of(exp["readings"][0]), config["seeds"][0]
    subset = f"results/data/{dataset}/subset_{size}.npz"
    return subset, pretrain_layers(dataset, reading, size, seed)


def timing_cores():
    """The timing job's cores: all of this run's (at most this machine's), so that nothing
    runs beside it; `threads` where the run has no core count (`--unlock`, `--lint`)."""
    try:
        return min(workflow.cores, os.cpu_count() or 1)
    except WorkflowError:  # no --cores given: no job runs anyway
        return config["threads"]


def experiment_metrics(name):
    """The fine-tuning parquets of one experiment (its readings, sizes, runs and seeds),
    each distinct run once."""
    exp = config["experiments"][name]
    paths = [
        finetune_metrics(exp["dataset"], reading, size, run, seed)
        for reading in exp["readings"]
        for size in exp["sizes"]
        for run in exp["runs"]
        for seed in config["seeds"]
    ]
    return list(dict.fromkeys(paths))


def all_metrics():
    return sorted(
        {path for name in config["experiments"] for path in experiment_metrics(name)}
    )


def all_cells():
    cells = [cell for name in config["experiments"] for cell in experiment_cells(name)]
    return list({tuple(c[:3]): c for c in cells}.values())


def reading_settings(reading):
    """The fine-tuning settings of one reading: config's finetune block plus its overrides
    (those of pre-training left out)."""
    overrides = {
        k: v for k, v in READINGS[reading].items() if k not in PRETRAIN_OVERRIDES
    }
    return {**config["finetune"], **overrides}


def pretrain_of(reading):
    """The reading whose pre-trained layers `reading`'s runs start from (`default` unless
    it overrides `pretrain_epochs`)."""
    return pretrain_reading(config, READINGS[reading])


def pretrain_layers(dataset, reading, size, seed, upto=N_LAYERS):
    """The layer checkpoints of one pre-training; `reading`: as pretrain_of names it."""
    return [
        f"results/pretrain/{dataset}/{reading}/{size}/seed{seed}/layer{k}.pt"
        for k in range(1, upto + 1)
    ]


def experiment_outputs(name):
    """What `snakemake <experiment>` builds: its figure and table, and its wall times if
    the config asks for them (`walltime: true`)."""
    outputs = [
        f"results/figures/{name}.png",
        f"results/figures/{name}.pdf",
        f"results/tables/{name}.csv",
        f"results/tables/{name}.md",
    ]
    if config["experiments"][name].get("walltime", False):
        outputs += [
            f"results/figures/{name}_walltime.png",
            f"results/tables/{name}_walltime.csv",
            f"results/tables/{name}_walltime.md",
        ]
    return outputs


def pretrain_errors():
    """The per-epoch error tables of every pre-training job: the data (dataset, size) and
    pre-training of every experiment and of the tuning, every seed and layer."""
    return [
        path.removesuffix(".pt") + ".parquet"
        for dataset, reading, size in pretrained(config)
        for seed in config["seeds"]
        for path in pretrain_layers(dataset, reading, size, seed)
    ]


def tuning_search():
    """[path, reading, run, rate] of every search job (each distinct job once on disk)."""
    return [
        [
            finetune_metrics(
                TUNING["dataset"],
                tuning_reading(reading, rate),
                TUNING["size"],
                run,
                TUNING["search_seed"],
            ),
            reading,
            run,
            rate,
        ]
        for reading in TUNING["readings"]
        for run in TUNING["runs"]
        for rate in TUNING["rates"]
    ]


def tuned_cells(wildcards):
    """The cells of the tuned runs: (dataset, reading, run, job's reading, settings) of
    each run at the rate the checkpoint chose, as adamix.report.tables.gather_metrics takes them;
    then the one-shot cells, each modern run at its library rate (named by oneshot_reading:
    default~library)."""
    selected = checkpoints.tuning_select.get().output.selected
    with open(selected) as f:
        rows = list(csv.DictReader(f))
    cells = []
    for row in rows:
        if row["rate"] in ("", "nan"):  # diverged at every rate: nothing to rerun
            continue
        name = tuning_reading(row["reading"], float(row["rate"]))
        cells.append(
            [
                TUNING["dataset"],
                name,
                row["run"],
                job_reading(name, row["run"]),
                reading_settings(name),
            ]
        )
    for reading, run, rate in ONESHOT:
        name = tuning_reading(reading, rate)
        cells.append(
            [
                TUNING["dataset"],
                oneshot_reading(reading),
                run,
                job_reading(name, run),
                reading_settings(name),
            ]
        )
    return cells


def tuned_metrics(wildcards):
    """The parquets of the tuned runs, every seed of the study."""
    paths = [
        finetune_metrics(TUNING["dataset"], cell[3], TUNING["size"], cell[2], seed)
        for cell in tuned_cells(wildcards)
        for seed in config["seeds"]
    ]
    return list(dict.fromkeys(paths))


WRITEUP = "results/reproduction"  # the write-up of this run; `snakemake publish`: docs/
# Every cell's metrics, as the tables read them; what `publish` keeps as the reference.
GATHERED = ["results/metrics.parquet", "results/metrics/tuning.parquet"]
REFERENCE = "docs/reference/metrics.parquet"  # the published run's, in the repository


def published_reference():
    """The published reference (`snakemake compare`'s input), or an error saying why none."""
    if not os.path.isfile(os.path.join(workflow.basedir, REFERENCE)):
        raise ValueError(
            f"{REFERENCE}: no published reference in this checkout; `snakemake publish`"
            " writes it from the full default study"
        )
    return REFERENCE


def doc_figures(folder=WRITEUP):
    """The PNG figures of every experiment, as the write-up shows them (copies in
    {folder}/figures/)."""
    figures = [
        path
        for name in config["experiments"]
        for path in experiment_outputs(name)
        if path.startswith("results/figures/") and path.endswith(".png")
    ]
    figures += [
        "results/figures/tuning_sensitivity.png",
        "results/figures/tuning_curves.png",
    ]
    return [path.replace("results/figures/", f"{folder}/figures/") for path in figures]


def publishable_writeup(wildcards):
    """The write-up and its figures, if this run is the full default study of config.yaml
    (else an error naming what differs, before any job runs): the inputs of `publish`.
    """
    with open(os.path.join(workflow.basedir, "config.yaml")) as f:
        default = yaml.safe_load(f)
    validate(default, schema=_schema_path)  # fills in its defaults, as for `config`
    check_publishable(config, default)
    return [f"{WRITEUP}/reproduction.md", *doc_figures()]


def all_targets():
    outputs = [
        path for name in config["experiments"] for path in experiment_outputs(name)
    ]
    return outputs + [
        "results/tables/tuning.csv",
        "results/figures/tuning_sensitivity.png",
        "results/figures/tuning_curves.png",
        "results/metrics.parquet",
        "results/tables/claims.csv",
        "results/tables/claims.md",
        f"{WRITEUP}/reproduction.md",
    ]


def plugin_files(run):
    """The plug-in files that define the rules of a Weight+Bias run: inputs of its jobs."""
    names = set(run.split("+"))
    return [
        entry
        for entry, registered in PLUGINS.items()
        if entry.endswith(".py") and names & set(registered)
    ]
