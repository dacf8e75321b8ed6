"""Tiny random Qwen2.5-VL / Qwen3-VL checkpoints for offline tests and smoke runs (no download).

The model is built from a config (random weights, about 0.3M parameters); the tokenizer is a small byte-level
BPE trained here on a fixed in-memory corpus (the task prompts, digits), with the real Qwen special tokens and
the Qwen chat template shipped with TRL; the image and video processors use the Hub values of the real
checkpoints (patch, merge and temporal sizes, normalisation). Video-token counts are therefore exact, total
sequence lengths are not (it is not the real tokenizer). The result is a folder that
``AutoModelForImageTextToText.from_pretrained`` and ``AutoProcessor.from_pretrained`` load::

    from videossr.train.tiny import make_tiny_vlm
    path = make_tiny_vlm("qwen3_vl", "/tmp/tiny-qwen3-vl")

or ``python -m videossr.train.tiny --kind qwen3_vl --out DIR``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from videossr.arguments import DataclassArgumentParser, option

KINDS: tuple[str, ...] = ("qwen2_5_vl", "qwen3_vl")

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen2 pre-tokenizer split pattern.
_QWEN_PAT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def _corpus() -> list[str]:
    """Deterministic training text: the task prompts, answers in every format, some chat text."""
    from videossr.tasks import PERTURBATIONS, SYSTEM_PROMPT
    from videossr.tasks import prompts as P

    lines = [SYSTEM_PROMPT, P.COUNTING_QUESTION]
    for name in sorted(PERTURBATIONS):
        desc = getattr(PERTURBATIONS[name], "description", name)
        lines.append(P.grounding_question(str(desc)))
    for n in range(2, 9):
        lines.append(P.jigsaw_question(n))
    for i in range(200):
        interval = f"{i}.{i % 10}-{i + 3}.{(i * 7) % 10}"
        lines.append(f"Clip {i % 9 + 1}: {interval} {i % 7},{i % 5},{i % 3} {i * 7919 % 10**6}")
    lines.append("The answer is 341562. Yes, no, maybe. user assistant system video image seconds")
    return lines * 3


def make_tokenizer(out_dir: str | Path | None = None, kind: str = "qwen2_5_vl", vocab_size: int = 1024):
    """A byte-level BPE with the Qwen special tokens and the Qwen(2.5|3)-VL chat template."""
    import trl
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_PAT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
    )
    template = "qwen3_vl.jinja" if kind == "qwen3_vl" else "qwen2_5_vl.jinja"
    hf.chat_template = (Path(trl.__file__).parent / "chat_templates" / template).read_text()
    if out_dir is not None:
        hf.save_pretrained(out_dir)
    return hf


def make_processor(kind: str, tokenizer):
    """Processor with the image/video processor values of the real Hub checkpoints."""
    from transformers import Qwen2VLImageProcessor

    if kind == "qwen2_5_vl":
        from transformers import Qwen2_5_VLProcessor, Qwen2VLVideoProcessor

        image = Qwen2VLImageProcessor(
            patch_size=14, merge_size=2, temporal_patch_size=2, min_pixels=3136, max_pixels=12845056
        )
        video = Qwen2VLVideoProcessor(
            patch_size=14,
            merge_size=2,
            temporal_patch_size=2,
            size={"shortest_edge": 3136, "longest_edge": 12845056},
        )
        return Qwen2_5_VLProcessor(
            image_processor=image,
            tokenizer=tokenizer,
            video_processor=video,
            chat_template=tokenizer.chat_template,
        )
    if kind == "qwen3_vl":
        from transformers import Qwen3VLProcessor, Qwen3VLVideoProcessor

        clip_mean, clip_std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
        image = Qwen2VLImageProcessor(
            patch_size=16,
            merge_size=2,
            temporal_patch_size=2,
            size={"shortest_edge": 65536, "longest_edge": 16777216},
            image_mean=clip_mean,
            image_std=clip_std,
        )
        video = Qwen3VLVideoProcessor(
            patch_size=16,
            merge_size=2,
            temporal_patch_size=2,
            size={"shortest_edge": 4096, "longest_edge": 25165824},
            image_mean=clip_mean,
            image_std=clip_std,
        )
        return Qwen3VLProcessor(
            image_processor=image,
            tokenizer=tokenizer,
            video_processor=video,
            chat_template=tokenizer.chat_template,
        )
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


# The tiny vision towers: real patch, merge and temporal sizes (exact video-token counts), small widths.
VISION: dict[str, dict] = {
    "qwen2_5_vl": {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "num_heads": 2,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 56,
        "fullatt_block_indexes": [1],
        "tokens_per_second": 2,
    },
    "qwen3_vl": {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "num_heads": 2,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0],
    },
}
ROPE: dict[str, dict] = {
    "qwen2_5_vl": {"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]},
    "qwen3_vl": {
        "rope_type": "default",
        "rope_theta": 1e4,
        "mrope_section": [4, 2, 2],
        "mrope_interleaved": True,
    },
}


def make_config(kind: str, tokenizer):
    """The ``kind`` model config: a 2-layer, 64-wide language model and a 2-block vision tower."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    from transformers import Qwen2_5_VLConfig, Qwen3VLConfig

    ids = {
        "image_token_id": tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tokenizer.convert_tokens_to_ids("<|vision_end|>"),
    }
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 32768,
        "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.pad_token_id,
        "tie_word_embeddings": False,
        "rope_parameters": dict(ROPE[kind]),
    }
    config_class = Qwen2_5_VLConfig if kind == "qwen2_5_vl" else Qwen3VLConfig
    return config_class(text_config=text, vision_config=dict(VISION[kind]), **ids)


def make_tiny_vlm(kind: str, out_dir: str | Path, *, seed: int = 0) -> Path:
    """Build a tiny random ``kind`` VLM (``qwen2_5_vl`` | ``qwen3_vl``), save it to ``out_dir``, return the
    path.

    The folder holds config, weights, tokenizer, processor and a generation config; it loads with
    ``AutoModelForImageTextToText.from_pretrained(out_dir)`` and ``AutoProcessor.from_pretrained(out_dir)``.
    Deterministic for a given ``seed``. Takes about 1-2 s on CPU.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(None, kind)
    processor = make_processor(kind, tokenizer)
    config = make_config(kind, tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config = GenerationConfig(
        eos_token_id=[eos, tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "videossr_tiny.json").write_text(json.dumps({"kind": kind, "seed": seed}) + "\n")
    return out


@dataclass
class TinyModelConfig:
    """Options of ``python -m videossr.train.tiny``."""

    out: str = option("", help="output folder", required=True)
    kind: str = option("qwen3_vl", choices=KINDS, help="model family")
    seed: int = option(0, help="weight initialisation seed")


def main(argv: list[str] | None = None) -> int:
    parser = DataclassArgumentParser(
        TinyModelConfig,
        prog="python -m videossr.train.tiny",
        description="Write a tiny random Qwen-VL checkpoint (offline) for smoke runs and tests.",
    )
    (cfg,) = parser.parse_into_dataclasses(argv)
    path = make_tiny_vlm(cfg.kind, cfg.out, seed=cfg.seed)
    print(f"wrote tiny {cfg.kind} to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
