# Stage 1: the data sets (config `datasets`), checksummed, and their nested
# class-stratified subsets.


localrules:
    download,
    make_subset,
    data,


rule download:
    output:
        "results/data/{dataset}.npz",
    log:
        "logs/data/download_{dataset}.log",
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
        "results/data/{dataset}.npz",
    output:
        "results/data/{dataset}/subset_{size}.npz",
    log:
        "logs/data/{dataset}/subset_{size}.log",
    # As its pre-training and fine-tuning (pretrain_layer): the larger subsets first, else
    # the longest chains wait behind the 1/10 jobs.
    priority: lambda wc: round(100 * float(wc.size))
    conda:
        "../../envs/adamix.yaml"
    params:
        seed=config["data"]["subset_seed"],
    script:
        "../scripts/make_subset.py"


rule data:
    input:
        expand("results/data/{dataset}/subset_{size}.npz", dataset=DATASETS, size=SIZES),
