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
# # 03 — The timestep embedding · 时间步嵌入
#
# **Objectives.** After this lesson you can
# 1. say why the denoiser needs $t$, and when it could do without;
# 2. write the **sinusoidal** embedding (正余弦编码) $\mathrm{TE}(t)$ from its formula, relate the interleaved layout to
#    the [sin | cos] halves most libraries use, and read its picture;
# 3. explain why nearby timesteps get similar vectors (a dot product that depends only on $t - t'$);
# 4. compare it with **learnable** embeddings (可学习嵌入) and with no time input at all, in a measured ablation;
# 5. show the two ways the embedding enters a network: **added** to the features, or as a **scale and shift**.
#
# **Prerequisites.** Lesson 02 (ε-prediction, `Trainer`, the shipped digits model). The identity
# $\cos(a - b) = \cos a\cos b + \sin a \sin b$.
#
# **Run time.** Under half a minute on a 2-core CPU (README's syllabus lists the measured time). The ablation took about 20 minutes, so its results are cached in `data/cache/`
# (regenerate them with `python -m course_lib.ablation`); the tests re-run part of it and compare.

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
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib import data, stats
from course_lib.teaching import plotting
from course_lib.device import get_device, make_generator, seed_everything
from course_lib.embeddings import sinusoidal_embedding, sinusoidal_embedding_halves
from course_lib.engine.pretrained import load_pretrained

seed_everything(0)
device = get_device()
T = 1000

# %% [markdown]
# ## 1. Why the network needs t
#
# $\varepsilon_\theta(x_t, t)$ must remove the right *amount* of noise: at $t = 50$ almost none, at $t = 900$ almost all
# of $x_t$ is noise. For 2-D points the network cannot tell these apart from $x_t$ alone — a noisy point at $t = 300$ can
# sit exactly where a clean point sits. For **images** it is different: thousands of pixels carry independent noise, so
# the noise level can be *read off* $x_t$ itself. A crude estimator — the spread of the difference between neighbouring
# pixels — already orders the timesteps almost perfectly (random draws: the cell asserts the ordering):

# %% tags=["nbval-ignore-output"]
from course_lib.diffusion import GaussianDiffusion
from course_lib.schedules import make_beta_schedule

cosine = GaussianDiffusion(make_beta_schedule("cosine", T))
hr, _ = data.DigitsSR("test").tensors(range(200))
ts = torch.tensor([50, 150, 300, 500, 700, 900])
estimates = []
for t in ts.tolist():
    x_t = cosine.q_sample(hr, torch.full((200,), t), generator=make_generator(t))
    diff = (x_t[..., 1:] - x_t[..., :-1]).flatten(1).std(dim=1) / math.sqrt(2)  # ≈ the noise std, blurred by the image's own edges
    estimates.append(diff)
est = torch.stack(estimates)  # (6, 200)
true = cosine.sqrt_one_minus_alpha_bars[ts]
rows = [(t, "%.3f" % s, "%.3f ± %.3f" % (e.mean(), e.std())) for t, s, e in zip(ts.tolist(), true.tolist(), est)]
display(Markdown(plotting.markdown_table(["t", "true noise std sqrt(1 - abar)", "estimated from x_t alone (mean ± sd over 200 digits)"], rows)))
assert (est.mean(1).diff() > 0).all()  # the estimate rises with t

# %% [markdown]
# So an image denoiser *can* guess $t$ — but it has to spend capacity on it, and it guesses worst exactly where the
# image itself is busy. Section 6 measures what giving it $t$ is worth.

# %% [markdown]
# ## 2. The sinusoidal embedding · 正余弦编码
#
# The notes give the Transformer's position encoding, applied to the timestep (code index $t = 0 \dots T-1$):
#
# $$\mathrm{TE}(t, 2i) = \sin\!\Big(\frac{t}{10000^{2i/d}}\Big),\qquad \mathrm{TE}(t, 2i+1) = \cos\!\Big(\frac{t}{10000^{2i/d}}\Big),\qquad i = 0, \dots, d/2 - 1 \qquad \text{(Eq. 03.1)}$$
#
# Each pair of columns is a clock hand turning at its own speed $\omega_i = 10000^{-2i/d}$: the first pairs spin fast
# (they tell $t = 500$ from $t = 501$), the last barely move over 1,000 steps (they tell early from late). By hand:

