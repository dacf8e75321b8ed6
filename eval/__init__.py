"""VideoSSR eval stage: VIUBench and the paper's 16 video benchmarks with the paper's protocol.

From the repository root (or with the console scripts ``videossr-eval`` and ``videossr-submit``)::

    python eval/run.py --list                                   # the registry: Hub ids, splits, metrics, notes
    python eval/run.py --model random --benchmarks viubench     # Table 1's Random Guess row on ./viubench
    python eval/run.py --model Qwen/Qwen3-VL-8B-Instruct --benchmarks viubench,videomme,charades \\
        --frames 32 --max-pixels 262144 --out outputs/qwen3vl-32f --video-root /data/videos
    python eval/submit.py outputs/qwen3vl-32f --repo me/my-model --dry-run

Modules: :mod:`.registry` (benchmarks as data), :mod:`.items` (official fields -> one item schema, video
lookup), :mod:`.scoring` (per item and per benchmark), :mod:`.sampling_error` (standard errors),
:mod:`.backends` (random, oracle, base class), :mod:`.hf_backend` (transformers), :mod:`.openai_backend`
(OpenAI-compatible servers), :mod:`.media` (frame sampling), :mod:`.evaluator` (the loop: cache, shards,
outputs), :mod:`.results` (results.json), :mod:`.report` (tables, chart), :mod:`.paper` (the paper's
numbers), :mod:`.hub` (model-index pull request, VIUBench entry), :mod:`.cli` (the two command lines).
"""
