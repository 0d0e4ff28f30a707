# Stage 2: greedy RBM pre-training, one job per layer, data set, pre-training reading (the
# reading whose settings it uses, named by pretrain_of: `default` unless a reading
# overrides `pretrain_epochs` or `subset`), data size and seed.


rule pretrain_layer:
    input:
        subset=get_pretrain_subset,
        lower=get_pretrain_layer_input,
    output:
        checkpoint=paths.LAYER,
        errors=paths.LAYER_ERRORS,
    log:
        paths.PRETRAIN_LOG,
    benchmark:
        paths.PRETRAIN_BENCHMARK
    # Larger data first: the 1.0 chain (4 layers, then its fine-tuning) is the longest path.
    priority: lambda wc: round(100 * float(wc.size))
    conda:
        "../../envs/adamix.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc: 1000 + int(2000 * float(wc.size)),
        runtime=lambda wc: 10 + int(30 * float(wc.size)),
        gpu=config["gpus_per_job"],
    # pretrain_job's arguments (adamix.train.rbm); only this layer's own settings:
    # changing the top layer reruns the top layer alone.
    params:
        n_hidden=lambda wc: config["model"]["layers"][int(wc.layer)],
        top=lambda wc: int(wc.layer) == PLAN.n_layers,
        settings=lambda wc: PLAN.readings.pretrain_settings(wc.reading),
        weight_std=config["model"]["init_weight_variance"] ** 0.5,
        size="{size}",
        seed="{seed}",
        dataset="{dataset}",
        reading="{reading}",
        device=config["device"],
        code=CODE["pretrain"],
    script:
        "../scripts/pretrain_layer.py"
