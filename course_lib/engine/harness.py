"""The one evaluation harness (workflow layer): every method, the same test images, the same measures, one table.

This module is the mechanics: :class:`Entry` (a method with its options), :func:`register_entry`, the outputs, the
measures and the rows. The rows themselves belong to the lessons' experiment modules and are registered, in the
table's order, by :mod:`course_lib.experiments.landscape`: ``python -m course_lib.harness`` runs that module — every
row on its task's test images, one row per entry in ``data/cache/landscape.json`` — and ``make table``
(``python -m course_lib.harness --table``) prints the rows so far. Lesson 04's cache (``python -m
course_lib.evaluate``) and lesson 05's (``python -m course_lib.compare``) are views of the same outputs and measures.

**Protocol.**

* Tasks: ``digits_x4`` — the 500 evaluation digits :data:`EVAL_INDICES` (every other test digit, 50 per class),
  ×4 area downsampling; ``photos_x2`` — the 4 whole 256 × 256 test photos, ×2.
* Seeds: sample k of test image i draws x_T and every step's noise from its own CPU generator seeded
  :func:`image_seeds` = ``SEED_BASE + i + SAMPLE_OFFSET · k``, so a result never depends on the batch or the device.
  (One row keeps the previous protocol for its stochastic steps — lesson 05's SR3 DDPM-1000, whose step noise came
  from one generator per run; its ``noise`` field says so.)
* Batches: 250 digits or 1 photo at a time, on the threads of the machine (timings: ``ms_per_image``).
* Measures (lessons 04–05): PSNR and SSIM to HR; consistency PSNR (Eq. 04.1); the high-frequency ratio (Eq. 04.6)
  and its error |1 − ratio|; the digit classifier's agreement with its call on HR; realism against HR images the
  method never saw — the patch sliced-Wasserstein distance (Eq. 05.4, first: it separates close methods) and the
  Fréchet distance on classifier features (Eq. 05.3); for multi-sample rows, the per-pixel diversity; the cost:
  network evaluations per image (NFE, counted by the sampling loop), ms per image, parameters, and the training
  CPU-minutes from the model's training record.
* Comparisons between rows on the same images are paired, by :mod:`course_lib.stats` (``compare_values`` for the
  per-image measures, ``compare_sets`` for patch SWD and Fréchet).

Intermediate outputs go to ``runs/harness/TASK/`` (one file per output, named by the model, the first 8 hex digits of
its checkpoint's sha256, the options and the sample), so an interrupted run resumes and a retrained model is rerun.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from .._compat import moved_names
from ..datasets import DigitsSR, PhotosSR
from ..device import describe_hardware, get_device, per_image_generators, randn
from ..files import load_manifest, verify_file, write_cached
from ..metrics import frechet_distance, high_frequency_ratio, patch_distance, pixel_diversity, psnr, ssim
from ..models import count_parameters
from ..operators import consistency_psnr, upsample

__all__ = [
    "SEED_BASE",
    "SAMPLE_OFFSET",
    "EVAL_INDICES",
    "SHOW_INDICES",
    "LIVE_INDICES",
    "DIVERSITY_INDEX",
    "REFERENCE_INDICES",
    "CURVE_INDICES",
    "image_seeds",
    "image_noise",
    "sample_noise",
    "restore_batched",
    "entry_restorer",
    "Entry",
    "DDIM50",
    "registered",
    "register_entry",
    "TASKS",
    "Work",
    "outputs",
    "measure",
    "value_stats",
    "digits_outputs",
    "row",
    "ROW_FIELDS",
    "load_table",
    "format_table",
    "curve_set",
    "main",
]

SEED_BASE = 1000
SAMPLE_OFFSET = 100_000  # sample k of image i starts from seed SEED_BASE + i + k · SAMPLE_OFFSET
#: the test split is sorted by digit (100 of each): every other image gives 500 digits, 50 of each class
EVAL_INDICES = tuple(range(0, 1000, 2))
#: one test digit of each class (picture grids), and 16 for the lessons' live runs (all in EVAL_INDICES)
SHOW_INDICES = tuple(100 * k for k in range(10))
LIVE_INDICES = tuple(100 * (k % 10) + 2 * (k // 10) for k in range(16))
DIVERSITY_INDEX = 400  # the test digit (a 4 with an open top) whose samples the lessons show
#: the realism reference: the other half of the test split (odd indices, 50 of each class)
REFERENCE_INDICES = tuple(range(1, 1000, 2))
#: lesson 05's k-sample curve digits: every 5th evaluation digit, 10 of each class
CURVE_INDICES = EVAL_INDICES[::5]
TABLE_PATH = "cache/landscape.json"
WORK = Path("runs/harness")


# ------------------------------------------------------------------ seeds and noise
def image_seeds(indices: Sequence[int], k: int = 0) -> list[int]:
    """The seeds of sample ``k`` (0, 1, …) of test images ``indices``: ``SEED_BASE + i + SAMPLE_OFFSET · k``."""
    return [SEED_BASE + int(i) + SAMPLE_OFFSET * int(k) for i in indices]


def image_noise(indices, shape: tuple[int, ...], device: torch.device | str, seed_offset: int = 0) -> torch.Tensor:
    """x_T for images ``indices``: ``(len(indices), *shape)``, image ``i`` drawn from seed ``SEED_BASE + i +
    seed_offset``.

    Drawn on the CPU and moved to ``device``, so the same image gets the same noise on cpu, cuda and mps."""
    seeds = [SEED_BASE + int(i) + seed_offset for i in indices]
    return randn((len(seeds), *shape), per_image_generators(seeds), device)


def sample_noise(index: int, samples: int, shape: tuple[int, ...], device: torch.device | str) -> torch.Tensor:
    """x_T of samples 0 … ``samples`` − 1 of one image: ``(samples, *shape)``, sample k from seed offset
    ``SAMPLE_OFFSET · k`` (sample 0 is the image's :func:`image_noise`)."""
    return torch.cat([image_noise([index], shape, device, seed_offset=SAMPLE_OFFSET * k) for k in range(samples)])


def restore_batched(
    restore: Callable,
    y: torch.Tensor,
    indices: Sequence[int],
    k: int = 0,
    batch: int = 250,
    shared_generator: torch.Generator | None = None,
    scale: int | None = None,
    **options,
) -> torch.Tensor:
    """Sample ``k`` of every image: ``restore(y_batch, seeds=…, **options)`` (e.g. a shipped model's
    :meth:`~course_lib.engine.pretrained.Pretrained.restore`) on ``y`` ``(N, C, h, w)`` (test-split ``indices``),
    ``batch``
    images at a time, image i from :func:`image_seeds`.

    ``shared_generator`` (with the model's ``scale``): draw x_T per image but the steps' noise from this one generator
    (the previous protocol). Returns ``(N, C, s·h, s·w)``."""
    outs = []
    for s in range(0, len(indices), batch):
        idx, yb = list(indices[s : s + batch]), y[s : s + batch]
        if shared_generator is None:
            outs.append(restore(yb, seeds=image_seeds(idx, k), **options))
        else:
            x_T = image_noise(
                idx, (yb.shape[1], yb.shape[2] * scale, yb.shape[3] * scale), yb.device, SAMPLE_OFFSET * int(k)
            )
            outs.append(restore(yb, x_T=x_T, generator=shared_generator, **options))
    return torch.cat(outs)


# ------------------------------------------------------------------ tasks
@dataclass(frozen=True)
class Task:
    """A set of test images: ``load(device) -> (hr, y, indices, names)``; ``batch``: images per restore call."""

    name: str
    scale: int
    batch: int
    load: Callable = field(repr=False)


def _digits(device) -> tuple[torch.Tensor, torch.Tensor, list[int], list[str]]:
    hr, y = DigitsSR("test", scale=4).tensors(list(EVAL_INDICES))
    return hr.to(device), y.to(device), list(EVAL_INDICES), [str(i) for i in EVAL_INDICES]


def _photos(device) -> tuple[torch.Tensor, torch.Tensor, list[int], list[str]]:
    ds = PhotosSR("test", scale=2, patch_size=256, mode="grid")
    hr, y = ds.tensors()
    return hr.to(device), y.to(device), list(range(len(ds))), list(ds.sources)


TASKS = {"digits_x4": Task("digits_x4", 4, 250, _digits), "photos_x2": Task("photos_x2", 2, 1, _photos)}


# ------------------------------------------------------------------ entries
@dataclass(frozen=True)
class Entry:
    """One row of the table: a shipped model (``None``: bicubic) on a task with restore ``options``.

    Attributes:
        label: the row's name; task: a key of :data:`TASKS`; model: the shipped model's name.
        options: passed to the method's ``restore`` (``sampler``, ``steps``, ``eta``, ``project``, …).
        samples: the row averages samples 0 … samples − 1 of every image (the posterior-mean estimate of lesson 05);
            1: sample 0 alone. noise: ``"per_image"`` (the protocol) or ``"shared"`` (the steps' noise from one
            generator seeded 0 per run, the previous protocol of lesson 05's DDPM-1000).
        diversity: measure the per-pixel diversity over samples 0 … diversity − 1 (0: not measured).
    """

    label: str
    task: str
    model: str | None
    options: dict = field(default_factory=dict)
    samples: int = 1
    noise: str = "per_image"
    diversity: int = 0

    @property
    def slug(self) -> str:
        """A file name for this entry's outputs."""
        return re.sub(r"[^A-Za-z0-9]+", "_", self.label).strip("_").lower()


#: the rows registered so far, in order of registration (:mod:`course_lib.experiments.landscape` registers the
#: course's rows, each defined by the experiment module of its lesson, in the lessons' order)
_REGISTERED: list[Entry] = []


def register_entry(entry: Entry) -> Entry:
    """Add a row to the table (its label must be new for its task); returns it."""
    if entry.task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {entry.task!r}")
    if entry.noise not in ("per_image", "shared"):
        raise ValueError(f"noise must be 'per_image' or 'shared', got {entry.noise!r}")
    if any(e.label == entry.label and e.task == entry.task for e in _REGISTERED):
        raise ValueError(f"an entry {entry.label!r} for {entry.task!r} is already registered")
    _REGISTERED.append(entry)
    return entry


def registered() -> tuple[Entry, ...]:
    """Every row registered so far, in order (import :mod:`course_lib.experiments.landscape` for the course's)."""
    return tuple(_REGISTERED)


#: the options of the harness's default sampler, DDIM with 50 steps (the rows' common NFE)
DDIM50 = {"sampler": "ddim", "steps": 50}


# ------------------------------------------------------------------ outputs (resumable)
class Work:
    """Outputs under ``root/TASK/`` (one ``.pt`` file each), so an interrupted run resumes where it stopped."""

    def __init__(self, root: str | Path, task: str):
        self.root = Path(root) / task
        self.root.mkdir(parents=True, exist_ok=True)
        self._seconds: dict[str, float] = {}

    @property
    def seconds(self) -> float:
        """Compute time of every output fetched so far (each counted once), including those resumed from an earlier
        run."""
        return sum(self._seconds.values())

    def get(
        self, name: str, make: Callable[[], torch.Tensor], nfe: Callable[[], int] | int = 0
    ) -> tuple[torch.Tensor, float, int]:
        """``(x on the CPU, seconds, nfe)`` of output ``name``: loaded if saved, else ``make()`` timed and saved."""
        from ..files import save_checkpoint

        path = self.root / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.pt"
        if path.exists():
            state = torch.load(path, weights_only=True)
            self._seconds[name] = state["seconds"]
            return state["x"], state["seconds"], int(state.get("nfe", 0))
        start = time.perf_counter()
        x = make()
        seconds = time.perf_counter() - start
        self._seconds[name] = seconds
        n = nfe() if callable(nfe) else nfe
        save_checkpoint({"x": x.cpu(), "seconds": seconds, "nfe": n}, path)
        print(f"  {self.root.name}/{name}: {seconds:.0f} s", flush=True)
        return x.cpu(), seconds, n


def entry_restorer(shipped, options: dict, scale: int) -> tuple[Callable, dict]:
    """``(restore, the options left for it)`` for a shipped model and an entry's ``options``: a restore that must be
    told the factor (DDNM with an unconditional model) takes ``"scale"`` from the options, and a blind restorer, which
    maps an image to one of its own size, is given y upsampled (``"input"``: the mode)."""
    options = dict(options)
    restore = shipped.restore
    if "scale" in options:
        restore = functools.partial(shipped.restore, scale=options.pop("scale"))
    if "input" in options:
        mode, inner = options.pop("input"), restore
        restore = lambda yb, **kw: inner(upsample(yb, scale, mode), **kw)  # noqa: E731
    return restore, options


def outputs(
    entry: Entry,
    work: Work,
    hr: torch.Tensor,
    y: torch.Tensor,
    indices: Sequence[int],
    device,
    progress: bool = False,
    k: int | None = None,
) -> tuple[torch.Tensor, float, int]:
    """The entry's outputs on the task's images: ``(sr (N, C, H, W) on the CPU, seconds, NFE per image)``; with
    ``samples > 1`` the mean of samples 0 … samples − 1 (seconds and NFE for all of them); ``k``: sample k alone."""
    from .pretrained import load

    task = TASKS[entry.task]
    if entry.model is None:
        return work.get("bicubic", lambda: upsample(y, task.scale, "bicubic"))
    shipped = load(entry.model, device)
    options = {**entry.options, "progress": progress} if shipped.method.iterative else dict(entry.options)

    # the checkpoint's hash is part of the tag: outputs of a retrained model are never mistaken for the old ones
    sha = load_manifest()["files"].get(f"checkpoints/{entry.model}.pt", {}).get("sha256", "")[:8]
    restore, options = entry_restorer(shipped, options, task.scale)

    def one(j: int):
        tag = f"{entry.model}-{sha}__{_options_tag(entry.options)}__{entry.noise}__k{j}"
        gen = torch.Generator(device=torch.device(device)).manual_seed(0) if entry.noise == "shared" else None
        return work.get(
            tag,
            lambda: restore_batched(
                restore, y, indices, j, task.batch, shared_generator=gen, scale=task.scale, **options
            ),
            lambda: shipped.method.last_nfe,
        )

    if k is not None or entry.samples == 1:
        return one(k or 0)
    runs = [one(j) for j in range(entry.samples)]
    return torch.stack([r[0] for r in runs]).mean(0), sum(r[1] for r in runs), sum(r[2] for r in runs)


def digits_outputs(entries: Sequence[Entry], device, work_root: str | Path = WORK, progress: bool = False) -> dict:
    """Rows' outputs on the digits task, as the harness computes them (kept in ``work_root``, so a comparison that needs
    them again reads them back): ``hr``, ``y``, ``indices``, ``scale`` — the evaluation digits, their LR, their test
    indices, the factor — ``reference``, the real digits realism is judged against, and ``outputs``, label →
    ``(N, 1, 32, 32)`` on ``device``."""
    task = TASKS["digits_x4"]
    hr, y, indices, _ = task.load(device)
    work = Work(work_root, task.name)
    sr = {e.label: outputs(e, work, hr, y, indices, device, progress)[0].to(device) for e in entries}
    reference = DigitsSR("test", scale=task.scale).tensors(list(REFERENCE_INDICES))[0].to(device)
    return {"hr": hr, "y": y, "indices": indices, "scale": task.scale, "reference": reference, "outputs": sr}


def _options_tag(options: dict) -> str:
    def fmt(v):
        return "_".join(f"{k}-{fmt(v[k])}" for k in sorted(v)) if isinstance(v, dict) else str(v)

    return fmt(options) or "default"


# ------------------------------------------------------------------ measures
def value_stats(v: torch.Tensor) -> dict:
    """How the caches store a per-image measure ``(N,)``: mean and sd (4 decimals) and every value (3 decimals)."""
    v = v.float().cpu()
    return {
        "mean": round(float(v.mean()), 4),
        "sd": round(float(v.std()), 4) if v.numel() > 1 else 0.0,
        "values": [round(float(a), 3) for a in v],
    }


def measure(
    sr: torch.Tensor, hr: torch.Tensor, y: torch.Tensor, scale: int, classifier=None
) -> dict[str, torch.Tensor]:
    """The per-image measures of lessons 04–05: ``psnr``, ``ssim``, ``consistency`` (Eq. 04.1), ``hf_ratio``
    (Eq. 04.6) and, with the digit classifier, ``agreement`` with its call on HR; each ``(N,)``."""
    m = {
        "psnr": psnr(sr, hr),
        "ssim": ssim(sr, hr),
        "consistency": consistency_psnr(sr, y, scale),
        "hf_ratio": high_frequency_ratio(sr, hr, scale),
    }
    if classifier is not None:
        with torch.no_grad():
            m["agreement"] = (classifier(sr).argmax(1) == classifier(hr).argmax(1)).float()
    return m


#: the columns of a row, in order
ROW_FIELDS = (
    "label",
    "task",
    "model",
    "method",
    "psnr",
    "ssim",
    "consistency",
    "hf_ratio",
    "hf_error",
    "agreement",
    "patch_swd",
    "frechet",
    "diversity",
    "nfe",
    "ms_per_image",
    "parameters",
    "training_minutes",
    "training_hardware",
    "noise",
    "options",
    "n",
)


@torch.no_grad()
def row(
    entry: Entry,
    sr: torch.Tensor,
    seconds: float,
    nfe: int,
    hr: torch.Tensor,
    y: torch.Tensor,
    device,
    classifier=None,
    reference: torch.Tensor | None = None,
    samples: torch.Tensor | None = None,
) -> dict:
    """One table row (:data:`ROW_FIELDS`): means of the per-image measures, the set-level realism measures against
    ``reference`` (digits: HR of the other half of the test split; photos: the other half of each HR photo), and the
    cost. ``samples`` ``(K, N, …)``: several samples per image, for the diversity."""
    from .pretrained import load, training_seconds

    task = TASKS[entry.task]
    sr = sr.to(device)
    m = measure(sr, hr, y, task.scale, classifier)
    out = {"label": entry.label, "task": entry.task, "model": entry.model, "method": None, "n": int(sr.shape[0])}
    for key, v in m.items():
        out[key] = round(float(v.mean()), 4)
    out["hf_error"] = round(float((1 - m["hf_ratio"]).abs().mean()), 4)
    out["agreement"] = out.get("agreement")
    if entry.task == "photos_x2":
        out["patch_swd"] = round(_photo_realism(sr, hr), 5)
        out["frechet"] = None
    else:
        out["patch_swd"] = round(float(patch_distance(sr, reference)), 5)
        out["frechet"] = round(float(frechet_distance(classifier.features(sr), classifier.features(reference))), 4)
    out["diversity"] = None if samples is None else round(float(pixel_diversity(samples.to(device)).mean()), 4)
    out["nfe"] = nfe
    out["ms_per_image"] = round(1000 * seconds / sr.shape[0], 2)
    if entry.model is None:
        out.update(method="bicubic", parameters=0, training_minutes=0.0, training_hardware=None)
    else:
        shipped = load(entry.model, "cpu")
        record = shipped.record
        # a method built on frozen shipped parts (DiffBIR's base and stage 1, DiffIR's stage 1, SRDiff's encoder,
        # ResDiff's CNN, latent SR's autoencoder) is charged their training too: the method says which it borrows
        seconds = training_seconds(entry.model)
        out.update(
            method=shipped.config.method,
            parameters=count_parameters(shipped.model),
            training_minutes=round(seconds / 60, 1),
            training_hardware=record.get("hardware"),
        )
    out["noise"] = entry.noise if entry.model is not None and entry.options.get("sampler") else None
    out["options"] = dict(entry.options) or None
    return {k: out.get(k) for k in ROW_FIELDS}


def _photo_realism(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """Eq. 05.4 both ways round: left halves of sr vs right halves of HR, and right vs left."""
    W = hr.shape[-1] // 2
    left, right = (..., slice(0, W)), (..., slice(W, None))
    return 0.5 * float(patch_distance(sr[left], hr[right]) + patch_distance(sr[right], hr[left]))


# ------------------------------------------------------------------ the table
def load_table() -> dict:
    """The cached table (``data/cache/landscape.json``), hash-checked: ``{"rows": [...], "hardware", …}``."""
    return json.loads(verify_file(TABLE_PATH).read_text(encoding="utf-8"))


def format_table(rows: Sequence[dict]) -> str:
    """The rows as a Markdown table (realism first: patch SWD; HF as |1 − ratio|)."""
    cols = [
        ("task", "task", "{}"),
        ("label", "method", "{}"),
        ("psnr", "PSNR", "{:.2f}"),
        ("ssim", "SSIM", "{:.3f}"),
        ("consistency", "consistency", "{:.1f}"),
        ("agreement", "agreement", "{:.3f}"),
        ("patch_swd", "patch SWD ↓", "{:.4f}"),
        ("frechet", "Fréchet ↓", "{:.3f}"),
        ("hf_error", "|1 − HF| ↓", "{:.2f}"),
        ("diversity", "diversity", "{:.3f}"),
        ("nfe", "NFE", "{}"),
        ("ms_per_image", "ms/image", "{:.1f}"),
        ("parameters", "parameters", "{:,}"),
        ("training_minutes", "training min", "{:.1f}"),
    ]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(k) is None else fmt.format(r[k]) for k, _, fmt in cols) + " |")
    return "\n".join(lines)


