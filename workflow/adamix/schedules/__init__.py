"""Learning-rate rules and the optimizer that applies them."""

from adamix.schedules.sgd import *  # noqa: F403  (skeleton; split follows)
from adamix.schedules.sgd import READABLE, TorchRule, schedule_time, settings_read  # noqa: F401
