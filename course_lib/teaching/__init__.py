"""Teaching · 教学 (teaching layer, the top): what a lesson shows and asks — matplotlib and ipywidgets live only here.

* :mod:`~course_lib.teaching.plotting` — the lessons' figures and tables; :mod:`~course_lib.teaching.diagrams` —
  figures drawn by code; :mod:`~course_lib.teaching.history` — the field's timeline, fact-checked;
* :mod:`~course_lib.teaching.widgets` — each widget a small class over a pure function that computes what it shows;
  :mod:`~course_lib.teaching.live` — how long a lesson's live training runs (seconds, or steps under ``make test``);
* :mod:`~course_lib.teaching.exercises` — the exercises' checks, which name the classic mistakes.

``from course_lib.teaching import plotting, widgets, exercises``.
"""
