"""course_lib — the small PyTorch library that the Diffusion SR Course builds up, lesson by lesson.

Layers (lower never imports higher; see the README's "How the code is organised"):

* ground: ``device``
* math & data: ``schedules`` (lesson 01), ``metrics`` and ``data`` (lesson 00), ``history`` (lesson 00)
* process: ``diffusion`` (lesson 01 onwards)
* teaching: ``plotting``, ``widgets``, ``exercises`` (matplotlib and ipywidgets live only here)

Import the modules you need, e.g. ``from course_lib.diffusion import GaussianDiffusion``.
"""

__version__ = "0.1.0"
