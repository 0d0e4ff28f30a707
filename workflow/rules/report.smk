# Stage 4: aggregation. The per-job metrics gathered, the paper's figures 4-8 and its
# numbers side by side with ours, the wall times of the experiments that ask for them
# (`walltime: true`), a verdict on each claim, and the write-up of all of it,
# results/reproduction/reproduction.md (`snakemake writeup`), which `snakemake publish`
# copies to docs/ for the full default study only. All cheap: they run on the submitting
# machine.
import re
import shutil

# Only the config's experiment names, so that results/figures/{name}_walltime.png is not
# read as an experiment called "{name}_walltime".
EXPERIMENT_NAMES = "|".join(re.escape(name) for name in config["experiments"])


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
        all_metrics(),
    output:
        "results/metrics.parquet",
    log:
        "logs/report/gather_metrics.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        cells=all_cells(),
    script:
        "../scripts/gather_metrics.py"


# One experiment's metrics, a row set per cell (reading, size, run, seed): a cell whose run
# was computed under another reading reuses that job's rows (adamix.report.tables.gather_metrics).
rule experiment_metrics:
    input:
        lambda wc: experiment_metrics(wc.experiment),
    output:
        "results/metrics/{experiment}.parquet",
    log:
        "logs/report/experiment_metrics/{experiment}.log",
    wildcard_constraints:
        experiment=EXPERIMENT_NAMES,
    conda:
        "../../envs/adamix.yaml"
    params:
        cells=lambda wc: experiment_cells(wc.experiment),
    script:
        "../scripts/gather_metrics.py"


rule experiment_table:
    input:
        "results/metrics/{experiment}.parquet",
    output:
        csv=report(
            "results/tables/{experiment}.csv",
            caption="../report/experiment_table.rst",
            category="{experiment}",
            subcategory="table (CSV)",
        ),
        md="results/tables/{experiment}.md",
        html=report(
            "results/tables/{experiment}.html",
            caption="../report/experiment_table.rst",
            category="{experiment}",
            subcategory="table",
        ),
    log:
        "logs/report/experiment_table/{experiment}.log",
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
        "results/metrics/{experiment}.parquet",
    output:
        png=report(
            "results/figures/{experiment}.png",
            caption="../report/experiment_figure.rst",
            category="{experiment}",
            subcategory="figure",
        ),
        pdf="results/figures/{experiment}.pdf",
    log:
        "logs/report/experiment_figure/{experiment}.log",
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
        metrics="results/metrics/{experiment}.parquet",
        timing="results/timing/{experiment}.parquet",
    output:
        png=report(
            "results/figures/{experiment}_walltime.png",
            caption="../report/walltime_figure.rst",
            category="{experiment}",
            subcategory="wall time",
        ),
        csv=report(
            "results/tables/{experiment}_walltime.csv",
            caption="../report/walltime_table.rst",
            category="{experiment}",
            subcategory="table (CSV)",
        ),
        md="results/tables/{experiment}_walltime.md",
        html=report(
            "results/tables/{experiment}_walltime.html",
            caption="../report/walltime_table.rst",
            category="{experiment}",
            subcategory="wall time",
        ),
    log:
        "logs/report/walltime/{experiment}.log",
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


rule claims:
    input:
        metrics="results/metrics.parquet",
        tuned="results/metrics/tuning.parquet",
        timing=[
            f"results/timing/{name}.parquet"
            for name in walltime_experiments(config["experiments"])
        ],
    output:
        csv=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
            subcategory="table (CSV)",
        ),
        md="results/tables/claims.md",
        html=report(
            "results/tables/claims.html",
            caption="../report/claims.rst",
            category="Claims",
            subcategory="verdicts",
        ),
    log:
        "logs/report/claims.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        experiments=config["experiments"],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/claims.py"


rule reproduction_doc:
    input:
        [path for name in config["experiments"] for path in experiment_outputs(name)],
        pretrain_errors(),
        "results/metrics.parquet",
        "results/tables/claims.csv",
        "results/tables/tuning.csv",
        "results/figures/tuning_sensitivity.png",
        "results/figures/tuning_curves.png",
        discussion="docs/reproduction_discussion.md",
    output:
        md=f"{WRITEUP}/reproduction.md",
        figures=doc_figures(),
    log:
        "logs/report/reproduction_doc.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        config=config,
    script:
        "../scripts/reproduction_doc.py"


rule writeup:
    input:
        f"{WRITEUP}/reproduction.md",


# The one way to docs/: the write-up of the full default study, copied as it is, and the
# compact per-epoch metrics of every cell: the reference other runs are compared with.
rule publish:
    input:
        writeup=publishable_writeup,
        metrics=GATHERED,
    output:
        md="docs/reproduction.md",
        figures=doc_figures("docs"),
        reference=REFERENCE,
    log:
        "logs/report/publish.log",
    run:
        from adamix.report.metrics import write_reference

        pairs = zip(input.writeup, [output.md, *output.figures], strict=True)
        for source, dest in pairs:
            shutil.copyfile(source, dest)
        write_reference(input.metrics, output.reference)


# `snakemake compare`: this run's cells beside the published reference. The reference is
# a param, not an input: as an input, Snakemake would plan `publish` (which makes it) and
# refuse any run that is not the full default study.
rule compare_reference:
    input:
        GATHERED,
    output:
        csv=report(
            "results/tables/reference.csv",
            caption="../report/reference.rst",
            category="Claims",
            subcategory="published reference (CSV)",
        ),
        md="results/tables/reference.md",
        html=report(
            "results/tables/reference.html",
            caption="../report/reference.rst",
            category="Claims",
            subcategory="published reference",
        ),
    log:
        "logs/report/reference.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        reference=lambda wc: published_reference(),
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/reference.py"


rule compare:
    input:
        "results/tables/reference.csv",
