# Stage 1: the data sets (config `datasets`), checksummed, and their nested
# class-stratified subsets.


localrules:
    download,
    make_subset,
    make_seed_subset,
    data,


rule download:
    output:
        paths.DATASET,
    log:
        paths.DOWNLOAD_LOG,
    conda:
        "../../envs/adamix.yaml"
    params:
        source=lambda wc: config["datasets"][wc.dataset],
        timeout_s=config["data"]["timeout_s"],
        retries=config["data"]["retries"],
    script:
        "../scripts/download.py"


rule make_subset:
    input:
        paths.DATASET,
    output:
        paths.SUBSET,
    log:
        paths.SUBSET_LOG,
    # As its pre-training and fine-tuning (pretrain_layer): the larger subsets first, else
    # the longest chains wait behind the 1/10 jobs.
    priority: lambda wc: round(100 * float(wc.size))
    conda:
        "../../envs/adamix.yaml"
    params:
        seed=config["data"]["subset_seed"],
    script:
        "../scripts/make_subset.py"


# The subset of one training seed, for the readings that draw it per seed (`subset:
# per_seed`): as make_subset, with the seed adamix.plan.config.subset_seed_of derives from
# data.subset_seed and the training seed (never the shared subset's seed).
rule make_seed_subset:
    input:
        paths.DATASET,
    output:
        paths.SEED_SUBSET,
    log:
        paths.SEED_SUBSET_LOG,
    priority: lambda wc: round(100 * float(wc.size))
    conda:
        "../../envs/adamix.yaml"
    params:
        seed=lambda wc: subset_seed_of(config["data"]["subset_seed"], wc.seed),
    script:
        "../scripts/make_subset.py"


rule data:
    input:
        expand(paths.SUBSET, dataset=PLAN.datasets, size=PLAN.sizes),
