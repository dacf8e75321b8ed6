"""``accelerate launch`` entry for the CPU launch tests: ``videossr.train.sharding_check`` with FSDP and
DeepSpeed allowed on CPU.

accelerate (1.15) enables FSDP and DeepSpeed only for GPU-like devices: with ``use_cpu`` it keeps a plain
multi-process (gloo) state and the run silently trains unsharded. PyTorch's FSDP2 and DeepSpeed ZeRO-3
themselves run on CPU with gloo, so this entry lifts that one gate: after accelerate builds its state, a
multi-CPU state with an FSDP plugin (or a DeepSpeed plugin requested by the launcher) becomes an FSDP (or
DeepSpeed) state, as it would on GPUs. Everything after that (accelerate's model preparation, the Trainer,
TRL, VideoGRPOTrainer) is the unmodified code path, and ``sharding_check`` verifies inside the run that the
model is really sharded.
"""

from __future__ import annotations

import os
import sys

from accelerate.state import AcceleratorState, PartialState
from accelerate.utils import DistributedType


def _allow_fsdp_and_deepspeed_on_cpu() -> None:
    build_state = AcceleratorState.__init__

    def init(self, mixed_precision=None, cpu=False, dynamo_plugin=None, deepspeed_plugin=None, **kwargs):
        fsdp_plugin = kwargs.pop("fsdp_plugin", None)
        fresh = not AcceleratorState._shared_state
        build_state(
            self, mixed_precision, cpu, dynamo_plugin, deepspeed_plugin, fsdp_plugin=fsdp_plugin, **kwargs
        )
        if not fresh or self.distributed_type != DistributedType.MULTI_CPU:
            return
        if fsdp_plugin is not None:
            self.distributed_type = DistributedType.FSDP
            if self._mixed_precision != "no":
                fsdp_plugin.set_mixed_precision(self._mixed_precision)
            self.fsdp_plugin = fsdp_plugin
        elif deepspeed_plugin is not None and os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true":
            self.distributed_type = DistributedType.DEEPSPEED
            deepspeed_plugin.set_mixed_precision(self._mixed_precision)
            deepspeed_plugin.select(_from_accelerator_state=True)
            self.deepspeed_plugins = deepspeed_plugin
            self._mixed_precision = "no"  # DeepSpeed handles precision itself, as accelerate does on GPUs
        PartialState._shared_state["distributed_type"] = self.distributed_type

    AcceleratorState.__init__ = init


if __name__ == "__main__":
    _allow_fsdp_and_deepspeed_on_cpu()
    from videossr.train.sharding_check import main

    sys.exit(main())
