# Beyond the paper: the tuned comparison (config `tuning`, adamix.report.tuning). A search job per
# run, reading and rate at one seed; a checkpoint picks each run's rate on the validation
# split; that rate reruns with every seed; a table and a sensitivity figure. Search and
# reruns are ordinary fine-tuning jobs (rule finetune) under the tuning's readings.


localrules:
    tuning_select,
    tuning_metrics,
    tuning_table,
    tuning_figure,
    tuning_curves,
    tuning,


checkpoint tuning_select:
    input:
        [search.metrics for search in PLAN.tuning_search()],
    output:
        search=paths.TUNING_SEARCH,
        selected=paths.TUNING_SELECTED,
    log:
        paths.log("tuning", "select"),
    conda:
        "../../envs/adamix.yaml"
    params:
        paths=[search.metrics for search in PLAN.tuning_search()],
        cells=[search.as_list()[1:] for search in PLAN.tuning_search()],
        rates=PLAN.tuning["rates"],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/tuning_select.py"


rule tuning_metrics:
    input:
        get_tuning_metrics_input,
    output:
        paths.TUNING_METRICS,
    log:
        paths.log("tuning", "metrics"),
    conda:
        "../../envs/adamix.yaml"
    params:
        cells=lambda wc: as_lists(selected_cells()),
        only_cells=True,
    script:
        "../scripts/gather_metrics.py"


rule tuning_table:
    input:
        metrics=paths.TUNING_METRICS,
        selected=paths.TUNING_SELECTED,
    output:
        csv=report(
            paths.table("tuning", "csv"),
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="table (CSV)",
        ),
        md=paths.table("tuning", "md"),
        html=report(
            paths.table("tuning", "html"),
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="table",
        ),
    log:
        paths.log("tuning", "table"),
    conda:
        "../../envs/adamix.yaml"
    params:
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/tuning_table.py"


rule tuning_figure:
    input:
        paths.TUNING_SEARCH,
    output:
        png=report(
            paths.figure("tuning_sensitivity", "png"),
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="sensitivity",
        ),
        pdf=paths.figure("tuning_sensitivity", "pdf"),
    log:
        paths.log("tuning", "figure"),
    conda:
        "../../envs/adamix.yaml"
    script:
        "../scripts/tuning_figure.py"


rule tuning_curves:
    input:
        paths.TUNING_METRICS,
    output:
        png=report(
            paths.figure("tuning_curves", "png"),
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="learning curves",
        ),
        pdf=paths.figure("tuning_curves", "pdf"),
    log:
        paths.log("tuning", "curves"),
    conda:
        "../../envs/adamix.yaml"
    params:
        tuning=config["tuning"],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/tuning_curves.py"


rule tuning:
    input:
        paths.table("tuning", "csv"),
        paths.figure("tuning_sensitivity"),
        paths.figure("tuning_curves"),
