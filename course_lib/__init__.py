"""course_lib — the small PyTorch library that the Diffusion SR Course builds up, lesson by lesson.

Layers (lower never imports higher; see the README's "How the code is organised"):

* ground: ``device``, ``checkpoints``
* math & data: ``schedules`` (lesson 01), ``embeddings`` (lesson 03), ``metrics``, ``data`` and ``history`` (lesson 00)
* process: ``diffusion`` (lessons 01–02)
* networks: ``models`` (U-Net, MLP denoiser, digit classifier); they and ``diffusion`` do not import each other
* workflows: ``train``, ``classifier``, ``cached``, ``ablation``, ``benchmark``
* teaching: ``plotting``, ``widgets``, ``exercises`` (matplotlib and ipywidgets live only here)

Import the modules you need, e.g. ``from course_lib.diffusion import GaussianDiffusion``.
"""

__version__ = "0.1.0"
