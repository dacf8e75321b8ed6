"""Benchmarks of the build, outside the package and on its public API only.

``make bench`` runs ``python -m benchmarks.bench`` (the build beside its decode floor, its output's size and
load speed, baselines); ``make bench-scale`` runs ``python -m benchmarks.bench_scale`` (time and memory as
the number of sources grows). Arguments pass through: ``make bench ARGS="--workers 2 --repeats 1"``.
"""
