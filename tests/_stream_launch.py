"""``accelerate launch`` entry of the stream's two-process test: a short adaptive run on a stream with the
rigged reward of :mod:`_stream_helpers`, two loader workers per rank; every rank writes the stream state it
ended with (``rank<k>.json``) so the test can check that all ranks took the same decisions and recorded every
rank's rows.

``python _stream_launch.py OUT RECIPE CORPUS MODEL``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _stream_helpers import BAND, rigged_reward, stream_config
from videossr.train.session import train


def main(out: str, recipe: str, corpus: str, model: str) -> int:
    cfg = stream_config(
        Path(out) / "run",
        Path(recipe),
        Path(corpus),
        model=model,
        max_steps=4,
        global_batch=8,
        num_generations=4,
        per_device_batch=8,
        adaptive=True,
        adaptive_band=BAND,
        adaptive_window=8,
        dataloader_num_workers=2,
        export_seen=str(Path(out) / "seen"),
    )
    trainer = train(cfg, reward_funcs=[rigged_reward])
    state = trainer.stream_run.state_dict()
    (Path(out) / f"rank{trainer.accelerator.process_index}.json").write_text(
        json.dumps(state, sort_keys=True)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
