"""Contributor tools behind the Makefile: ``python -m course_lib.devtools {workspace,execute,student}``.

* ``workspace`` copies each lesson notebook (and each appendix, into ``workspace/appendix/``) into ``workspace/``
  (ignored by git) unless the learner already has a copy there, so learners' edits never block ``git pull``.
* ``execute NB.py …`` syncs each jupytext pair, executes the ``.ipynb`` top to bottom on the current
  kernel, strips saved widget state, writes it back, records the wall time in
  ``notebooks/timings.json`` and refreshes the syllabus table of ``README.md``.
* ``student [--out DIR]`` writes the classroom edition (``make student``): solution cells removed, exercise
  outputs cleared, stubs in place.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository (course_lib/tools/devtools.py)
NOTEBOOKS = ROOT / "notebooks"
WORKSPACE = ROOT / "workspace"
TIMINGS = NOTEBOOKS / "timings.json"
README = ROOT / "README.md"

# lesson stem -> (title, what you learn, prerequisites). Planned lessons have no notebook yet.
SYLLABUS = [
    (
        "00_super_resolution",
        "Super-resolution and the diffusion idea · 超分辨率",
        "why SR is ill-posed; the degradation y = D_s(k * x) + n; the two datasets; PSNR, SSIM; the bicubic baseline; the field's history, fact-checked",
        "Python, NumPy/PyTorch tensors",
    ),
    (
        "01_forward_process",
        "The forward process · 前向扩散过程",
        "q(x_t | x_{t-1}); the closed form q(x_t | x_0) with ᾱ_t, derived and checked; SNR; β schedules (linear, cosine); noise vs blur; the noising widget",
        "00",
    ),
    (
        "02_reverse_process",
        "The reverse process and ε-prediction · 反向生成过程 / 噪声预测",
        "the chain as a graphical model; the posterior q(x_{t-1} | x_t, x_0), derived and checked; ε-prediction and L_simple from the ELBO; a 2-D denoiser; live digits training; DDPM and DDIM sampling; the denoising widget",
        "01",
    ),
    (
        "03_timestep_embedding",
        "The timestep embedding · 时间步嵌入",
        "why the denoiser needs t; the sinusoidal formula and its two layouts; similarity of nearby t; learnable embeddings; the U-Net and where t enters; added vs scale/shift; a 3-seed ablation; the embedding explorer",
        "02",
    ),
    (
        "04_conditioning_sr3",
        "Conditioning on the LR image: SR3-style · 条件控制",
        "ε_θ(x_t, t, y); concatenation vs a condition encoder, trained alike and compared; the residual target; live SR training; diversity of samples; consistency and the projection; fidelity with a digit classifier; photos ×2 with tiling; the SR sampler widget; upscale your own image",
        "03",
    ),
    (
        "05_cnn_vs_diffusion",
        "CNN vs diffusion, measured side by side · CNN 与扩散模型对比",
        "MSE training gives the posterior mean; SRCNN and a regression U-Net (SR3's backbone), one trained live; a 4-or-9 digit; distortion, consistency, realism (Fréchet on classifier features, patch SWD) with sanity checks, fidelity, diversity, cost; the perception–distortion plot; the mean of k samples → the regression output, predicted then measured; the notes' tables with our numbers; the comparer widget",
        "04",
    ),
    (
        "06_faster_sampling",
        "Faster sampling and the SDE view · 加速采样与随机微分方程视角",
        "the VP-SDE of the linear and cosine schedules, time ↔ index through ᾱ; score and Tweedie; Langevin, the reverse SDE and the probability-flow ODE on 2-D; DDIM as an exponential integrator, inversion; PNDM/PLMS with its warm-up counted; DPM-Solver++(2M); consistency distillation on 2-D (live) and a shipped SR student; convergence orders; the race, confirmed on fresh seeds, and SR samplers judged by realism; the sampler race widget",
        "05",
    ),
    (
        "07_cascades_latents",
        "Cascades and latents: CDM, LDM, guidance · 级联扩散与潜在扩散",
        "classifier-free guidance by hand, diffusers' guidance_scale = 1 + w, 2 NFE per step, accuracy against realism over w; a cascade 8 → 32 and why its SR stage needs conditioning augmentation (s embedded like t), judged on base-generated LR with s and w chosen on validation draws and paired intervals; one stage at equal compute; a KL autoencoder trained live, its ceiling, latents scaled to unit variance; latent against pixel SR per training CPU-minute — the notes' \"10×\" measured; the cascade explorer",
        "06",
    ),
    (
        "08_zero_shot_blind",
        "Zero-shot and blind restoration: DDNM, DiffBIR · 零样本超分与盲复原",
        "range–null-space decomposition and A†, checked; the DDNM loop by hand; one unconditional model for ×2/×4 SR, inpainting and undersampled Fourier data, against A†y, bicubic and SR3-style; why ×4 is hard; time travel; DDNM+ on noisy y; a blind degradation pipeline, a stage-1 restorer and a ControlNet on the frozen model; the strength knob chosen on validation digits; seen and unseen degradations; the DDNM widget",
        "06",
    ),
    (
        "09_residuals_priors",
        "Residuals and compact priors: SRDiff, ResDiff, DiffIR · 残差扩散与紧凑先验",
        "how much of the image the diffusion model must generate: SRDiff's residual target by hand and what its ×2 clip costs on digits; a frozen RRDB encoder; nine ablations and DiffIR's stage 2 as quality-against-CPU-minutes curves with paired intervals; ResDiff's residual over a CNN, Parseval's FFT loss and the error spectrum; DiffIR's 64-number prior, its 4-step chain trained live through every step, its cost and diversity; all in the table against SR3-style; the generation widget",
        "06",
    ),
    (
        "10_backbones",
        "Backbones: DiT and U-ViT against the U-Net · 去噪网络主干",
        "patches as tokens and a 2-D position embedding; self-attention and multi-head attention by hand, checked; DiT's adaLN-Zero block, the identity at initialisation; U-ViT's time token and concatenated long skips; a DiT trained live; U-Net, DiT and U-ViT at matched parameters and training CPU-minutes, with a tuning budget fixed before measuring; DiT's and U-ViT's ablations; cost as the image grows; DiT on latents; the attention explorer",
        "03, 04, 05, 07, 09",
    ),
    (
        "11_flow_matching",
        "Flow matching and rectified flow: straight paths to fewer steps · 流匹配与整流流",
        "the linear path, its conditional and marginal velocities; why the conditional flow-matching loss has the marginal loss's gradient, checked on a mixture with a closed-form velocity; a 2-D flow trained and sampled by hand, Euler checked against course_lib and diffusers; bending paths, straightness and reflow live; the v ↔ ε ↔ x̂₀ ↔ score dictionary, DDIM as Euler on the linear path; flow SR at equal training CPU-minutes beside SR3-style; an NFE race from 1 to 50 evaluations with 2-rectified flow, the LR → HR path and the consistency student; training-time distribution and time shift; the path explorer",
        "01, 02, 04, 05, 06, 09",
    ),
    (
        "12_video_editing",
        "Beyond one image: video SR and editing · 视频超分与语义编辑",
        "moving-digit clips with known motion; warping and the warping error by hand; the flicker of an image model run frame by frame, and four ways to remove it — the same noise, noise that moves with the content, a restart from the warped previous output (SDEdit's start), a model conditioned on the warped previous frame tested on its own outputs (exposure bias); motion estimated by phase correlation; SDEdit and DDIM-inversion editing with classifier-free and classifier guidance, faithfulness against success; text guidance and 3-D in a paragraph each; the clip scrubber",
        "01, 04, 05, 06, 07, 09",
    ),
    (
        "13_the_field_measured",
        "The field, measured: the notes' tables rebuilt, and how to check a claim · 全景：用我们自己的测量重建对比表",
        "why not FID: a Fréchet distance's 1/N bias on real digits; the notes' §4 table rebuilt with every method of lessons 04–12 — realism, distortion, fidelity and cost with intervals, each judged against SR3-style; the field as one figure; the clip rows apart; window attention with a relative position bias and shifted windows, and a perceptual loss, by hand; the §3 table with a measured Transformer era; the claims ledger — every number of the notes' table traced to its paper's table and page; the landscape widget; a recap of the course",
        "05, 06–12",
    ),
]


# Appendices: notebooks outside the lesson numbering (``notebooks/appendix/NNa_*``), each the "going further" part of
# lesson NN that would make the lesson longer than one sitting — moved there, executed and tested like a lesson.
# appendix stem -> (title, what is in it, the lesson it belongs to)
APPENDICES = [
    (
        "06a_sampling_in_depth",
        "Appendix to 06: sampling in depth · 采样进阶",
        "the exploratory race and why its margin degenerated; the SR race's rows and plots; slerp, η and timestep-spacing galleries; PNDM's spacing pitfall; the student recomputed live",
        "06",
    ),
    (
        "08a_restoration_in_depth",
        "Appendix to 08: restoration in depth · 复原进阶",
        "the ControlNet adapter's training curve; unseen degradations measured again on 400 fresh digits; the unseen degradation live, where realism is not correctness",
        "08",
    ),
    (
        "09a_residuals_in_depth",
        "Appendix to 09: residuals in depth · 残差进阶",
        "DiffIR's sampling cost timed live on your machine; SRDiff with its native DDPM-100 sampler against SR3-style",
        "09",
    ),
]


def lesson_paths() -> list[Path]:
    """The lesson notebooks ``notebooks/NN_*.ipynb``, sorted."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def appendix_paths() -> list[Path]:
    """The appendix notebooks ``notebooks/appendix/NNa_*.ipynb``, sorted."""
    return sorted(NOTEBOOKS.glob("appendix/[0-9][0-9]a_*.ipynb"))


