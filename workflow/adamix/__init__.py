"""AdaMix reproduction: the numerics behind the Snakemake pipeline.

One module per concept of He & Li 2016: data, rbm, autoencoder, schedules,
train, metrics, tables, figures.
"""
