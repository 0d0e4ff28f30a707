# Reproduction of He & Li 2016, "A combinatory form learning rate scheduling for deep
# learning model" (AdaMix). See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/tuning.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/scorecard.smk"
include: "workflow/rules/decide.smk"


rule all:
    input:
        PLAN.all_targets(),
