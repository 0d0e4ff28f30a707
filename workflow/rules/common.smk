# Config validation, the plan (adamix.plan.study.Plan) and the input functions that
# delegate to it: one get_<rule>_input per rule whose inputs depend on its wildcards.
import json
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
from adamix.plan import decide as decide_plan
from adamix.plan import paths
from adamix.plan.config import (
    SIZE_LABEL,
    check_publishable,
    subset_seed_of,
    typed_like_schema,
)
from adamix.plan.study import Plan
from adamix.provenance import FINETUNE_CODE, PRETRAIN_CODE, code_digest
from adamix.schedules.registry import catalog, load_plugin

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
PLUGINS = {
    entry: load_plugin(entry)
    for entry in dict.fromkeys([*config["plugins"], *config["scorecard"]["plugins"]])
}
# Every cell, job and target of the study; checks what the schema cannot (ValueError).
PLAN = Plan(config, catalog(), PLUGINS)
# The version of the numeric code, a param of every job that computes numbers: a job
# computed by other code is rerun (`snakemake -n`: "Params have changed", before and now).
CODE = {
    "pretrain": code_digest(PRETRAIN_CODE),
    "finetune": code_digest(FINETUNE_CODE),
}


wildcard_constraints:
    dataset="|".join(re.escape(name) for name in PLAN.datasets),
    size=SIZE_LABEL,
    seed=r"\d+",
    layer=r"\d+",
    weight="|".join(re.escape(name) for name in PLAN.catalog),
    bias="|".join(re.escape(name) for name in PLAN.catalog),
    reading=r"[A-Za-z0-9_.~-]+",
    experiment=r"[A-Za-z0-9_]+",


def as_lists(cells, start=0):
    """Cells as the lists that the report rules take (and whose params Snakemake recorded),
    from field `start` on."""
    return [cell.as_list()[start:] for cell in cells]


def get_pretrain_subset(wildcards):
    """The subset of one pre-training: the shared one, or its seed's (`subset: per_seed`)."""
    w = wildcards
    return PLAN.readings.subset(w.dataset, w.reading, w.size, w.seed)


def get_pretrain_layer_input(wildcards):
    """The layers below this one, of the same pre-training."""
    w = wildcards
    return PLAN.pretrain_layers(w.dataset, w.reading, w.size, w.seed, int(w.layer) - 1)


def get_finetune_input(wildcards):
    """The subset, the pre-trained layers and the plug-ins of one fine-tuning job."""
    w = wildcards
    return PLAN.finetune_inputs(
        w.dataset, w.reading, w.size, f"{w.weight}+{w.bias}", w.seed
    )


def get_step_timing_input(wildcards):
    """The subset and layers of the experiment's first size, reading and seed."""
    return PLAN.step_timing_inputs(wildcards.experiment)


def get_step_timing_cores(wildcards):
    """The timing job's cores: all of this run's (at most this machine's), so that nothing
    runs beside it; `threads` where the run has no core count (`--unlock`, `--lint`)."""
    try:
        return min(workflow.cores, os.cpu_count() or 1)
    except WorkflowError:  # no --cores given: no job runs anyway
        return config["threads"]


def get_experiment_metrics_input(wildcards):
    """The fine-tuning parquets of the experiment, each distinct run once."""
    return PLAN.finetune_parquets(wildcards.experiment)


def selected_cells():
    """The tuned cells, from the rates that checkpoint tuning_select chose."""
    return PLAN.tuned_cells(checkpoints.tuning_select.get().output.selected)


def get_tuning_metrics_input(wildcards):
    """The parquets of the tuned runs, every seed of the study."""
    return PLAN.tuned_parquets(selected_cells())


def get_reproduction_doc_input(wildcards):
    """The write-up's named inputs (adamix.report.writeup.write_reproduction)."""
    return PLAN.writeup_inputs()


def get_publish_input(wildcards):
    """The write-up and its figures, if this run is the full default study of config.yaml
    (else an error naming what differs, before any job runs)."""
    with open(os.path.join(workflow.basedir, "config.yaml")) as f:
        default = yaml.safe_load(f)
    validate(default, schema=_schema_path)  # fills in its defaults, as for `config`
    check_publishable(config, default)
    return {"writeup": PLAN.writeup_files(), "metrics": paths.GATHERED}


def get_published_reference(wildcards):
    """The published reference (`snakemake compare`), or an error saying why there is none."""
    if not os.path.isfile(os.path.join(workflow.basedir, paths.REFERENCE)):
        raise ValueError(
            f"{paths.REFERENCE}: no published reference in this checkout; `snakemake publish`"
            " writes it from the full default study"
        )
    return paths.REFERENCE


# The scorecard (workflow/rules/scorecard.smk).


def get_scorecard_reference(wildcards):
    """The reference the scorecard pairs with (checked when the workflow starts, below);
    an error if no candidate is named."""
    if not config["scorecard"]["runs"]:
        raise ValueError(
            "config scorecard.runs is empty: name the candidate runs, for example"
            " --config 'scorecard={runs: [RMS+Cons], plugins: [my_rules.py]}'"
        )
    return config["scorecard"]["reference"]


