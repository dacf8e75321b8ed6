"""The video reaches the GRPO loss: tiny Qwen2.5-VL and Qwen3-VL trained on a small dataset written by build/.

- every gradient-carrying forward (and every reference-model forward) gets each row's pixel_values_videos /
  video_grid_thw, and they equal what the processor gives for that row's clips on its own;
- changing one row's clip pixels changes that row's per-token log-probs in the loss, and only that row's;
- gradients reach the vision tower (and do not with the stock GRPOTrainer: the test has teeth);
- with num_iterations=2 the first loss pass reproduces the old log-probs;
- each row's loss log-probs equal a plain forward of that row alone.

The runs are observed through public interfaces only: forward hooks on the models, a callback, and a wrapper
around the Trainer's ``compute_loss``.
"""

from __future__ import annotations

import pytest
import torch
from _train_helpers import one_thread, small_dataset, train_config, varied_reward
from transformers import TrainerCallback
from videossr.train.data import load_train_dataset, prepare_dataset
from videossr.train.processor import chat_inputs, processor_kwargs, video_options
from videossr.train.session import build_trainer

pytestmark = pytest.mark.slow

KINDS = ("qwen2_5_vl", "qwen3_vl")
RECORDED = (
    "input_ids",
    "attention_mask",
    "pixel_values",
    "pixel_values_videos",
    "video_grid_thw",
    "second_per_grid_ts",
    "mm_token_type_ids",
)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_thread():
        yield


