"""Publish built dataset folders to the Hugging Face Hub (resumable, with retries; the token never printed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

IGNORE = [".work/**", ".staging-*/**", ".old-data-*/**", ".cache/**", "**/.*.tmp-*"]


def repo_ids(datasets: list[str], target: str | None) -> dict[str, str]:
    """``--push`` with nothing: the user's namespace; ``--push NS``: ``NS/<dataset>``; ``--push NS/NAME``
    (one dataset only): exactly that repo."""
    if target and "/" in target:
        if len(datasets) != 1:
            raise ValueError(
                f"--push {target} names one repo but {len(datasets)} datasets were built; give a namespace"
            )
        return {datasets[0]: target}
    if not target:
        from huggingface_hub import HfApi

        target = HfApi().whoami()["name"]
    return {d: f"{target}/{d}" for d in datasets}


def push_folder(
    folder: str | Path, repo_id: str, *, private: bool = False, retries: int = 3, api: Any = None
) -> str:
    """Create the dataset repo if missing and upload the folder; re-running skips what is already there."""
    from huggingface_hub import HfApi

    api = api or HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    delay = 5.0
    for attempt in range(1, retries + 1):
        try:
            api.upload_large_folder(
                repo_id=repo_id,
                folder_path=str(folder),
                repo_type="dataset",
                private=private,
                ignore_patterns=IGNORE,
            )
            break
        except Exception as exc:  # network errors: retry; the upload itself resumes
            if attempt == retries:
                raise RuntimeError(f"upload of {Path(folder).name} to {repo_id} failed after {retries} attempts: "
                                   f"{type(exc).__name__}") from None  # fmt: skip
            time.sleep(delay)
            delay *= 2
    return f"https://huggingface.co/datasets/{repo_id}"
