"""course_lib — the small PyTorch library that the Diffusion SR Course builds up, lesson by lesson.

Layers, bottom to top (a layer imports only the layers below it; ``tests/test_layers.py`` checks it):

* ground: ``device``, ``files``, ``images`` (and ``_compat``: the previous release's names)
* math: ``schedules`` (lesson 01), ``embeddings`` (lesson 03), ``metrics``, ``operators`` (lessons 00, 04), ``history``
* data: ``datasets``, ``data`` (lesson 00's front door to data and degradations)
* process: ``diffusion`` (lessons 01–02) and ``samplers`` (DDPM, DDIM, … and the one sampling loop)
* networks: ``models`` (U-Net, the SR3 wrapper, baselines, classifier, tiling); they and the process never meet
* methods: ``methods`` (one module per method, registered by name: where a network and the process meet)
* workflows: ``train``, ``pretrained``, ``harness``, ``evaluate``, ``compare``, ``sr``, ``benchmark``, ``cached``,
  ``ablation``, ``classifier``, ``devtools``
* teaching: ``plotting``, ``widgets``, ``exercises`` (matplotlib and ipywidgets live only here)

Import the modules you need, e.g. ``from course_lib.samplers import DDIMSampler, sample``.
"""

__version__ = "0.10.0"

from ._compat import install_module_aliases as _install

_install()  # the previous release's module names (course_lib.engine.train, …) keep working for one release