# Where the config names candidates, their reference is checked now, before any job: the
# file is whole (its sha256) and holds every baseline, seed and epoch of the protocol. An
# input function could not refuse it: Snakemake keeps an existing output whose producer
# fails to plan, so a damaged reference would go unnoticed after a first scorecard.
if config["scorecard"]["runs"]:
    from adamix.report.metrics import load_reference
    from adamix.report.scorecard import reference_baselines

    reference_baselines(
        load_reference(config["scorecard"]["reference"]),
        PLAN.scorecard_protocol(),
        config["scorecard"]["reference"],
    )


def scorecard_calibration():
    """The calibration's result (checkpoint scorecard_calibration), as a dict."""
    with open(checkpoints.scorecard_calibration.get().output[0]) as f:
        return json.load(f)


def scorecard_candidates():
    """[protocol, reading, run, rate, seed, metrics] of the candidates' jobs: at the
    paper's rate and, where the scorecard tunes, at the rates its search chose."""
    runs = config["scorecard"]["runs"]
    entries = PLAN.scorecard_runs(runs, "paper")
    if config["scorecard"]["tune"]:
        selected = checkpoints.scorecard_select.get().output.selected
        entries += PLAN.scorecard_runs(runs, "tuned", PLAN.selected_rates(selected))
    return entries


def scorecard_baselines():
    """The baselines' jobs rerun here where this machine does not reproduce the reference
    (the calibration failed), at the rates the reference used; else none."""
    calibration = scorecard_calibration()
    if calibration["passed"]:
        return []
    protocol = PLAN.scorecard_protocol()
    entries = PLAN.scorecard_runs(["Cons+Cons", *protocol["baselines"]], "paper")
    rates = {(r["reading"], r["run"]): r["rate"] for r in calibration["tuned_rates"]}
    return entries + PLAN.scorecard_runs(protocol["tuned_baselines"], "tuned", rates)


def scorecard_jobs():
    """(candidates, baselines): the calibration's checkpoint asked first, then the
    search's, in the same order for the report's inputs and its params."""
    baselines = scorecard_baselines()
    return scorecard_candidates(), baselines


def get_scorecard_report_input(wildcards):
    """The scorecard's inputs: calibration, reference, step timing, the candidates' jobs
    and, where the calibration failed, the baselines' reruns."""
    candidates, baselines = scorecard_jobs()
    inputs = {
        "calibration": checkpoints.scorecard_calibration.get().output[0],
        "reference": config["scorecard"]["reference"],
        "timing": paths.SCORECARD_TIMING,
        "candidates": list(dict.fromkeys(entry[-1] for entry in candidates)),
        "baselines": list(dict.fromkeys(entry[-1] for entry in baselines)),
    }
    if config["scorecard"]["tune"]:  # the rates that the candidates' jobs ran at
        inputs["selected"] = checkpoints.scorecard_select.get().output.selected
    return inputs


# Seeds until decided (workflow/rules/decide.smk).


def decide_counts(look: int) -> dict:
    """The seeds of each primary hypothesis at `look`: the first count at look 1, then
    what the look before asked for (checkpoint decide_look)."""
    if look == 1:
        return decide_plan.first_counts(config)
    previous = checkpoints.decide_look.get(look=str(look - 1)).output[0]
    with open(previous) as f:
        return {name: h["next"] for name, h in json.load(f)["hypotheses"].items()}


def decide_subset(look: int) -> dict:
    """The subset that the seeds `look` adds train on (`per_seed`): config decide.subset;
    under `auto`, shared at look 1, then as look 1 decided (its JSON's `subset`)."""
    mode = config["decide"]["subset"]
    if look == 1 or mode != "auto":
        return {"mode": mode, "per_seed": mode == "per_seed"}
    first = checkpoints.decide_look.get(look="1").output[0]
    with open(first) as f:
        subset = json.load(f).get("subset")
    if subset is None:
        raise ValueError(
            f"{first} has no subset test (written before decide.subset): rerun the looks,"
            " snakemake --forcerun decide_look"
        )
    return subset


def decide_subset_entries(look: int) -> list:
    """The jobs whose spread tells look 1 whether the subset adds variance (under `auto`)."""
    if look != 1 or config["decide"]["subset"] != "auto":
        return []
    return decide_plan.subset_entries(PLAN)


def decide_entries(look: int) -> list:
    """[hypothesis, reading, run, size, seed, metrics] of the jobs `look` reads."""
    per_seed = decide_subset(look)["per_seed"]
    return decide_plan.look_entries(PLAN, decide_counts(look), per_seed)


def get_decide_look_input(wildcards):
    """The fine-tuning parquets the look reads and, at look 1, those of the subset's test."""
    look = int(wildcards.look)
    found = [e[-1] for e in decide_entries(look) + decide_subset_entries(look)]
    return list(dict.fromkeys(found))


def get_publish_added(wildcards):
    """The fine-tuning parquets of the seeds that `decide` added beyond config `seeds`,
    where the write-up gives the primary analysis (decide.writeup): the last look's."""
    if not config["decide"]["writeup"]:
        return []
    look = int(re.search(r"look(\d+)", get_decide_input(wildcards)).group(1))
    seeds = set(config["seeds"])
    return list(dict.fromkeys(e[-1] for e in decide_entries(look) if e[4] not in seeds))


def get_decide_input(wildcards):
    """The last look: the first that stops every hypothesis (the last count at most)."""
    for look in range(1, len(config["decide"]["looks"]) + 1):
        out = checkpoints.decide_look.get(look=str(look)).output[0]
        with open(out) as f:
            if json.load(f)["done"]:
                return out
    return out