def notebook_paths() -> list[Path]:
    """Every executed notebook of the course: the lessons, then the appendices."""
    return lesson_paths() + appendix_paths()


def cmd_workspace(_args) -> int:
    """``devtools workspace``: copy each lesson and appendix into ``workspace/`` unless the learner has a copy."""
    for nb in notebook_paths():
        rel = nb.relative_to(NOTEBOOKS)
        dest = WORKSPACE / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            print(f"kept     workspace/{rel.as_posix()} (your copy; delete it to get a fresh one)")
        else:
            shutil.copy2(nb, dest)
            print(f"copied   notebooks/{rel.as_posix()} -> workspace/{rel.as_posix()}")
    return 0


def strip_widget_state(path: Path) -> None:
    """Remove saved widget state (tens of KB per plot) from a notebook's metadata."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


def execute(ipynb: Path, timeout: int = 600) -> float:
    """Execute ``ipynb`` top to bottom in place (widget state stripped); returns the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ipynb, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(ipynb.parent)}},
        store_widget_state=False,
    ).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, ipynb)
    strip_widget_state(ipynb)
    return seconds


def syllabus_table(timings: dict[str, float]) -> str:
    """The Markdown syllabus table of README (lesson, what you learn, prerequisites, CPU run time); each appendix
    comes right after its lesson."""
    rows = ["| lesson | what you learn | prerequisites | CPU run time* |", "|---|---|---|---|"]
    for stem, title, learn, prereq, rel in syllabus_entries():
        exists = (NOTEBOOKS / f"{rel}.ipynb").exists()
        name = f"[{stem[:3].rstrip('_')} — {title}](notebooks/{rel}.ipynb)" if exists else f"{stem[:2]} — {title}"
        secs = f"{timings[stem]:.0f} s" if stem in timings else ("—" if exists else "planned")
        cells = [name, learn, prereq, secs]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def syllabus_entries() -> list[tuple[str, str, str, str, str]]:
    """(stem, title, what you learn, prerequisites, path under ``notebooks/`` without suffix) of every lesson, each
    followed by its appendices."""
    out = []
    for stem, title, learn, prereq in SYLLABUS:
        out.append((stem, title, learn, prereq, stem))
        out += [(a, t, w, p, f"appendix/{a}") for a, t, w, p in APPENDICES if p == stem[:2]]
    return out


