# `snakemake decide` (config `decide`): seeds until the primary hypotheses of the
# pre-registered analysis (docs/paper.md) are decided. Each look is a checkpoint: it reads
# its jobs' final test RER, judges every hypothesis (adamix.report.decide) and says how
# many seeds each needs next; the next look's jobs follow from that, so only undecided
# hypotheses get new seeds, up to the last count of decide.looks. Look 1 also tests
# whether the data subset adds variance; under decide.subset `auto` the seeds added from
# look 2 on then train on per-seed subsets.


checkpoint decide_look:
    input:
        get_decide_look_input,
    output:
        paths.DECIDE_LOOK,
    log:
        paths.log("report", "decide/look{look}"),
    wildcard_constraints:
        look=r"[1-9][0-9]*",
    localrule: True
    conda:
        "../../envs/adamix.yaml"
    params:
        entries=lambda wc: decide_entries(int(wc.look)),
        subset=lambda wc: decide_subset(int(wc.look)),
        subset_entries=lambda wc: decide_subset_entries(int(wc.look)),
        looks=config["decide"]["looks"],
        alpha=config["decide"]["alpha"],
    script:
        "../scripts/decide_look.py"


rule decide:
    input:
        get_decide_input,
    output:
        csv=report(
            paths.table("decide", "csv"),
            caption="../report/decide.rst",
            category="Seeds until decided",
        ),
        md=paths.table("decide", "md"),
    log:
        paths.log("report", "decide"),
    localrule: True
    conda:
        "../../envs/adamix.yaml"
    script:
        "../scripts/decide.py"
