"""VideoSSR eval stage: VIUBench and the paper's 16 video benchmarks with the paper's protocol.

From the repository root (or with the console scripts ``videossr-eval`` and ``videossr-submit``)::

    python eval/run.py --list                                   # the registry: Hub ids, splits, metrics
    python eval/run.py --model random --benchmarks viubench     # Table 1's Random Guess row on ./viubench
    python eval/run.py --model Qwen/Qwen3-VL-8B-Instruct --benchmarks viubench,videomme,charades \\
        --frames 32 --max-pixels 262144 --out outputs/qwen3vl-32f --video-root /data/videos
    python eval/run.py --model Qwen/Qwen3-VL-8B-Instruct --backend openai \\
        --api-base http://127.0.0.1:8000/v1 \\
        --benchmarks all --shard 0/4 --out outputs/run          # then once more without --shard to merge
    python eval/submit.py outputs/qwen3vl-32f --repo me/my-model --dry-run

Modules: :mod:`.registry` (specs, prompts, the ``@register_benchmark`` decorator), :mod:`.benchmarks`
(one module per benchmark: spec + adapter), :mod:`.items` (the item schema and the loader),
:mod:`.sources` (where a release is, its rows), :mod:`.videos` / :mod:`.archives` / :mod:`.clips`
(videos found inside the data, archives, cuts), :mod:`.scoring` (per item and per benchmark),
:mod:`.sampling_error` (standard errors), :mod:`.backends` (random, oracle, base class), :mod:`.hf_backend`
(transformers), :mod:`.openai_backend` (OpenAI-compatible servers), :mod:`.media` (frame sampling),
:mod:`.evaluator` (the loop: cache, shards, outputs), :mod:`.results` (results.json), :mod:`.report`
(tables, chart), :mod:`.paper` (the paper's numbers), :mod:`.hub` (model-index pull request, VIUBench
entry), :mod:`.cli` (the two command lines).
"""