# %%
def te_by_hand(t, d):
    i = torch.arange(d // 2, dtype=torch.float32)
    angle = t.float()[:, None] / 10000 ** (2 * i / d)  # (B, d/2)
    out = torch.empty(t.shape[0], d)
    out[:, 0::2] = torch.sin(angle)  # columns 2i
    out[:, 1::2] = torch.cos(angle)  # columns 2i + 1
    return out


t_all = torch.arange(T)
assert torch.allclose(te_by_hand(t_all, 64), sinusoidal_embedding(t_all, 64), atol=1e-5)
print("TE(0) =", sinusoidal_embedding(torch.tensor([0]), 8)[0].tolist(), "(sin 0 = 0, cos 0 = 1)")
print("by hand == course_lib.embeddings.sinusoidal_embedding for all 1000 timesteps, d = 64")

# %% [markdown]
# **Two layouts, one embedding.** Many codebases put all the sines first, then all the cosines:
#
# $$\mathrm{TE}'(t) = \big[\sin(t\omega_0), \dots, \sin(t\omega_{d/2-1})\ \big|\ \cos(t\omega_0), \dots, \cos(t\omega_{d/2-1})\big]
# \qquad \text{(Eq. 03.2)}$$
#
# with the same frequencies $\omega_i = 10000^{-2i/d}$ as Eq. 03.1. Same numbers, columns permuted — and since the next layer is a learned linear
# map, the network cannot tell the difference. (Loading weights trained with one layout into code using the other
# *does* break: the first linear layer sees its inputs shuffled.)
#
# The codebases you will read next each pick a convention, and not all of them are permutations of Eq. 03.1:
#
# * **diffusers' `UNet2DModel`** (defaults `flip_sin_to_cos=True, freq_shift=0`): $[\cos \mid \sin]$ with
#   $\omega_i = 10000^{-2i/d}$ — Eq. 03.1 permuted (cosines first). Its function `get_timestep_embedding` with
#   `flip_sin_to_cos=False, downscale_freq_shift=0` is exactly Eq. 03.2 (a test in `tests/` checks both).
# * **DDPM's original code** (Ho et al.'s `get_timestep_embedding`): $[\sin \mid \cos]$ with
#   $\omega_i = 10000^{-i/(d/2 - 1)}$ — its own comment says it "differs slightly" from the Transformer's. The
#   frequencies themselves differ: the lowest is $10^{-4}$ instead of $10000^{-(d-2)/d}$. Not a permutation, so the same
#   architecture with DDPM's embedding is a (slightly) different network.

# %%
inter, halves = sinusoidal_embedding(t_all, 64), sinusoidal_embedding_halves(t_all, 64)
perm = list(range(0, 64, 2)) + list(range(1, 64, 2))  # even columns (sines), then odd (cosines)
assert torch.equal(inter[:, perm], halves)
i = torch.arange(32)
ours, ddpm_code = 10000 ** (-2 * i / 64), 10000 ** (-i / (32 - 1))  # Eq. 03.1's ω_i vs DDPM's code
print(f"lowest frequency, d = 64: Eq. 03.1 {ours[-1]:.3g}, DDPM's code {ddpm_code[-1]:.3g}; "
      f"largest relative difference over i: {((ddpm_code - ours).abs() / ours).max():.0%}")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
for ax, table, name in ((axes[0], inter, "interleaved, Eq. 03.1"), (axes[1], halves, "halves [sin | cos], Eq. 03.2")):
    im = ax.imshow(table.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel("timestep t")
    ax.set_ylabel("dimension")
    ax.set_title(f"TE(t), d = 64: {name}", fontsize=9)
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()

# %% [markdown]
# ## 3. Nearby timesteps look alike
#
# The dot product of two embeddings depends only on the distance between the timesteps:
#
# $$\mathrm{TE}(t)\cdot\mathrm{TE}(t') = \sum_i \big(\sin t\omega_i \sin t'\omega_i + \cos t\omega_i \cos t'\omega_i\big) = \sum_i \cos\big((t - t')\,\omega_i\big).$$
#
# It is largest at $t = t'$ and falls off, with ripples rather than monotonically, as $|t - t'|$ grows: a smooth notion of "close in time" that the network gets for free.

# %%
e = sinusoidal_embedding(t_all, 64)
gram = e @ e.T
delta = (t_all[:, None] - t_all[None, :]).float()
omega = 10000 ** (-2 * torch.arange(32) / 64)
assert torch.allclose(gram, torch.cos(delta[..., None] * omega).sum(-1), atol=1e-3)  # the identity above
sim = torch.nn.functional.cosine_similarity(e[:, None], e[None], dim=-1)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].imshow(sim, cmap="viridis", vmin=-0.2, vmax=1)
axes[0].set_title("cosine similarity of TE(t) and TE(t')", fontsize=9)
axes[0].set_xlabel("t'")
axes[0].set_ylabel("t")
for t0 in (100, 500, 900):
    axes[1].plot(t_all, sim[t0], label=f"t = {t0}")
axes[1].set_xlabel("t'")
axes[1].set_title("one row each", fontsize=9)
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Learnable embeddings · 可学习嵌入
#
# Instead of a fixed formula, let the network learn the vector: a **table** with one trainable row per timestep
# (`LearnedTableEmbedding`: $T \times d$ parameters, each row trained only when its $t$ is drawn), or a small **MLP on
# the scalar** $t/T$ (`MLPTimeEmbedding`: smooth in $t$ by construction). In practice even the sinusoidal embedding is
# followed by a learned MLP, so the network reshapes it anyway. What did the shipped digits model make of it? Below, the
# similarity of its *processed* time vectors (after its time MLP):

# %%
model, diffusion, config = load_pretrained("digits_unet", "cpu")
with torch.no_grad():
    processed = model.time_mlp(t_all)  # sinusoidal -> Linear -> SiLU -> Linear, as trained
psim = torch.nn.functional.cosine_similarity(processed[:, None], processed[None], dim=-1)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].imshow(sim, cmap="viridis", vmin=-0.2, vmax=1)
axes[0].set_title("raw sinusoidal TE", fontsize=9)
axes[1].imshow(psim, cmap="viridis", vmin=-0.2, vmax=1)
axes[1].set_title("after the trained time MLP of digits_unet", fontsize=9)
for ax in axes:
    ax.set_xlabel("t'")
    ax.set_ylabel("t")
