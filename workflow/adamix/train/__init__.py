"""Training: RBM pre-training, the unrolled autoencoder and its fine-tuning."""

from adamix.train.finetune import *  # noqa: F403  (skeleton; split follows)
from adamix.train.finetune import (  # noqa: F401
    GraphedSteps,
    _save_state,
    digest,
    finetune,
    finetune_job,
    train_epoch,
)
