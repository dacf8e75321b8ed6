"""VideoSSR: video self-supervised reinforcement learning data, training and evaluation.

The stage packages live in the repository's top-level folders and import as
``videossr.tasks``, ``videossr.build``, ``videossr.train`` and ``videossr.eval``.
"""

__version__ = "0.1.0"
