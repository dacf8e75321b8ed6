"""The benchmark's figures, printed as a table with the targets each is held to."""

from __future__ import annotations

from typing import Any


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _line(name: str, value: str, target: str = "") -> None:
    print(f"  {name:<42} {value:>16}   {target}")


def _ok(cond: bool) -> str:
    return "met" if cond else "NOT met"


def report(f: dict[str, Any]) -> None:
    print(
        f"\nVideoSSR build benchmark ({f['machine']}; {f['workers']} workers; medians of {f['repeats']} "
        "runs; ratios: medians of each run's ratio)"
    )
    print(
        f"  corpus: {f['num_videos']} source videos; {f['samples']} samples (one per task family per "
        f"source); load average {f['load_avg_1min']:.1f}"
    )
    _report_build(f)
    _report_output(f)
    if "speedup" in f:
        _report_scaling(f)
    if "frame_folder_s" in f:
        _report_frame_folder(f)
    if "reference_s" in f:
        _report_reference(f)
    print(flush=True)


def _report_build(f: dict[str, Any]) -> None:
    _line("decode floor", f"{f['floor_s']:.2f} s", f"({f['floor_frames']} frames)")
    phases = (
        f"(start+probe {f['build_start_probe_s']:.2f} s, units {f['build_units_s']:.2f} s, "
        f"finalize {f['build_finalize_s']:.2f} s)"
    )
    _line("full build", f"{f['build_s']:.2f} s", phases)
    if f.get("redrawn_samples"):
        _line(
            "  samples re-drawn on other sources",
            f"{f['redrawn_samples']}",
            "(every draw rejected at their source, e.g. ChannelSwap on grey content: made from a fallback "
            "source)",
        )
    ratio = f["build_over_floor"]
    _line("build / floor", f"{ratio:.2f} x", f"target <= 1.2 x: {_ok(ratio <= 1.2)}")
    _line("  (units phase / floor)", f"{f['units_over_floor']:.2f} x")
    cpu = f"(build {f['build_cpu_s']:.1f} s, floor {f['floor_cpu_s']:.1f} s of CPU, all processes)"
    _line("  CPU: build / floor", f"{f['build_over_floor_cpu']:.2f} x", cpu)
    _line("samples/s", f"{f['samples_per_s']:.2f}")
    _line("seconds per sample per core", f"{f['s_per_sample_per_core']:.3f} s")


def _report_output(f: dict[str, Any]) -> None:
    video = f["median_sample_video_bytes"]
    _line(
        "median video bytes per 48-frame sample",
        f"{video / 1e3:.0f} KB",
        f"target <= 250 KB: {_ok(video <= 250e3)}",
    )
    _line("bytes per sample (shards only)", f"{f['shard_bytes_per_sample'] / 1e3:.0f} KB")
    _line("bytes per sample (whole repo)", f"{f['repo_bytes_per_sample'] / 1e3:.0f} KB")
    _line("driver peak memory", _mb(f["driver_peak_bytes"]))
    _line("worker peak memory (incl. decoder, ffmpeg)", _mb(f["worker_peak_bytes"]))
    if "samples_4x" in f:
        dr = f["driver_peak_4x_bytes"] / f["driver_peak_bytes"]
        wr = f["worker_peak_4x_bytes"] / f["worker_peak_bytes"]
        n = f["samples_4x"]
        _line(
            f"driver peak, {n} samples (4x)",
            _mb(f["driver_peak_4x_bytes"]),
            f"x{dr:.2f}: flat (<= 1.25) {_ok(dr <= 1.25)}",
        )
        _line(
            f"worker peak, {n} samples (4x)",
            _mb(f["worker_peak_4x_bytes"]),
            f"x{wr:.2f}: flat (<= 1.25) {_ok(wr <= 1.25)}",
        )
    rows_per_s = f["load_rows_per_s"]
    _line(
        "load rows/s (decode every clip to tensors)",
        f"{rows_per_s:.1f}",
        f"target >= 50: {_ok(rows_per_s >= 50)}",
    )
    per_row = f["load_cpu_per_row_s"]
    idle = f"= {f['workers'] / per_row:.0f} rows/s on {f['workers']} idle cores"
    _line("  load CPU per row", f"{per_row * 1e3:.1f} ms", idle)
    main_job = f"build + verify {f['build_s'] + f['verify_s']:.2f} s: the main job"
    _line("verify (build/run.py runs it after the build)", f"{f['verify_s']:.2f} s", main_job)


def _report_scaling(f: dict[str, Any]) -> None:
    _line("build with 1 worker", f"{f['build_1_worker_s']:.2f} s")
    target = f"target >= 1.8 x: {_ok(f['speedup'] >= 1.8)}" if f["workers"] > 1 else "n/a with 1 worker"
    _line(
        f"speed-up, {f['workers']} workers vs 1",
        f"{f['speedup']:.2f} x",
        target + f" (units phase {f['units_speedup']:.2f} x)",
    )


def _report_frame_folder(f: dict[str, Any]) -> None:
    faster = f"build is {f['speed_vs_frame_folder']:.2f} x faster (target >= 1.5 x)"
    _line("frame-folder baseline", f"{f['frame_folder_s']:.2f} s", faster)
    larger = f"{f['storage_vs_frame_folder']:.1f} x our whole repo (target >= 10 x)"
    _line("frame-folder bytes per sample", f"{f['frame_folder_bytes_per_sample'] / 1e3:.0f} KB", larger)
    per_video = f["frame_folder_bytes_per_video"]
    _line(
        "frame-folder bytes per source video",
        f"{per_video / 1e3:.0f} KB",
        f"{per_video / f['repo_bytes_per_sample']:.1f} x our sample: the ratio at one sample per video, "
        "as in VideoSSR-30K",
    )


def _report_reference(f: dict[str, Any]) -> None:
    speed = f["speed_vs_reference"]
    _line(
        "paper's pipeline (frames + 3 task scripts)",
        f"{f['reference_s']:.2f} s",
        f"build is {speed:.2f} x faster (target >= 1.5 x): {_ok(speed >= 1.5)}; {f['reference_rows']} rows",
    )
    frames_only = f"build is {f['speed_vs_reference_frames']:.2f} x faster"
    _line("  its sample_frames.py alone", f"{f['reference_sample_frames_s']:.2f} s", frames_only)
    ratio = f["reference_bytes_per_sample"] / f["repo_bytes_per_sample"]
    _line(
        "  its bytes per sample (all it writes)",
        f"{f['reference_bytes_per_sample'] / 1e3:.0f} KB",
        f"{ratio:.1f} x our whole repo (target >= 10 x): {_ok(ratio >= 10)}",
    )
    per_video = f["reference_frames_bytes_per_video"]
    _line(
        "  its frame JPEGs per video",
        f"{per_video / 1e3:.0f} KB",
        f"{per_video / f['repo_bytes_per_sample']:.1f} x our sample: the ratio at one sample per video, "
        "as in VideoSSR-30K",
    )
