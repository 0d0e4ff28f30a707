# Stage 1: MNIST, checksummed, and its nested class-stratified subsets.


localrules:
    download_mnist,
    make_subset,
    data,


rule download_mnist:
    output:
        "results/data/mnist.npz",
    log:
        "logs/data/download_mnist.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        data=config["data"],
    script:
        "../scripts/download_mnist.py"


rule make_subset:
    input:
        "results/data/mnist.npz",
    output:
        "results/data/subset_{size}.npz",
    log:
        "logs/data/subset_{size}.log",
    conda:
        "../../envs/adamix.yaml"
    params:
        seed=config["data"]["subset_seed"],
    script:
        "../scripts/make_subset.py"


rule data:
    input:
        expand("results/data/subset_{size}.npz", size=SIZES),
