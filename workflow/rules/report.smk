# Stage 4: aggregation. The per-job metrics gathered, the paper's figures 4-8 and its
# numbers side by side with ours, the wall times of the experiments that ask for them
# (`walltime: true`), a verdict on each claim, and the write-up of all of it,
# results/reproduction/reproduction.md (`snakemake writeup`), which `snakemake publish`
# copies to docs/ for the full default study only. All cheap: they run on the submitting
# machine.
import re

# Only the config's experiment names, so that results/figures/{name}_walltime.png is not
# read as an experiment called "{name}_walltime".
EXPERIMENT_NAMES = "|".join(re.escape(name) for name in PLAN.experiments)


localrules:
    gather_metrics,
    experiment_metrics,
    experiment_table,
    experiment_figure,
    walltime,
    claims,
    reproduction_doc,
    writeup,
    publish,
    compare_reference,
    compare,


rule gather_metrics:
    input:
        PLAN.all_finetune_parquets(),
    output:
        paths.METRICS,
    log:
        paths.log("report", "gather_metrics"),
    conda:
        "../../envs/adamix.yaml"
    params:
        cells=as_lists(PLAN.all_cells()),
    script:
        "../scripts/gather_metrics.py"


# One experiment's metrics, a row set per cell (reading, size, run, seed): a cell whose run
# was computed under another reading reuses that job's rows (adamix.report.tables.gather_metrics).
rule experiment_metrics:
    input:
        get_experiment_metrics_input,
    output:
        paths.EXPERIMENT_METRICS,
    log:
        paths.log("report", "experiment_metrics/{experiment}"),
    wildcard_constraints:
        experiment=EXPERIMENT_NAMES,
    conda:
        "../../envs/adamix.yaml"
    params:
        cells=lambda wc: as_lists(PLAN.experiment_cells(wc.experiment)),
    script:
        "../scripts/gather_metrics.py"


rule experiment_table:
    input:
        paths.EXPERIMENT_METRICS,
    output:
        csv=report(
            paths.table("{experiment}", "csv"),
            caption="../report/experiment_table.rst",
            category="{experiment}",
            subcategory="table (CSV)",
        ),
        md=paths.table("{experiment}", "md"),
        html=report(
            paths.table("{experiment}", "html"),
            caption="../report/experiment_table.rst",
            category="{experiment}",
            subcategory="table",
        ),
    log:
        paths.log("report", "experiment_table/{experiment}"),
    wildcard_constraints:
        experiment=EXPERIMENT_NAMES,
    conda:
        "../../envs/adamix.yaml"
    params:
        name="{experiment}",
        experiment=lambda wc: config["experiments"][wc.experiment],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/experiment_table.py"


rule experiment_figure:
    input:
        paths.EXPERIMENT_METRICS,
    output:
        png=report(
            paths.figure("{experiment}", "png"),
            caption="../report/experiment_figure.rst",
            category="{experiment}",
            subcategory="figure",
        ),
        pdf=paths.figure("{experiment}", "pdf"),
    log:
        paths.log("report", "experiment_figure/{experiment}"),
    wildcard_constraints:
        experiment=EXPERIMENT_NAMES,
    conda:
        "../../envs/adamix.yaml"
    params:
        name="{experiment}",
        experiment=lambda wc: config["experiments"][wc.experiment],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/experiment_figure.py"


rule walltime:
    input:
        metrics=paths.EXPERIMENT_METRICS,
        timing=paths.STEP_TIMING,
    output:
        png=report(
            paths.figure("{experiment}_walltime", "png"),
            caption="../report/walltime_figure.rst",
            category="{experiment}",
            subcategory="wall time",
        ),
        csv=report(
            paths.table("{experiment}_walltime", "csv"),
            caption="../report/walltime_table.rst",
            category="{experiment}",
            subcategory="table (CSV)",
        ),
        md=paths.table("{experiment}_walltime", "md"),
        html=report(
            paths.table("{experiment}_walltime", "html"),
            caption="../report/walltime_table.rst",
            category="{experiment}",
            subcategory="wall time",
        ),
    log:
        paths.log("report", "walltime/{experiment}"),
    wildcard_constraints:
        experiment=EXPERIMENT_NAMES,
    conda:
        "../../envs/adamix.yaml"
    params:
        name="{experiment}",
        experiment=lambda wc: config["experiments"][wc.experiment],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/walltime.py"


