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
        [cell[0] for cell in tuning_search()],
    output:
        search="results/tuning/search.csv",
        selected="results/tuning/selected.csv",
    log:
        "logs/tuning/select.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        paths=[cell[0] for cell in tuning_search()],
        cells=[cell[1:] for cell in tuning_search()],
        rates=TUNING["rates"],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/tuning_select.py"


rule tuning_metrics:
    input:
        tuned_metrics,
    output:
        "results/metrics/tuning.parquet",
    log:
        "logs/tuning/metrics.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        cells=tuned_cells,
        only_cells=True,
    script:
        "../scripts/gather_metrics.py"


rule tuning_table:
    input:
        metrics="results/metrics/tuning.parquet",
        selected="results/tuning/selected.csv",
    output:
        csv=report(
            "results/tables/tuning.csv",
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="table (CSV)",
        ),
        md="results/tables/tuning.md",
        html=report(
            "results/tables/tuning.html",
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="table",
        ),
    log:
        "logs/tuning/table.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/tuning_table.py"


rule tuning_figure:
    input:
        "results/tuning/search.csv",
    output:
        png=report(
            "results/figures/tuning_sensitivity.png",
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="sensitivity",
        ),
        pdf="results/figures/tuning_sensitivity.pdf",
    log:
        "logs/tuning/figure.log",
    conda:
        "../../envs/adamix.yaml"
    script:
        "../scripts/tuning_figure.py"


rule tuning_curves:
    input:
        "results/metrics/tuning.parquet",
    output:
        png=report(
            "results/figures/tuning_curves.png",
            caption="../report/tuning.rst",
            category="Tuning",
            subcategory="learning curves",
        ),
        pdf="results/figures/tuning_curves.pdf",
    log:
        "logs/tuning/curves.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        tuning=config["tuning"],
        epoch=config["finetune"]["epochs"],
    script:
        "../scripts/tuning_curves.py"


rule tuning:
    input:
        "results/tables/tuning.csv",
        "results/figures/tuning_sensitivity.png",
        "results/figures/tuning_curves.png",
