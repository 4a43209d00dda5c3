"""The family's training recipe as a config: what every member is trained with.

Kept apart from :mod:`ttc.family.train` so that a profile is validated (chapter 2's config
builds one) without loading torch; the training loop lives there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ttc.config import ConfigError, require_range
from ttc.tasks import TaskConfig

#: the training kernels a member may be trained with: torch's own (``eager``) or
#: :mod:`ttc.fused_train`'s (``fused``, on the CPU in float32)
KERNELS = ("eager", "fused")


@dataclass(frozen=True)
class TrainConfig:
    """The shared training recipe of the family."""

    steps: int = 300
    batch_size: int = 16  # blocks per step
    block_size: int = 128  # tokens per block (documents packed end to end)
    lr: float = 2.7e-3  # peak learning rate, the same for every member
    warmup_frac: float = 0.05
    weight_decay: float = 0.1
    seed: int = 0
    eval_every: int = 100  # steps between validation losses
    n_val_blocks: int = 32
    task: TaskConfig = field(default_factory=TaskConfig)

    def __post_init__(self) -> None:
        require_range("steps", self.steps, low=1)
        require_range("batch_size", self.batch_size, low=1)
        require_range("block_size", self.block_size, low=16, high=4096)
        require_range("lr", self.lr, low=1e-6, high=1.0)
        require_range("warmup_frac", self.warmup_frac, low=0.0, high=0.5)
        require_range("weight_decay", self.weight_decay, low=0.0)
        require_range("eval_every", self.eval_every, low=1)
        require_range("n_val_blocks", self.n_val_blocks, low=1)
        if not isinstance(self.task, TaskConfig):
            raise ConfigError("parameter 'task' must be a TaskConfig")

    @property
    def tokens(self) -> int:
        """Tokens trained on: D in 6·N·D."""
        return self.steps * self.batch_size * self.block_size
