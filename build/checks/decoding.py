"""Every clip of a dataset checked on a thread pool: batches of clips, each batch decoded by one ffmpeg
process, each thread with its own guarded decoder child for the stream facts, with bounded memory."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from tqdm import tqdm

from ..frames import FrameSampler
from .clips import DECODE_TIMEOUT, ClipResult, ClipSpec, check_clips
from .report import VerifyReport

DECODE_BATCH = 16  # clips per ffmpeg process: its start-up costs more than decoding a small clip


class ClipDecoder:
    """Checks the clips it is given in batches, in the background; problems go to ``report`` as
    ``decode`` problems of the row that holds the clip."""

    def __init__(self, report: VerifyReport, workers: int, total: int, progress: bool) -> None:
        self.report = report
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.limit = 2 * max(1, workers)  # batches in flight
        self.batch: list[tuple[str, ClipSpec]] = []
        self.pending: list[Future[list[tuple[str, ClipResult]]]] = []
        self.samplers: list[FrameSampler] = []
        self.local = threading.local()
        self.bar = tqdm(
            total=total, desc="verify: decoding clips", unit="clip", disable=not progress, leave=False
        )

    def _run(self, batch: list[tuple[str, ClipSpec]]) -> list[tuple[str, ClipResult]]:
        sampler = getattr(self.local, "sampler", None)
        if sampler is None:
            sampler = self.local.sampler = FrameSampler(DECODE_TIMEOUT)
            self.samplers.append(sampler)
        results = check_clips([clip for _, clip in batch], sampler)
        return [(where, result) for (where, _), result in zip(batch, results)]

    def submit(self, where: str, clip: ClipSpec) -> None:
        self.batch.append((where, clip))
        if len(self.batch) >= DECODE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            self.pending.append(self.pool.submit(self._run, self.batch))
            self.batch = []
        if len(self.pending) >= self.limit:
            self._drain(self.limit // 2)

    def _drain(self, keep: int) -> None:
        while len(self.pending) > keep:
            for where, result in self.pending.pop(0).result():
                self.report.count("clips_decoded")
                self.report.count("frames_decoded", result.frames)
                for problem in result.problems:
                    self.report.add("decode", where, problem)
                self.bar.update(1)

    def close(self) -> None:
        try:
            self._flush()
            self._drain(0)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            for sampler in self.samplers:
                sampler.close()
            self.bar.close()
