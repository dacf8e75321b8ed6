"""VideoGRPOTrainer wraps four private GRPOTrainer methods of trl 1.16.0 and relies on a few more: fail loudly
if TRL changes under it."""

from __future__ import annotations

import inspect

import pytest
import trl
from trl import GRPOTrainer
from videossr.train import trainer as vt


def test_trl_version_is_the_pinned_one():
    assert trl.__version__ == vt.TRL_VERSION, (
        f"trl {trl.__version__} installed, VideoGRPOTrainer written for {vt.TRL_VERSION}: re-check the four "
        "wrappers against the new GRPOTrainer (docs/training.md, 'The video in the loss'), then update "
        "TRL_VERSION and HOOKED_SOURCE_SHA256"
    )


def test_hooked_methods_unchanged():
    current = vt.hooked_source_sha256()
    changed = [k for k, v in vt.HOOKED_SOURCE_SHA256.items() if current[k] != v]
    assert not changed, (
        f"TRL changed {', '.join(changed)}: the video may no longer reach the loss. Re-check the wrappers in "
        "train/trainer.py and run tests/test_train_video_loss.py, then update HOOKED_SOURCE_SHA256"
    )


def test_wrapped_signatures():
    params = list(inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).parameters)
    assert params[:8] == [
        "self",
        "model",
        "input_ids",
        "attention_mask",
        "logits_to_keep",
        "batch_size",
        "compute_entropy",
        "compute_aux_loss",
    ]
    assert "mm_token_type_ids" in params
    assert list(inspect.signature(GRPOTrainer._tokenize_prompts).parameters) == ["self", "prompts"]
    assert list(inspect.signature(GRPOTrainer._compute_loss).parameters) == ["self", "model", "inputs"]
    assert list(inspect.signature(GRPOTrainer._generate_and_score_completions).parameters) == [
        "self",
        "inputs",
    ]
    for name in vt.HOOKED_METHODS:
        assert name in vt.VideoGRPOTrainer.__dict__, f"VideoGRPOTrainer no longer overrides {name}"


def test_other_trl_version_refused(monkeypatch):
    monkeypatch.delenv("VIDEOSSR_ALLOW_TRL_MISMATCH", raising=False)
    vt.check_trl()  # the installed one
    with pytest.raises(vt.TRLVersionError, match=r"trl==1\.16\.0 but trl==9\.9\.9"):
        vt.check_trl(installed="9.9.9")
    with pytest.warns(UserWarning, match="written against"):
        vt.check_trl(allow_mismatch=True, installed="9.9.9")
    monkeypatch.setenv("VIDEOSSR_ALLOW_TRL_MISMATCH", "1")
    with pytest.warns(UserWarning):
        vt.check_trl(installed="9.9.9")
