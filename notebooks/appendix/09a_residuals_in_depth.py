# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Appendix to lesson 09 — Residuals in depth · 残差进阶
#
# Two measurements [lesson 09](../09_residuals_priors.ipynb) states and points to: DiffIR's sampling cost timed live
# on your machine, and SRDiff judged with the sampler it was trained for. Nothing here is needed for lesson 10.
#
# **What is here.**
# 1. DiffIR against SR3-style DDIM-50, milliseconds per image on this machine (the lesson's figure is cached);
# 2. SRDiff with its native DDPM-100 and with DDIM-50, each against SR3-style on the harness's 500 digits.
#
# **Prerequisites.** Lesson 09 sections 2 and 5; lesson 05's verdict rule.
#
# **Run time.** About 5 s on a 2-core CPU; the comparison is read from `data/cache/residual_ablation.json`.

# %%
# On Colab only: fetch the course (data/ comes with it) and make course_lib importable; elsewhere this does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    if not os.path.isdir("/content/diffusion-sr-course"):
        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/diffusion-sr-course/diffusion-sr-course", "/content/diffusion-sr-course"], check=True)
        # Colab's own torch, numpy, matplotlib and ipywidgets are used: install course_lib without the course's pins
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", "/content/diffusion-sr-course"], check=True)
    sys.path.insert(0, "/content/diffusion-sr-course")
    os.chdir("/content/diffusion-sr-course/notebooks")

# %%
import json
import time

import torch
from IPython.display import Markdown, display

from course_lib.files import data_dir
from course_lib.datasets import DigitsSR
from course_lib.device import get_device
from course_lib.engine.harness import LIVE_INDICES, image_seeds
from course_lib.engine.pretrained import load
from course_lib.teaching import plotting

device = get_device()
torch.manual_seed(0)
hr16, y16 = (t.to(device) for t in DigitsSR("test", scale=4).tensors(list(LIVE_INDICES)))
diffir, sr3 = load("digits_diffir", device), load("digits_sr3_concat", device)
cache = json.loads((data_dir() / "cache" / "residual_ablation.json").read_text())
iv = plotting.verdict_text  # a cached verdict: estimate [95 %] and its word
print(f"running on {device}")

# %% [markdown]
# ## 1. What sampling costs, on your machine · 采样开销
#
# One restorer pass and four calls of an MLP on 64 numbers — NFE 5, but four of the five are
# almost free. Against SR3-style DDIM-50 on the same 16 digits, in one batch, with the same threads (timings vary
# from machine to machine; lesson 09's cached ones are on one thread, 100 digits in one batch):

# %% tags=["nbval-ignore-output"]
def best_ms(f, repeats=2):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1000 * min(times) / 16


with torch.no_grad():
    ms_diffir = best_ms(lambda: diffir.restore(y16, seeds=image_seeds(LIVE_INDICES)))
    ms_sr3 = best_ms(lambda: sr3.restore(y16, seeds=image_seeds(LIVE_INDICES), sampler="ddim", steps=50), repeats=1)
print(f"live, {torch.get_num_threads()} threads: DiffIR {ms_diffir:.1f} ms/image, SR3-style DDIM-50 {ms_sr3:.0f} ms/image "
      f"({ms_sr3 / ms_diffir:.0f}× more)")

# %% [markdown]
# ## 2. SRDiff with its own sampler · SRDiff 的原生采样器
#
# SRDiff was trained for T = 100 steps: its own sampler is DDPM-100, and DDIM-50 (the table's common NFE) is not
# where it is best. Both, against SR3-style DDIM-50 on the harness's 500 digits (one evaluation set; exploratory; `python -m course_lib.residual --native`):

# %%
native = cache["native_samplers"]
display(Markdown(plotting.markdown_table(
    ["SRDiff − SR3-style (500 digits)", "Δ PSNR (dB)", "Δ agreement", "Δ patch SWD ↓", "Δ Fréchet ↓"],
    [[label, iv(v["psnr"], 2), iv(v["agreement"], 3), iv(v["patch_swd"], 4), iv(v["frechet"], 2)] for label, v in native["rows"].items()])))
ddpm100 = native["rows"]["SRDiff DDPM-100"]
assert [ddpm100[k]["verdict"] for k in ("psnr", "patch_swd", "frechet", "agreement")] == ["worse"] * 3 + ["undecided"]
assert all(v["verdict"] == "worse" for v in native["rows"]["SRDiff DDIM-50"].values())

# %% [markdown]
# The native sampler narrows the gap but does not close it: the ×2 clip and ε-prediction (lesson 09, section 3) cost
# SRDiff more on digits than the sampler can give back.
#
# ## Back to the lesson
#
# [Lesson 09](../09_residuals_priors.ipynb), section 6, puts these models side by side; the generation widget and the
# exercises follow it.
