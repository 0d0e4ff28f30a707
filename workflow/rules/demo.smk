# `snakemake --cores 2 demo`: the pipeline end to end in a few minutes (config `demo`):
# its runs' fine-tuning jobs (and all they need, download included), then a table, a
# figure and a short write-up in results/demo/.


rule demo_report:
    input:
        PLAN.demo_parquets(),
    output:
        **paths.DEMO_OUTPUTS,
    log:
        paths.log("report", "demo"),
    conda:
        "../../envs/adamix.yaml"
    params:
        demo=config["demo"],
    script:
        "../scripts/demo.py"


rule demo:
    input:
        paths.DEMO_OUTPUTS["writeup"],
    localrule: True