def run(entries: Sequence[Entry], device, work_root: str | Path = WORK, progress: bool = False) -> list[dict]:
    """Compute the rows of ``entries`` (resumable through ``work_root``)."""
    from ..engine.pretrained import load_classifier

    rows = []
    by_task: dict[str, list[Entry]] = {}
    for e in entries:
        by_task.setdefault(e.task, []).append(e)
    for task_name, task_entries in by_task.items():
        task = TASKS[task_name]
        hr, y, indices, _ = task.load(device)
        work = Work(work_root, task_name)
        classifier = reference = None
        if task_name == "digits_x4":
            classifier = load_classifier(device=device)
            reference = DigitsSR("test", scale=4).tensors(list(REFERENCE_INDICES))[0].to(device)
        for e in task_entries:
            sr, seconds, nfe = outputs(e, work, hr, y, indices, device, progress)
            samples = None
            if e.diversity > 1:
                samples = torch.stack(
                    [outputs(e, work, hr, y, indices, device, progress, k=j)[0] for j in range(e.diversity)]
                )
            rows.append(row(e, sr, seconds, nfe, hr, y, device, classifier, reference, samples))
            print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def main(argv: list[str] | None = None, entries: Sequence[Entry] | None = None) -> int:
    """``python -m course_lib.harness [--table] [--only LABEL …]`` (run by :mod:`course_lib.experiments.landscape`,
    which passes the course's rows as ``entries``): compute every entry's row (or print the cached table)."""
    table_entries = tuple(registered() if entries is None else entries)
    parser = argparse.ArgumentParser(prog="python -m course_lib.harness", description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="print the cached table (make table) and stop")
    parser.add_argument("--device", default=None)
    parser.add_argument("--work", default=str(WORK), help="folder for per-output files (resumable)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="LABEL",
        help="compute only the rows whose label starts with one of these, and merge them into the cached table",
    )
    args = parser.parse_args(argv)
    if args.table:
        table = load_table()
        print(f"{len(table['rows'])} rows, computed on {table['hardware']} ({table['source']})")
        print(format_table(table["rows"]))
        return 0
    device = get_device(args.device)
    hardware = describe_hardware(device)
    if not table_entries:
        parser.error("no rows are registered: run python -m course_lib.harness (the course's landscape table)")
    chosen = [e for e in table_entries if args.only is None or any(e.label.startswith(o) for o in args.only)]
    if not chosen:
        parser.error(f"--only {args.only} matches no entry; labels: {sorted({e.label for e in table_entries})}")
    entries = chosen
    print(f"evaluating {len(entries)} entries on {hardware}", flush=True)
    start = time.perf_counter()
    rows = run(entries, device, args.work, args.progress)
    elapsed = round(time.perf_counter() - start)
    if args.only is not None:  # merge: the new rows replace theirs, the others stay, in the order of the entries
        previous = load_table()
        elapsed += previous.get("seconds", 0)  # the table's compute time, not this partial run's alone
        fresh = {(r["task"], r["label"]): r for r in rows}
        old = {(r["task"], r["label"]): r for r in previous["rows"]}
        if previous["hardware"] != hardware:  # the table keeps its machine; rows measured elsewhere say where
            for r in fresh.values():
                r["hardware"] = hardware
        rows = [fresh.get((e.task, e.label)) or old.get((e.task, e.label)) for e in table_entries]
        rows = [r for r in rows if r is not None]
        hardware, source = previous["hardware"], previous["source"]
    else:
        source = f"python -m course_lib.harness ({hardware})"
    result = {
        "hardware": hardware,
        "source": source,
        "seed_base": SEED_BASE,
        "sample_offset": SAMPLE_OFFSET,
        "rows": rows,
        "seconds": elapsed,
    }
    write_cached(
        TABLE_PATH,
        result,
        None,
        None,
        source,
        ("the landscape table: every method's row on the same test images (python -m course_lib.harness)",),
    )
    print(format_table(rows))
    return 0


