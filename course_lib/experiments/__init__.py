"""Experiments · 实验 (experiments layer): one module per lesson experiment that writes ``data/cache/``.

Each fixes its margins in code before it measures and judges with :mod:`course_lib.stats`: ``evaluate`` (lesson 04),
``compare`` (05), ``race`` (06), ``cascade`` and ``latents`` (07), ``zeroshot`` and ``blind`` (08), ``residual``
(09), ``backbones`` (10), ``flow`` (11), ``video`` (12), ``field`` (13: every row with its intervals, and the claims
ledger's values), ``ablation`` (03's time-embedding ablation) and ``cached`` (lesson 02's stored trajectories). Each
runs as a command, e.g. ``python -m course_lib.race`` (the short names of README; the module is
``course_lib.experiments.race``). Experiments never import each other's private names: what two share lives in the
engine below them.
"""
