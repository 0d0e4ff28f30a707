# Stage 3: fine-tuning of the unrolled autoencoder, one job per
# (data set, reading, data size, Weight+Bias rules, seed).


rule finetune:
    input:
        unpack(get_finetune_input),
    output:
        metrics=paths.FINETUNE_METRICS,
    log:
        paths.FINETUNE_LOG,
    benchmark:
        paths.FINETUNE_BENCHMARK
    # Larger data first (see pretrain_layer): the long jobs must not start last.
    priority: lambda wc: round(100 * float(wc.size))
    conda:
        "../../envs/adamix.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc: 1000 + int(2000 * float(wc.size)),
        runtime=lambda wc: 20 + int(600 * float(wc.size)),
        gpu=config["gpus_per_job"],
    # finetune_job's arguments (adamix.train.finetune)
    params:
        weight_rule="{weight}",
        bias_rule="{bias}",
        reading="{reading}",
        size="{size}",
        seed="{seed}",
        dataset="{dataset}",
        settings=lambda wc: PLAN.readings.settings(wc.reading),
        # Kept outside the outputs, so that Snakemake does not delete it when a job is
        # killed: a rerun resumes from the last finished epoch.
        state=paths.RESUME_STATE,
        device=config["device"],
        save_every_s=config["resume_every_s"],
        cuda_graphs=config["cuda_graphs"],
        # Only the plug-ins of this job's rules: adding one replans only the jobs it serves.
        plugins=lambda wc: PLAN.plugins_of(f"{wc.weight}+{wc.bias}"),
        # The numeric code's digest (adamix.provenance): other code, another job.
        code=CODE["finetune"],
    script:
        "../scripts/finetune.py"


# The controlled timing of claim 2 (`walltime: true` experiments): every run's training
# step timed in one process, in interleaved rounds of a random order each, seeded
# (adamix.train.step_timing), on the data and pre-trained layers of the experiment's first
# size and seed. Cons+Cons is timed twice, as two identical jobs: how far apart they come
# out is the noise floor claim 2 is judged against (adamix.report.timing).
rule step_timing:
    input:
        unpack(get_step_timing_input),
    output:
        paths.STEP_TIMING,
    log:
        paths.STEP_TIMING_LOG,
    conda:
        "../../envs/adamix.yaml"
    # All of the local cores, so that no other job runs beside it; torch uses `threads`.
    threads: get_step_timing_cores
    resources:
        runtime=30,
        gpu=config["gpus_per_job"],
    params:
        cells=lambda wc: as_lists(PLAN.experiment_cells(wc.experiment), start=1),
        rounds=config["timing"]["rounds"],
        steps=config["timing"]["steps"],
        device=config["device"],
        threads=config["threads"],
    script:
        "../scripts/step_timing.py"


for _name in config["experiments"]:

    rule:
        name:
            _name
        input:
            PLAN.experiment_outputs(_name),
        localrule: True
