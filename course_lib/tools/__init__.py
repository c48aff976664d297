"""Tools · 工具 (tools layer): what a person runs from a shell.

* :mod:`~course_lib.tools.sr` — upscale your own image (``python -m course_lib.sr in.png out.png``);
* :mod:`~course_lib.tools.benchmark` — sampling and training speed on this machine (``make benchmark``);
* :mod:`~course_lib.tools.devtools` — the Makefile's contributor commands (workspace copies, executing lessons, the
  student edition); :mod:`~course_lib.tools.site` — the course as a website (``make site``).
"""
