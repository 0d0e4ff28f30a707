"""Training: RBM pre-training, the unrolled autoencoder and its fine-tuning.

- ``rbm``: the RBMs and their CD-1 pre-training, layer by layer;
- ``autoencoder``: the unrolled network and its reconstruction error;
- ``devices``: the job's device and threads;
- ``finetune``: the fine-tuning loop and rule finetune's job;
- ``resume``: the resume state of a fine-tuning job (save, load, the digest of its inputs);
- ``step_timing``: rule step_timing's controlled measurement of seconds per step (claim 2).
"""

from adamix.train.finetune import GraphedSteps, finetune, finetune_job, train_epoch
from adamix.train.resume import digest

__all__ = ["GraphedSteps", "digest", "finetune", "finetune_job", "train_epoch"]