def update_readme(timings: dict[str, float]) -> None:
    """Rewrite README's syllabus table between its ``syllabus:start/end`` markers."""
    start, end = "<!-- syllabus:start -->", "<!-- syllabus:end -->"
    if not README.exists():
        print("README.md not found; syllabus table not updated", file=sys.stderr)
        return
    text = README.read_text(encoding="utf-8")
    if start not in text or end not in text:
        print("README.md has no syllabus markers; table not updated", file=sys.stderr)
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{start}\n{syllabus_table(timings)}\n{end}{tail}", encoding="utf-8")


def cmd_execute(args) -> int:
    """``devtools execute NB.py …``: sync, execute and store each lesson, record its time, refresh README."""
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    for src in args.notebooks:
        py = Path(src).with_suffix(".py")
        ipynb = py.with_suffix(".ipynb")
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(py)], check=True)
        print(f"executing {ipynb} …", flush=True)
        seconds = execute(ipynb)
        timings[py.stem] = round(seconds, 1)  # stems are unique: NN_* for lessons, NNa_* for appendices
        # executing rewrote the .ipynb: bring the .py twin's timestamp up to date
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(py)], check=True, capture_output=True)
        print(f"  {seconds:6.1f} s  {ipynb.name}")
    TIMINGS.write_text(json.dumps(dict(sorted(timings.items())), indent=2) + "\n")
    update_readme(timings)
    return 0