fig.tight_layout()
plt.show()

# %% [markdown]
# The trained network smoothed the fast, aliasing columns away and kept a few broad "phases" of the process — roughly,
# *noisy*, *middle*, *almost clean*.
#
# ## 5. How the embedding enters the network
#
# First the whole network. The U-Net (lessons 02–05) goes down through residual blocks and stride-2 convolutions,
# through a middle with self-attention at 8 × 8, and back up, each level of the way up concatenating the features
# the way down left behind (the **skips**, 跳跃连接). The timestep is embedded once — Eq. 03.1, then a small MLP — and the
# resulting vector $e$ goes to *every* residual block (orange). Drawn from the shipped model's own config:

# %%
from course_lib.teaching import diagrams

fig = diagrams.unet_figure(model.config, image_size=32, title=f"The shipped digits U-Net ({sum(p.numel() for p in model.parameters()):,} parameters): where t enters")
plt.show()

# %% [markdown]
# Inside each residual block of the U-Net, the time vector $e$ is projected and either **added** to the normalised
# features, or used to **scale and shift** them (FiLM, 特征调制 / scale-shift; Perez et al., AAAI 2018; in diffusion
# U-Nets since improved DDPM, and named **AdaGN** — adaptive group normalisation — by Dhariwal & Nichol, NeurIPS 2021,
# who ablated it against addition and found it better):
#
# $$h \leftarrow \mathrm{GN}(h)\,\big(1 + s(e)\big) + b(e) \quad \text{(Eq. 03.3)} \qquad\qquad h \leftarrow \mathrm{GN}(h) + W e \quad \text{(Eq. 03.4)}$$
#
# Both can gate a feature, because a SiLU follows: a large negative shift pushes a channel into the flat part of the
# SiLU just as a zero scale does. What scaling adds is a *multiplicative* gate — it changes a channel's gain, its
# response to the image, per timestep — where a shift only moves the operating point. `UNet(time_injection=
# "scale_shift" | "add")` implements both. The shipped model uses Eq. 03.3; these are its per-channel scales in the
# first block for three timesteps:

