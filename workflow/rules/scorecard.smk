# `snakemake scorecard` (config `scorecard`): each candidate run fine-tuned under the
# published protocol (the paper's rate; the tuning's search and reruns) on the tuning's
# data set and size, paired seed by seed with the published reference's baselines, into
# results/scorecard/ (adamix.report.scorecard). One calibration job checks first that
# this machine reproduces the reference; where it does not, the baselines are rerun here.


checkpoint scorecard_calibration:
    input:
        ours=PLAN.scorecard_calibration(),
        reference=get_scorecard_reference,
    output:
        paths.SCORECARD_CALIBRATION,
    log:
        paths.log("scorecard", "calibration"),
    localrule: True
    conda:
        "../../envs/adamix.yaml"
    params:
        protocol=PLAN.scorecard_protocol(),
    script:
        "../scripts/scorecard_calibration.py"


# The candidates' search: the tuning's selection (adamix.report.tuning), on their jobs.
checkpoint scorecard_select:
    input:
        [search.metrics for search in PLAN.scorecard_search()],
    output:
        search=paths.SCORECARD_SEARCH,
        selected=paths.SCORECARD_SELECTED,
    log:
        paths.log("scorecard", "select"),
    localrule: True
    conda:
        "../../envs/adamix.yaml"
    params:
        paths=[search.metrics for search in PLAN.scorecard_search()],
        cells=[search.as_list()[1:] for search in PLAN.scorecard_search()],
        rates=PLAN.tuning["rates"],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/tuning_select.py"


# Cons+Cons and the candidates' training steps timed in one process (rule step_timing's).
rule scorecard_timing:
    input:
        **PLAN.scorecard_timing_inputs(),
    output:
        paths.SCORECARD_TIMING,
    log:
        paths.log("scorecard", "timing"),
    conda:
        "../../envs/adamix.yaml"
    threads: get_step_timing_cores
    resources:
        runtime=30,
        gpu=config["gpus_per_job"],
    params:
        cells=PLAN.scorecard_timing_cells(),
        rounds=config["timing"]["rounds"],
        steps=config["timing"]["steps"],
        device=config["device"],
        threads=config["threads"],
        plugins=lambda wc: [
            entry
            for run in config["scorecard"]["runs"]
            for entry in PLAN.plugins_of(run)
        ],
    script:
        "../scripts/step_timing.py"


rule scorecard_report:
    input:
        unpack(get_scorecard_report_input),
    output:
        **paths.SCORECARD_OUTPUTS,
    log:
        paths.log("scorecard", "report"),
    localrule: True
    conda:
        "../../envs/adamix.yaml"
    params:
        candidates=lambda wc: scorecard_jobs()[0],
        baselines=lambda wc: scorecard_jobs()[1],
        protocol=PLAN.scorecard_protocol(),
    script:
        "../scripts/scorecard.py"


rule scorecard:
    input:
        paths.SCORECARD_OUTPUTS["md"],
    localrule: True