# Claim 1 at every reading of a `continuum: true` experiment (adamix.report.continuum).
rule continuum:
    input:
        paths.EXPERIMENT_METRICS,
    output:
        png=report(
            paths.figure("{experiment}_continuum", "png"),
            caption="../report/continuum.rst",
            category="{experiment}",
            subcategory="claim 1 along the readings",
        ),
        pdf=paths.figure("{experiment}_continuum", "pdf"),
        csv=paths.table("{experiment}_continuum", "csv"),
        md=paths.table("{experiment}_continuum", "md"),
    log:
        paths.log("report", "continuum/{experiment}"),
    wildcard_constraints:
        experiment=EXPERIMENT_NAMES,
    conda:
        "../../envs/adamix.yaml"
    script:
        "../scripts/continuum.py"


rule claims:
    input:
        metrics=paths.METRICS,
        tuned=paths.TUNING_METRICS,
        timing=PLAN.step_timings(),
    output:
        csv=report(
            paths.table("claims", "csv"),
            caption="../report/claims.rst",
            category="Claims",
            subcategory="table (CSV)",
        ),
        md=paths.table("claims", "md"),
        html=report(
            paths.table("claims", "html"),
            caption="../report/claims.rst",
            category="Claims",
            subcategory="verdicts",
        ),
    log:
        paths.log("report", "claims"),
    conda:
        "../../envs/adamix.yaml"
    params:
        experiments=config["experiments"],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/claims.py"


rule reproduction_doc:
    input:
        unpack(get_reproduction_doc_input),
    output:
        md=paths.WRITEUP_MD,
        figures=PLAN.doc_figures(),
    log:
        paths.log("report", "reproduction_doc"),
    conda:
        "../../envs/adamix.yaml"
    params:
        config=config,
    script:
        "../scripts/reproduction_doc.py"


rule writeup:
    input:
        paths.WRITEUP_MD,


# The one way to docs/: the write-up of the full default study, copied as it is, and the
# compact per-epoch metrics of every cell and of the tuning's search jobs, each row with
# its role and initial rate: the reference other runs are compared with.
# The docs/ files are not outputs (Snakemake deletes a job's outputs when it starts or
# fails): adamix.report.publish stages them and moves them into place together. The
# output lists what was published, with sha256s.
rule publish:
    input:
        unpack(get_publish_input),
        search=[search.metrics for search in PLAN.tuning_search()],
        added=get_publish_added,
    output:
        paths.PUBLISHED_LIST,
    log:
        paths.log("report", "publish"),
    conda:
        "../../envs/adamix.yaml"
    params:
        destinations=[paths.PUBLISHED_MD, *PLAN.doc_figures(paths.PUBLISHED)],
        reference=paths.REFERENCE,
        search=[search.as_list()[1:] for search in PLAN.tuning_search()],
    script:
        "../scripts/publish.py"


# `snakemake compare`: this run's cells beside the published reference, which is an input
# (a new, pulled or damaged reference reruns the comparison).
rule compare_reference:
    input:
        gathered=paths.GATHERED,
        reference=get_published_reference,
    output:
        csv=report(
            paths.table("reference", "csv"),
            caption="../report/reference.rst",
            category="Claims",
            subcategory="published reference (CSV)",
        ),
        md=paths.table("reference", "md"),
        html=report(
            paths.table("reference", "html"),
            caption="../report/reference.rst",
            category="Claims",
            subcategory="published reference",
        ),
    log:
        paths.log("report", "reference"),
    conda:
        "../../envs/adamix.yaml"
    params:
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/reference.py"


rule compare:
    input:
        paths.table("reference", "csv"),