# %%
block = model.down[0]
with torch.no_grad():
    e3 = model.time_mlp(torch.tensor([50, 500, 950]))
    scale, shift = block.time(torch.nn.functional.silu(e3)).chunk(2, dim=1)
fig, ax = plt.subplots(figsize=(8, 2.6))
for k, t in enumerate((50, 500, 950)):
    ax.plot(1 + scale[k].numpy(), marker="o", ms=3, label=f"t = {t}")
ax.axhline(1, color="0.5", lw=0.8)
ax.set_xlabel("channel of the first residual block")
ax.set_ylabel("1 + s(e)")
ax.set_title("Eq. 03.3 in the trained model: the same channel is amplified at one t, damped at another", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. The ablation: does the embedding matter? · 消融实验
#
# Variants of the same denoiser — **no time input**, **sinusoidal**, **learned table**, **MLP on t/T** — each trained
# with **3 seeds** on the same data for the same number of steps (`course_lib/experiments/ablation.py`): all four on the 2-D spiral,
# the first three on digits (the MLP-on-t/T variant was left out there to keep the cached runs short). On the spiral the
# sample quality is the sliced Wasserstein distance (切片 Wasserstein 距离) between 2,000 samples and 2,000 held-out points (lower is better);
# on digits (a 0.3 M-parameter U-Net, short runs) the held-out ε-MSE at 13 fixed timesteps, averaged — the timesteps
# 0, 25, 50, 100, 200, …, 900, 999 oversample small t, so this average is *not* L_simple (which draws t uniformly);
# it is a loss-by-timestep curve summed up. The runs took minutes, so they are **cached**:

# %%
from course_lib.experiments.ablation import RESULTS, summarise
from course_lib.data import verify_file

ablation = json.loads(verify_file(RESULTS).read_text())
rows = []
for v, runs in ablation["toy"].items():
    (lm, ls), (sm, ss) = summarise(runs, "final_loss"), summarise(runs, "swd")
    rows.append((v, f"{lm:.3f} ± {ls:.3f}", f"{sm:.3f} ± {ss:.3f}"))
display(Markdown(f"**2-D spiral** (MLP denoiser, {ablation['toy_steps']} steps, seeds {ablation['seeds']}; "
                 f"{ablation['hardware']}, {ablation['seconds']:.0f} s for the whole ablation)\n\n"
                 + plotting.markdown_table(["time input", "final training loss", "sliced Wasserstein to held-out data"], rows)))
rows = []
for v, runs in ablation["digits"].items():
    (lm, ls) = summarise(runs, "final_loss")
    held = torch.tensor([r["heldout_by_t"] for r in runs]).mean(1)
    rows.append((v, f"{lm:.3f} ± {ls:.3f}", f"{held.mean():.3f} ± {held.std():.3f}"))
display(Markdown(f"**Digits** (U-Net, {ablation['digit_steps']} steps of batch 64)\n\n"
                 + plotting.markdown_table(["time input", "final training loss", "held-out ε-MSE (mean over the 13 fixed t)"], rows)))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
for ax, key, title in ((axes[0], "toy", "2-D spiral"), (axes[1], "digits", "digits")):
    for v, runs in ablation[key].items():
        curve = torch.tensor([r["heldout_by_t"] for r in runs])
        ax.errorbar(ablation["eval_t"], curve.mean(0), yerr=curve.std(0), label=v, capsize=2, marker="o", ms=3)
    ax.set_xlabel("t")
    ax.set_ylabel("held-out L_simple at t")
    ax.set_title(f"{title}: loss by timestep (mean ± sd over 3 seeds)", fontsize=9)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# The verdicts, by course_lib.stats: seed-paired differences of the sliced Wasserstein distance (lower is better) with
# t intervals at 3 − 1 = 2 degrees of freedom; each question is a family of 3 comparisons, so each interval is at the
# Bonferroni level 1 − 0.05/3. No margin was fixed before the runs: exploratory (better, worse or undecided).
toy = {v: summarise(r, "swd")[0] for v, r in ablation["toy"].items()}
seeded = {v: [{**r, "seed": s} for r, s in zip(runs, ablation["seeds"])] for v, runs in ablation["toy"].items()}
level = stats.family_level(0.95, 3)
against_none = {v: stats.judge(stats.seed_difference(seeded[v], seeded["none"], "swd", level), higher_is_better=False)
                for v in ("sinusoidal", "learned", "mlp")}
between = {f"{a} vs {b}": stats.judge(stats.seed_difference(seeded[a], seeded[b], "swd", level), higher_is_better=False)
           for a, b in (("learned", "sinusoidal"), ("mlp", "sinusoidal"), ("mlp", "learned"))}
for name, v in {**{f"{k} vs none": v for k, v in against_none.items()}, **between}.items():
    print(f"2-D sample quality, {name}: {v}")
assert all(v.word == "better" for v in against_none.values())  # in 2-D, t is indispensable
assert [v.word for v in between.values()] == ["worse", "undecided", "undecided"]  # what the text below reads
gap = min(abs(v.interval.estimate) for v in against_none.values())
print(f"the largest difference between time-aware variants is {max(abs(v.interval.estimate) for v in between.values()) / gap:.1%} "
      "of the smallest gain over no time input")
# like with like: the final training loss without t, relative to sinusoidal, on each data set
toy_loss = {v: summarise(r, "final_loss")[0] for v, r in ablation["toy"].items()}
digit_loss = {v: summarise(r, "final_loss")[0] for v, r in ablation["digits"].items()}
loss_ratio = {"2-D": toy_loss["none"] / toy_loss["sinusoidal"], "digits": digit_loss["none"] / digit_loss["sinusoidal"]}
assert loss_ratio["digits"] < loss_ratio["2-D"]  # images suffer less without t: the noise level is visible in x_t
print("final training loss without t / with sinusoidal t: %.2f in 2-D, %.2f on digits"
      % (loss_ratio["2-D"], loss_ratio["digits"]))
print("(in 2-D the sample quality suffers far more than the loss: sliced Wasserstein ratio %.1f)"
      % (toy["none"] / toy["sinusoidal"]))

# %% [markdown]
# **What the data show** (the verdicts printed above, on these 3 seeds). In 2-D every time-aware network is better than
# the one without $t$: that network cannot know how far a point is from the data, exactly as section 1 predicted.
# Among the time-aware variants, the learned table came out slightly worse than the sinusoidal embedding and the other
# two comparisons are undecided — and every such difference is a few per cent of the gain over no time input: the
# embedding's *form* matters much less than *having* one. On digits the
# no-time network is handicapped less than in 2-D, because the noise level is visible in the image (section 1); the
# loss-by-$t$ curves show where the difference lives. The digits runs are short (a few hundred steps): read their ranking
# as a first indication, not a verdict — the table's standard deviations say how far to trust it.

# %% [markdown]
# ## 7. Explore · 交互
#
# The embedding explorer: move $t$, change the dimension $d$ and the layout. Watch how many columns are "fast" and how
# quickly the similarity to the neighbours drops. Try: what happens to that width when $d$ grows?

# %% tags=["nbval-ignore-output"]
from course_lib.teaching.widgets import EmbeddingExplorer, embedding_view

explorer = EmbeddingExplorer(t=250, dim=32)
explorer

# %%
explorer.t.value, explorer.dim.value = 700, 64
v = explorer.view
assert torch.allclose(v["vector"], sinusoidal_embedding(torch.tensor([700]), 64)[0])
assert v["half_width"] == embedding_view(700, 64)["half_width"]
print(f"explorer at t = 700, d = 64: similarity stays above 0.5 within {v['half_width']} steps")

# %% [markdown]
# ## Recap · 小结
#
# * The denoiser must know the noise level; in 2-D it cannot infer it, in images it partly can (section 1).
# * Sinusoidal embedding: $\mathrm{TE}(t, 2i) = \sin(t/10000^{2i/d})$, $\mathrm{TE}(t, 2i+1) = \cos(\cdot)$ (Eq. 03.1); the halves
#   layout (Eq. 03.2) is a column permutation. Its dot products depend only on $t - t'$.
# * Learnable alternatives: a table or an MLP on $t/T$. Measured here: having $t$ matters a lot in 2-D; the form matters little.
# * The embedding enters each block added (Eq. 03.4) or as scale and shift (Eq. 03.3).
#
# ## Exercises · 练习
#
# **Exercise 03.1 — the formula.** Write `my_sinusoidal(t, d)`: `(B,)` timesteps → `(B, d)`, Eq. 03.1 (interleaved).

# %%
from course_lib.teaching.exercises.lesson03 import buggy_embedding, check_fixed_embedding, check_sinusoidal


def my_sinusoidal(t, d):
    """(B,) timesteps -> (B, d): column 2i = sin(t / 10000^(2i/d)), column 2i+1 = cos(t / 10000^(2i/d))."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_sinusoidal(my_sinusoidal)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_sinusoidal(t, d):
    """(B,) timesteps -> (B, d): column 2i = sin(t / 10000^(2i/d)), column 2i+1 = cos(t / 10000^(2i/d))."""
    i = torch.arange(d // 2, dtype=torch.float32)
    angle = t.float()[:, None] / 10000 ** (2 * i / d)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(t.shape[0], d)


check_sinusoidal(my_sinusoidal)

# %% [markdown]
# **Exercise 03.2 — find the bug.** `buggy_embedding` (from `course_lib.teaching.exercises.lesson03`) looks right but has one bug.
# Run the check on it to see the symptom, read its source (`buggy_embedding??`), then write the repaired `fixed_embedding`.

# %%
print(check_fixed_embedding(buggy_embedding))


def fixed_embedding(t, d):
    """buggy_embedding, repaired."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_fixed_embedding(fixed_embedding)

# %% jupyter={"source_hidden": true} tags=["solution"]
def fixed_embedding(t, d):
    """buggy_embedding, repaired: sin must come first in each (2i, 2i+1) pair."""
    i = torch.arange(d // 2, device=t.device, dtype=torch.float32)
    angles = t.float()[:, None] / 10000 ** (2 * i / d)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(t.shape[0], d)


check_fixed_embedding(fixed_embedding)

# %% [markdown]
# **Exercise 03.3 (open).** Train the toy variants for a third of the ablation's 3,000 steps, from a cell — no file to
# edit: `from course_lib.experiments.ablation import run_toy`, then `run_toy("learned", 0, steps=1000)` and
# `run_toy("sinusoidal", 0, steps=1000)` (each returns its final loss, held-out loss per $t$ and sample SWD; about
# 20 s each on a 2-core CPU). A row of the learned table is trained only when its $t$ is drawn: how does that show
# in the learned table's result at short training, and at which $t$?

# %%
from course_lib.teaching import exercises

exercises.summary("03")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# * A. Vaswani et al., *Attention Is All You Need*, NeurIPS 2017 — the sinusoidal position encoding.
# * J. Ho, A. Jain, P. Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020 — the timestep embedding in the U-Net.
# * A. Nichol, P. Dhariwal, *Improved Denoising Diffusion Probabilistic Models*, ICML 2021 — scale/shift (adaptive GroupNorm).
# * E. Perez et al., *FiLM: Visual Reasoning with a General Conditioning Layer*, AAAI 2018 — feature-wise scale and shift.
# * Q. Sun, Z. Jiang, H. Zhao, K. He, *Is Noise Conditioning Necessary for Denoising Generative Models?*, ICML 2025 —
#   image denoisers without $t$, and why they mostly work.
#
# **Next:** 04 — conditioning on the low-resolution image (条件控制, SR3).
