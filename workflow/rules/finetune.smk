# Stage 3: fine-tuning of the unrolled autoencoder, one job per
# (data set, reading, data size, Weight+Bias rules, seed).


rule finetune:
    input:
        subset="results/data/{dataset}/subset_{size}.npz",
        layers=lambda wc: pretrain_layers(
            wc.dataset, pretrain_of(wc.reading), wc.size, wc.seed
        ),
        plugins=lambda wc: plugin_files(f"{wc.weight}+{wc.bias}"),
    output:
        metrics="results/finetune/{dataset}/{reading}/{size}/{weight}+{bias}/seed{seed}/metrics.parquet",
    log:
        "logs/finetune/{dataset}/{reading}/{size}/{weight}+{bias}/seed{seed}.log",
    benchmark:
        "benchmarks/finetune/{dataset}/{reading}/{size}/{weight}+{bias}/seed{seed}.tsv"
    # Larger data first (see pretrain_layer): the long jobs must not start last.
    priority: lambda wc: round(100 * float(wc.size))
    conda:
        "../../envs/adamix.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc: 1000 + int(2000 * float(wc.size)),
        runtime=lambda wc: 20 + int(600 * float(wc.size)),
        gpu=config["gpus_per_job"],
    # finetune_job's arguments (workflow/adamix/train.py)
    params:
        weight_rule="{weight}",
        bias_rule="{bias}",
        reading="{reading}",
        size="{size}",
        seed="{seed}",
        dataset="{dataset}",
        settings=lambda wc: reading_settings(wc.reading),
        # Kept outside the outputs, so that Snakemake does not delete it when a job is
        # killed: a rerun resumes from the last finished epoch.
        state="results/resume/{dataset}/{reading}/{size}/{weight}+{bias}/seed{seed}.pt",
        device=config["device"],
        save_every_s=config["resume_every_s"],
        cuda_graphs=config["cuda_graphs"],
        plugins=config["plugins"],
    script:
        "../scripts/finetune.py"


# The controlled timing of claim 2 (`walltime: true` experiments): every run's training
# step timed in one process, in interleaved rounds (adamix.bench.timing_job), on the data
# and pre-trained layers of the experiment's first size and seed.
rule timing:
    input:
        subset=lambda wc: timing_data(wc.experiment)[0],
        layers=lambda wc: timing_data(wc.experiment)[1],
    output:
        "results/timing/{experiment}.parquet",
    log:
        "logs/timing/{experiment}.log",
    conda:
        "../../envs/adamix.yaml"
    # All of the local cores, so that no other job runs beside it; torch uses `threads`.
    threads: lambda wildcards: timing_cores()
    resources:
        runtime=30,
        gpu=config["gpus_per_job"],
    params:
        cells=lambda wc: [cell[1:] for cell in experiment_cells(wc.experiment)],
        rounds=config["timing"]["rounds"],
        steps=config["timing"]["steps"],
        device=config["device"],
        threads=config["threads"],
    script:
        "../scripts/timing.py"


for _name in config["experiments"]:

    rule:
        name:
            _name
        input:
            experiment_outputs(_name),
        localrule: True