STUDENT_DIR = ROOT / "_build" / "student"
STUDENT_README = """# Diffusion SR Course — classroom edition

Built by `make student` from the course's lessons: the solution cells are removed, the exercise stubs are in
place, and every cell from "Exercises" on has no stored output. The lessons need the course installed
(`make lab` or `pip install -e .` in the course repository) because they import `course_lib`.

Each exercise is a stub cell (write your code where it says `# YOUR CODE HERE`), then a check cell that answers
in one line: passed, not done yet, or what is wrong with a hint. The last code cell of a lesson,
`exercises.summary("NN")`, lists which exercises pass — hand that in, or show it to your instructor.
"""


def student_notebook(nb):
    """The classroom version of a lesson (an ``nbformat`` notebook, changed in place and returned):
    solution cells removed; outputs cleared between the "## Exercises" and "## Further reading" headings (练习 and
    延伸阅读 in the Chinese edition),
    so no result of a removed solution shows, and of every cell tagged ``answer`` (a measurement that would give
    away a prediction the lesson asks for before it, like lesson 05's k = 16)."""
    nb.cells = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
    in_exercises = False
    for cell in nb.cells:
        if cell.cell_type == "markdown" and any(h in cell.source for h in ("## Exercises", "## 练习")):
            in_exercises = True
        if cell.cell_type == "markdown" and any(h in cell.source for h in ("## Further reading", "## 延伸阅读")):
            in_exercises = False
        if cell.cell_type == "code" and (in_exercises or "answer" in cell.metadata.get("tags", [])):
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


def cmd_student(args) -> int:
    """``devtools student``: write the classroom edition (solutions removed) to ``--out``."""
    import nbformat

    out = Path(args.out)
    for ipynb in notebook_paths():
        nb = student_notebook(nbformat.read(ipynb, as_version=4))
        dest = out / ipynb.relative_to(NOTEBOOKS)
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest)
        print(f"wrote {dest}")
    (out / "README.md").write_text(STUDENT_README, encoding="utf-8")
    print(f"classroom edition in {out}/ ({len(lesson_paths())} lessons, solutions removed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.devtools", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("workspace", help="copy lessons and appendices into workspace/ (never overwriting a learner's copy)")
    ex = sub.add_parser("execute", help="sync, execute and store outputs of lesson notebooks (give the .py files)")
    ex.add_argument("notebooks", nargs="+")
    st = sub.add_parser("student", help="write the classroom edition (solutions removed) to a folder")
    st.add_argument("--out", default=str(STUDENT_DIR), help="output folder (default: _build/student)")
    args = parser.parse_args(argv)
    return {"workspace": cmd_workspace, "execute": cmd_execute, "student": cmd_student}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
