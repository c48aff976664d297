"""The engine · 训练与评测引擎 (engine layer): what runs every method the same way.

* :mod:`~course_lib.engine.config` — :class:`TrainConfig`, a run's JSON config, checked where it is read;
* :mod:`~course_lib.engine.train` — the one :class:`Trainer` for every method, its command line
  (``python -m course_lib.train``) and the export of a shipped model;
* :mod:`~course_lib.engine.distributed` — training on many processes under ``torchrun``, exact for every method;
* :mod:`~course_lib.engine.pretrained` — the shipped models through the method registry (``load``,
  ``load_classifier``, the training seconds of a model and of the frozen parts it borrows);
* :mod:`~course_lib.engine.harness` — the mechanics of the one evaluation: test images, per-image seeds, measures,
  cached outputs and the landscape table's rows.

It imports the methods, networks, process and core below it, never an experiment, a tool or the teaching layer.
"""