def curve_set() -> dict:
    """The digits training curves are judged on (lessons 07 and 09): ``hr`` and ``y`` (×4) of :data:`CURVE_INDICES`,
    and ``reference``, the real digits of :data:`REFERENCE_INDICES` that realism is measured against."""
    hr, y = DigitsSR("test", scale=4).tensors(list(CURVE_INDICES))
    reference, _ = DigitsSR("test", scale=4).tensors(list(REFERENCE_INDICES))
    return {"hr": hr, "y": y, "reference": reference}


# the rows' tables moved to their lessons' experiment modules in 0.5.0 (the harness keeps the mechanics)
__getattr__ = moved_names(
    __name__,
    {
        "ENTRIES": "course_lib.experiments.landscape:ENTRIES",
        "SAMPLER_ENTRIES": "course_lib.experiments.race:ROWS",
        "ZERO_SHOT_ENTRIES": "course_lib.experiments.zeroshot:ROWS",
        "BLIND_ENTRIES": "course_lib.experiments.blind:ROWS",
        "RESIDUAL_ENTRIES": "course_lib.experiments.residual:ROWS",
        "CASCADE_ENTRIES": "course_lib.experiments.cascade:ROWS",
        "CASCADE_SAMPLING_LEVEL": "course_lib.experiments.cascade:SAMPLING_LEVEL",
    },
)
