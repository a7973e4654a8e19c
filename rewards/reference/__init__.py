"""Reference rewards: hand-written reward programs, one per built-in task.

Each ``<task_name>.py`` (``drone_hover.py`` for ``DroneHover``) is a reward program in the
standard format: it uses the provided ``np``, ``math`` and ``terms`` without importing them
and goes through the same pipeline as any model-written program (``rewards.load_reward(spec,
"reference")``). They are the human baseline the design loop must beat; ``sparse.py`` is the
success-only floor. Read them as source text with :func:`rewards.reference_source`; they are
not meant to be imported.
"""
