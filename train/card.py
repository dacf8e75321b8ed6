"""Model card (``cards/model_card.md.j2``), reward-curve PNG and ``--push-to-hub`` for a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from videossr.cards import MODEL_CARD, environment

from .config import CONFIG_FILENAME, TrainConfig, overridden


def reward_series(log_history: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """``{"reward": [(step, value)...], "reward/<task>": [...]}`` from a Trainer's ``state.log_history``."""
    series: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            if (key == "reward" or key.startswith("reward/")) and isinstance(value, (int, float)):
                series.setdefault(key, []).append((int(step), float(value)))
    return series


def plot_reward_curves(log_history: list[dict[str, Any]], path: str | Path) -> bool:
    """Write the reward curves as a PNG; False when nothing was logged."""
    series = reward_series(log_history)
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    for key in sorted(series, key=lambda k: (k != "reward", k)):
        steps, values = zip(*series[key])
        label = "all tasks" if key == "reward" else key.split("/", 1)[1]
        ax.plot(
            steps,
            values,
            marker="o" if len(steps) < 30 else None,
            lw=2 if key == "reward" else 1,
            label=label,
        )
    ax.set_xlabel("step")
    ax.set_ylabel("mean reward")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def render_model_card(
    cfg: TrainConfig,
    *,
    log_history: list[dict[str, Any]],
    global_step: int,
    has_curves: bool,
    repo_id: str | None = None,
    train_runtime: float | None = None,
) -> str:
    import trl

    base = cfg.model
    header: dict[str, Any] = {
        "library_name": "transformers",
        "pipeline_tag": "video-text-to-text",
        "tags": ["videossr", "grpo", "trl", "video", "reinforcement-learning"],
        "license": "apache-2.0",
    }
    if not Path(base).exists():
        header["base_model"] = base
    if not Path(cfg.dataset).exists():
        header["datasets"] = [cfg.dataset]
    series = reward_series(log_history)
    final = [(k, v[-1][1]) for k, v in sorted(series.items())]
    template = environment().get_template(MODEL_CARD)
    return template.render(
        yaml_header=yaml.safe_dump(header, sort_keys=False).strip(),
        model_name=(repo_id or Path(cfg.output_dir).name or "VideoSSR model"),
        base_model=base,
        dataset=cfg.dataset,
        dataset_config=cfg.dataset_config,
        split=cfg.split,
        trl_version=trl.__version__,
        video_as_text=(
            "clips as native video inputs" if cfg.video_as == "video" else "clips as lists of frames (images)"
        )
        + f", at most {cfg.max_frames} frames per clip and {cfg.max_pixels} pixels per frame",
        reward=cfg.reward,
        reward_text=(
            "the paper's smooth rewards: IoU, relative counting error, jigsaw displacement"
            if cfg.reward == "smooth"
            else "1 for an exactly correct answer, else 0"
        ),
        preset=cfg.preset,
        overrides=sorted(overridden(cfg).items()),
        has_curves=has_curves,
        final_rewards=final,
        global_step=global_step,
        train_runtime=None if train_runtime is None else round(train_runtime, 1),
        config_json=cfg.to_json(),
        repo_id=repo_id or cfg.output_dir,
    )


def write_outputs(
    cfg: TrainConfig, out_dir: str | Path, *, log_history, global_step: int, train_runtime=None
) -> Path:
    """Config JSON, reward curves and README.md (the model card) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILENAME).write_text(cfg.to_json() + "\n")
    (out / "log_history.json").write_text(json.dumps(log_history, indent=1, default=str) + "\n")
    has_curves = plot_reward_curves(log_history, out / "reward_curves.png")
    card = render_model_card(
        cfg,
        log_history=log_history,
        global_step=global_step,
        has_curves=has_curves,
        repo_id=cfg.push_to_hub,
        train_runtime=train_runtime,
    )
    (out / "README.md").write_text(card)
    return out / "README.md"


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Create (if needed) the model repo and upload ``folder``; returns the commit URL. Errors propagate."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="model",
        commit_message="VideoSSR GRPO checkpoint",
        ignore_patterns=["checkpoint-*", "checkpoint-*/**"],
    )
    return str(getattr(info, "commit_url", info))
