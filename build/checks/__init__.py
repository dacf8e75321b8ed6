"""Checks of a built dataset, as named checks that can also run one row or one clip at a time.

``verify_repo(folder)`` runs them all on a dataset folder (``python build/verify.py FOLDER``). The parts:

* :mod:`.rows` and :mod:`.answers` - one row in memory: ids, per-clip lists, prompts, source id, and the
  answer re-derived from ``params`` (``check_row``);
* :mod:`.clips` - clips in memory (mp4 bytes): decoded by the system's ffmpeg, stream facts read by the
  build's decoder (``check_clips``); :mod:`.decoding` runs them on a thread pool;
* :mod:`.leaks` - absolute paths, user/host names and tokens in a row or a file;
* :mod:`.schema`, :mod:`.composition`, :mod:`.load` - the whole dataset: shard schemas, counts against the
  manifest and the card, ``load_dataset``;
* :mod:`.dataset` - ``verify_repo``; :mod:`.report` - what it returns; :mod:`.cli` - the command line.
"""

from .clips import ClipResult, ClipSpec, check_clips, clips_of_row
from .dataset import verify_repo
from .leaks import LeakScanner, MachineFacts, file_leaks, row_leaks
from .report import Problem, VerifyReport
from .rows import check_row, check_video_bytes

__all__ = [
    "ClipResult",
    "ClipSpec",
    "LeakScanner",
    "MachineFacts",
    "Problem",
    "VerifyReport",
    "check_clips",
    "check_row",
    "check_video_bytes",
    "clips_of_row",
    "file_leaks",
    "row_leaks",
    "verify_repo",
]