class Recorder:
    """Forward pre-hooks on the policy's and reference model's inner model (kwargs and grad mode)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def hook(self, which: str):
        def pre_hook(module, args, kwargs):
            rec = {"which": which, "grad": torch.is_grad_enabled()}
            for k in RECORDED:
                v = kwargs.get(k)
                rec[k] = v.detach().cpu().clone() if isinstance(v, torch.Tensor) else None
            self.calls.append(rec)

        return pre_hook


class VisionGrad(TrainerCallback):
    def __init__(self, visual) -> None:
        self.visual = visual
        self.steps: list[tuple[int, int]] = []  # (params with non-zero grad, params)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        params = [p for p in self.visual.parameters() if p.requires_grad]
        nonzero = sum(1 for p in params if p.grad is not None and float(p.grad.abs().sum()) > 0)
        self.steps.append((nonzero, len(params)))


class LossCalls:
    """Every ``compute_loss`` call of a run (the Trainer's public method, wrapped): its inputs, the per-token
    log-probs the policy forward returned during it (a forward hook on the model), and, when asked, each row's
    log-probs from a plain forward of that row alone, computed right then (before the optimizer step)."""

    def __init__(self, trainer, single_rows: bool = True) -> None:
        self.trainer = trainer
        self.single_rows = single_rows
        self.calls: list[dict] = []
        self._chunks: list[torch.Tensor] | None = None
        trainer.model.register_forward_hook(self._hook)
        original = trainer.compute_loss

        def compute_loss(model, inputs, *args, **kwargs):
            self._chunks = []
            try:
                loss = original(model, inputs, *args, **kwargs)
            finally:
                chunks, self._chunks = self._chunks, None
            keep = inputs["completion_ids"].shape[1]
            call = {"inputs": inputs, "logps": torch.cat(chunks)[:, -keep:]}
            if self.single_rows:
                call["single"] = single_row_logps(trainer, inputs)
            self.calls.append(call)
            return loss

        trainer.compute_loss = compute_loss

    def _hook(self, module, args, output):
        if self._chunks is not None and getattr(output, "log_probs", None) is not None:
            self._chunks.append(output.log_probs.detach().clone())


def single_row_logps(trainer, inputs) -> list[torch.Tensor]:
    """Each row's completion log-probs from a plain model forward of that row alone (its own video tensors,
    the processor's token types), independent of the trainer's batching, padding and chunking."""
    pad = trainer.processing_class.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    model = trainer.accelerator.unwrap_model(trainer.model)
    out = []
    with torch.no_grad():
        for j, row in enumerate(inputs["video_inputs"]):
            prompt = inputs["prompt_ids"][j][inputs["prompt_mask"][j].bool()]
            completion = inputs["completion_ids"][j][inputs["completion_mask"][j].bool()]
            full = torch.cat([prompt, completion])[None]
            logits = model(input_ids=full, mm_token_type_ids=(full == pad).long() * 2, **row).logits[0]
            logits = logits[len(prompt) - 1 : -1] / trainer.args.temperature
            out.append(logits.log_softmax(-1).gather(-1, completion[:, None])[:, 0])
    return out


def run_training(kind, out, trainer_cls=None, **overrides):
    cfg = train_config(kind, out, **overrides)
    trainer = build_trainer(cfg, reward_funcs=[varied_reward])
    if trainer_cls is not None:  # the stock trainer with the very same arguments
        trainer.__class__ = trainer_cls
    rec = Recorder()
    trainer.model.model.register_forward_pre_hook(rec.hook("policy"), with_kwargs=True)
    if trainer.ref_model is not None:
        trainer.ref_model.model.register_forward_pre_hook(rec.hook("ref"), with_kwargs=True)
    grads = VisionGrad(trainer.model.model.visual)
    trainer.add_callback(grads)
    losses = LossCalls(trainer, single_rows=trainer_cls is None and cfg.video_as == "video")
    trainer.train()
    return trainer, rec, grads, losses


@pytest.fixture(scope="module", params=KINDS)
def trained(request, tmp_path_factory):
    kind = request.param
    trainer, rec, grads, losses = run_training(
        kind, tmp_path_factory.mktemp(kind), beta=0.04, max_steps=2, grpo_args={"num_iterations": 2}
    )
    return kind, trainer, rec, grads, losses


@pytest.fixture(scope="module")
def reference_rows():
    """Each dataset row processed on its own: prompt ids and video tensors, independent of the trainer."""
    out = {}
    for kind in KINDS:
        from _train_helpers import tiny_model
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(tiny_model(kind))
        options = video_options(processor, max_pixels=64 * 48, max_frames=48)
        ds = prepare_dataset(load_train_dataset(small_dataset()), options)
        rows = []
        for i in range(len(ds)):
            row = ds[i]
            enc = chat_inputs(processor, row["prompt"], processor_kwargs(processor, options))
            n_clips = sum(1 for m in row["prompt"] for p in m["content"] if p["type"] == "video")
            rows.append({"id": row["id"], "ids": enc["input_ids"][0], "n": n_clips, "enc": enc})
        out[kind] = rows
    return out


def _candidates(ids: torch.Tensor, refs: list[dict]) -> list[dict]:
    """Dataset rows whose prompt ids start this batch row (several when two rows have the same question)."""
    hits = [r for r in refs if len(r["ids"]) <= len(ids) and torch.equal(ids[: len(r["ids"])], r["ids"])]
    assert hits, "batch row matches no dataset prompt"
    return hits


def _same_video(ref: dict, grid: torch.Tensor, pv: torch.Tensor, spg, v0: int, p0: int) -> bool:
    enc, n = ref["enc"], ref["n"]
    if v0 + n > grid.shape[0] or not torch.equal(grid[v0 : v0 + n], enc["video_grid_thw"]):
        return False
    rows = int(enc["video_grid_thw"].prod(-1).sum())
    if not torch.equal(pv[p0 : p0 + rows], enc["pixel_values_videos"]):
        return False
    return spg is None or torch.allclose(spg[v0 : v0 + n], enc["second_per_grid_ts"])


def test_every_loss_forward_carries_each_rows_video(trained, reference_rows):
    kind, _, rec, _, _ = trained
    refs = reference_rows[kind]
    loss_calls = [c for c in rec.calls if c["grad"] or c["which"] == "ref"]
    grad_calls = [c for c in rec.calls if c["grad"]]
    assert len(grad_calls) >= 4, "expected 2 steps x 2 micro-batches x 2 iterations of gradient forwards"
    assert any(c["which"] == "ref" for c in loss_calls), "the reference model (beta > 0) was never called"
    for call in loss_calls:
        for key in ("pixel_values_videos", "video_grid_thw", "mm_token_type_ids"):
            assert call[key] is not None, f"{call['which']} forward (grad={call['grad']}) without {key}"
        if kind == "qwen2_5_vl":
            assert call["second_per_grid_ts"] is not None
        pv, grid = call["pixel_values_videos"], call["video_grid_thw"]
        assert pv.shape[0] == int(grid.prod(-1).sum())
        v0 = p0 = 0
        for b in range(call["input_ids"].shape[0]):
            ids = call["input_ids"][b][call["attention_mask"][b].bool()]
            spg = call["second_per_grid_ts"] if kind == "qwen2_5_vl" else None
            matches = [r for r in _candidates(ids, refs) if _same_video(r, grid, pv, spg, v0, p0)]
            assert matches, (
                f"{call['which']} forward, row {b}: its video tensors are not those of its own clips"
            )
            n = matches[0]["n"]
            rows = int(grid[v0 : v0 + n].prod(-1).sum())
            # mm_token_type_ids mark exactly this row's video tokens
            mm = call["mm_token_type_ids"][b][call["attention_mask"][b].bool()]
            assert int((mm == 2).sum()) == rows // 4
            v0, p0 = v0 + n, p0 + rows
        assert v0 == grid.shape[0] and p0 == pv.shape[0]


def test_gradients_reach_the_vision_tower(trained):
    _, _, _, grads, _ = trained
    assert grads.steps, "no optimizer step"
    for nonzero, total in grads.steps:
        assert nonzero == total, f"only {nonzero}/{total} vision parameters got a gradient"


def test_changing_one_rows_pixels_changes_only_that_rows_logps(trained):
    kind, trainer, _, _, losses = trained
    inputs = losses.calls[-1]["inputs"]
    rows = inputs["video_inputs"]
    assert len(rows) == inputs["prompt_ids"].shape[0]
    losses.single_rows = False
    mask = inputs["completion_mask"].bool()
    with torch.no_grad():
        trainer.compute_loss(trainer.model, inputs)
        base = losses.calls[-1]["logps"]
        for j in range(len(rows)):
            changed = dict(inputs)
            new_rows = list(rows)
            new_rows[j] = dict(rows[j])
            gen = torch.Generator().manual_seed(j)
            new_rows[j]["pixel_values_videos"] = torch.randn(
                rows[j]["pixel_values_videos"].shape, generator=gen
            )
            changed["video_inputs"] = new_rows
            trainer.compute_loss(trainer.model, changed)
            delta = (losses.calls[-1]["logps"] - base).abs() * mask
            assert float(delta[j].max()) > 1e-5, f"{kind}: row {j}'s pixels do not change its log-probs"
            others = [i for i in range(len(rows)) if i != j]
            assert float(delta[others].max()) < 1e-6, f"{kind}: row {j}'s pixels changed another row"


def test_first_iteration_logps_equal_old_logps(trained):
    """num_iterations=2: the old log-probs (no-grad, right after generation) and the first loss pass, before
    any update, must see the same video, hence be equal."""
    _, _, _, _, losses = trained
    first = losses.calls[0]
    old = first["inputs"].get("old_per_token_logps")
    assert old is not None
    m = first["inputs"]["completion_mask"].bool()
    assert float((first["logps"] - old).abs()[m].max()) < 1e-5


def test_stock_trainer_drops_the_video(tmp_path):
    """Contrast: TRL's own GRPOTrainer on the same data gives the vision tower no gradient."""
    from trl import GRPOTrainer

    _, rec, grads, _ = run_training("qwen2_5_vl", tmp_path, trainer_cls=GRPOTrainer, beta=0.0, max_steps=1)
    grad_calls = [c for c in rec.calls if c["grad"]]
    assert grad_calls and all(c["pixel_values_videos"] is None for c in grad_calls)
    assert all(nonzero == 0 for nonzero, _ in grads.steps)


def test_frames_mode_puts_the_frames_in_the_loss(tmp_path):
    """--video-as frames: TRL's own image path carries every frame (pixel_values) into the loss forward."""
    _, rec, grads, _ = run_training("qwen3_vl", tmp_path, video_as="frames", beta=0.0, max_steps=1)
    grad_calls = [c for c in rec.calls if c["grad"]]
    assert grad_calls
    assert all(c["pixel_values_videos"] is None and c["pixel_values"] is not None for c in grad_calls)
    assert all(nonzero == total for nonzero, total in grads.steps)


def test_trainer_logps_equal_a_plain_single_row_forward(trained):
    """Independent reference: each row's loss-path log-probs (batched, left-padded, chunked) equal a plain
    model forward of that row alone with its own video tensors and the processor's token types."""
    kind, _, _, _, losses = trained
    for call in losses.calls[:2]:
        for j, single in enumerate(call["single"]):
            diff = (single - call["logps"][j, : len(single)]).abs().max()
            assert float(diff) < 1e-4, (
                f"{kind} row {j}: batched vs single-row log-probs differ by {float(diff)}"
            )
