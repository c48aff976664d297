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
# # 07 — Cascades and latents: CDM, LDM, guidance · 级联扩散与潜在扩散
#
# The notes' history runs SR3 → CDM (2021, **cascaded diffusion**, 级联扩散) → LDM (2022, **latent diffusion**,
# 潜在扩散, "computation reduced 10×"), and their research directions name control by a prompt (text guidance,
# 文本引导). Lesson 00 already corrected the arrow — LDM does not build on CDM — but both are answers to the same
# question: **a diffusion model at full resolution is expensive; where else can the work be done?** CDM splits it
# across resolutions: a small model makes a small image, SR stages enlarge it. LDM moves it into the latent space of an
# autoencoder. This lesson builds both at toy scale on the course's pluggable core, with a class label as the toy
# stand-in for a text prompt, and measures the two claims that matter: that a cascade needs **conditioning
# augmentation** (条件增强), and the "10×".
#
# **Objectives.** After this lesson you can
# 1. write classifier-free guidance with the paper's weight w, map it to diffusers' `guidance_scale`, count its cost
#    (2 network evaluations per step) and read its trade: class accuracy up, realism down at high w;
# 2. explain why a cascade's SR stage fails on a base model's outputs when it was trained on true LR images only, and
#    fix it with conditioning augmentation — the LR input corrupted to a level s that the model is told;
# 3. judge a cascade the right way: on base-generated LR, with s and w chosen on validation draws and paired intervals
#    on the test draws;
# 4. build a KL-regularised autoencoder, read its reconstruction PSNR as the ceiling of everything latent, and scale
#    its latents to unit variance (and say what goes wrong without it);
# 5. measure latent against pixel-space SR at equal training CPU-minutes and answer the notes' "10×" with numbers.
#
# **Prerequisites.** Lesson 01 (the forward process, Eq. 01.3), lesson 02 (L_simple, DDIM), lesson 03 (how t is
# embedded), lesson 04 (the SR3-style model), lesson 05 (patch SWD, paired comparisons and their verdicts), lesson 06
# (NFE).
#
# **Run time.** About 30 s on a 2-core CPU (README's syllabus lists the measured time). The slow parts are cached by
# scripts: the cascade experiment (`python -m course_lib.cascade`, about 15 CPU-minutes: `data/cache/cascade.json`),
# the latent-vs-pixel curves (`python -m course_lib.latents`: `data/cache/latent_sr.json`) and the landscape rows
# (`python -m course_lib.harness`). Six shipped models, all trained on this kind of CPU: the 8 × 8 base
# `digits8_cfg`, the SR stages `digits_cascade_sr` and `digits_cascade_sr_noaug`, the single-stage `digits32_cfg`,
# the autoencoder `digits_autoencoder` and the latent SR model `digits_latent_sr`.

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

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display

from course_lib.experiments import cascade
from course_lib.teaching import plotting
from course_lib.teaching.live import describe_budget, live_budget
from course_lib.datasets import DigitsSR, load_training_set
from course_lib.device import get_device, per_image_generators
from course_lib.files import data_dir
from course_lib.engine.harness import CURVE_INDICES, LIVE_INDICES, REFERENCE_INDICES, image_seeds, load_table
from course_lib.metrics import patch_distance, psnr
from course_lib.models import GuidedModel, augment_lr, classifier_free_guidance, diffusers_guidance_scale, kl_to_standard_normal
from course_lib.operators import downsample, upsample
from course_lib.engine.pretrained import load, training_record
from course_lib.engine.train import Trainer

device = get_device()
torch.manual_seed(0)
print(f"running on {device}")
C = json.loads((data_dir() / "cache" / "cascade.json").read_text())
L = json.loads((data_dir() / "cache" / "latent_sr.json").read_text())
classifier = load("digit_classifier", device).model.eval()
base = load("digits8_cfg", device)

# %% [markdown]
# ## 1. Asking for a 7: classifier-free guidance · 无分类器引导
#
# The base model of the cascade is a **class-conditional** DDPM on 8 × 8 digits: ε_θ(x_t, t, c) with the label c
# embedded and added to the timestep's embedding (lesson 03's vector that scales and shifts every block). In training,
# 10 % of the labels are replaced by a "no label" token ∅, so the same network also learns the unconditional
# ε_θ(x_t, t, ∅). At sampling, **classifier-free guidance** (Ho & Salimans, 2021) pushes the prediction away from the
# unconditional one:
#
# $$\tilde\varepsilon = (1 + w)\,\varepsilon_\theta(x_t, t, c) - w\,\varepsilon_\theta(x_t, t, \varnothing) \qquad \text{(Eq. 07.1)}$$
#
# w = 0 is the plain conditional model; w > 0 exaggerates what makes a 7 a 7. This is the paper's convention.
# diffusers writes the same line as `noise_pred_uncond + guidance_scale * (noise_pred_text − noise_pred_uncond)`,
# so `guidance_scale` = 1 + w: its default 7.5 is w = 6.5. Each guided step runs the network on both branches — two
# network evaluations (NFE) per step. Our hand version against `course_lib`'s, on the shipped base network:

# %%
def my_guided(net, x_t, t, label, w):  # Eq. 07.1: two calls, the labelled one and the null-label one
    eps_c = net(x_t, t, None, label=label)
    eps_u = net(x_t, t, None, label=torch.full_like(label, net.num_classes))
    return (1 + w) * eps_c - w * eps_u


g = torch.Generator().manual_seed(0)
x_t = torch.randn(10, 1, 8, 8, generator=g).to(device)
t = torch.full((10,), 500, device=device)
labels = torch.arange(10, device=device)
with torch.no_grad():
    for w in (0.0, 1.0, 4.0):
        ours = my_guided(base.model, x_t, t, labels, w)
        assert torch.allclose(ours, GuidedModel(base.model, labels, w)(x_t, t), atol=1e-5)
        eps_c, eps_u = base.model(x_t, t, None, label=labels), base.model(x_t, t, None)
        diffusers_line = eps_u + diffusers_guidance_scale(w) * (eps_c - eps_u)  # diffusers' pipelines, scale = 1 + w
        assert torch.allclose(ours, diffusers_line, atol=1e-5) and torch.allclose(ours, classifier_free_guidance(eps_c, eps_u, w), atol=1e-5)
print("Eq. 07.1 by hand = GuidedModel = classifier_free_guidance = diffusers' line with guidance_scale = 1 + w")

# %% [markdown]
# Now ask for every digit at three weights (DDIM-20, each draw from its own seed; the 8 × 8 samples are shown as
# they are, pixel for pixel). The sampling loop counts the NFE, both branches included:

# %%
asked = list(range(10))
rows, nfe = {}, {}
for w in (0.0, 1.0, 4.0):
    samples = base.method.generate(base.model, base.process, [100 + k for k in asked], (1, 8, 8), labels=asked, w=w, sampler="ddim", steps=20)
    rows[f"w = {w:g}"] = list(samples.cpu())
    nfe[w] = base.method.last_nfe
    reads = cascade.class_accuracy(samples, asked, classifier)
    print(f"w = {w:g}: {int(reads.sum())} of 10 read as the digit asked for; NFE {nfe[w]}")
assert nfe[0.0] == 20 and nfe[1.0] == nfe[4.0] == 40
fig = plotting.image_rows(rows, col_titles=[f"asked {k}" for k in asked], size=0.9, suptitle="the base model, 8 × 8, DDIM-20")
plt.show()

# %% [markdown]
# What w buys and costs, measured by `python -m course_lib.cascade` on 100 **validation** draws (10 of each class;
# seeds kept apart from the test draws): **class accuracy** — the digit classifier's agreement with the class asked
# for, read on the bicubic ×4 of the 8 × 8 sample — and realism, the patch SWD (Eq. 05.4) of those upsamplings
# against real digits put through the same area ↓4 and bicubic ↑4. The rule, fixed before measuring
# (`cascade.MARGINS`): **w is the smallest weight of the grid whose validation accuracy reaches 95 %** — stronger
# guidance is known to trade diversity for fidelity (Ho & Salimans), which this lesson does not measure.

# %%
vb = C["validation"]["base"]
ws = [float(w) for w in vb]
w_star = C["validation"]["chosen_w"]
fig, ax = plt.subplots(1, 2, figsize=(8, 2.6))
ax[0].plot(ws, [vb[k]["accuracy"] for k in vb], "o-")
ax[0].axhline(C["margins"]["w_min_accuracy"], color="grey", ls=":", label="rule: 95 %")
ax[0].axvline(w_star, color="C3", ls="--", label=f"chosen w = {w_star:g}")
ax[0].set(xlabel="guidance weight w", ylabel="class accuracy", title="asked-for class (validation)")
ax[0].legend(fontsize=7)
ax[1].plot(ws, [vb[k]["patch_swd"] for k in vb], "o-", color="C1")
ax[1].axvline(w_star, color="C3", ls="--")
ax[1].set(xlabel="guidance weight w", ylabel="patch SWD ↓", title="realism of the base's samples (validation)")
fig.tight_layout()
plt.show()
display(Markdown(plotting.markdown_table(["w", "accuracy", "patch SWD"], [[f"{float(k):g}", f"{v['accuracy']:.2f}", f"{v['patch_swd']:.4f}"] for k, v in vb.items()])))
swd_w = [vb[k]["patch_swd"] for k in vb]
assert w_star in ws and vb[str(w_star)]["accuracy"] >= C["margins"]["w_min_accuracy"]

# %% [markdown]
# ## 2. A cascade, and why it needs conditioning augmentation · 级联与条件增强
#
# A **cascade** (级联) generates the 8 × 8 digit with the base model, then hands it to an SR stage 8 → 32 — lesson 04's
# SR3 with y concatenated, here generating the whole HR image. Trained the obvious way, on true LR images (the area
# downsampling of real digits), the SR stage meets something else at test time: the base model's samples, with their
# small errors. Those errors are outside its training distribution, and it treats them as signal — it sharpens them.
# CDM's fix (Ho et al., 2022) is **conditioning augmentation**: in training, corrupt the LR image by the forward
# process to a random level s,
#
# $$z_s = \sqrt{\bar\alpha_s}\,y + \sqrt{1 - \bar\alpha_s}\,\epsilon, \qquad s \sim \mathcal U\{0, \dots, 499\},\; z_0 = y \qquad \text{(Eq. 07.2)}$$
#
# and **tell the network s**, embedded exactly as t is (lesson 03) and added to t's embedding:
#
# $$e = \mathrm{MLP}_t\big(\mathrm{PE}(t)\big) + \mathrm{MLP}_s\big(\mathrm{PE}(s)\big) \qquad \text{(Eq. 07.3)}$$
#
# At test time s is fixed: the noise washes out the base's small artefacts, and the network, told how much was washed
# out, fills the detail back in from what it learned. Two stages were trained with the same network and recipe (2,000
# steps of batch 64, x₀-prediction, cosine T = 1,000): `digits_cascade_sr` with Eq. 07.2–07.3 and
# `digits_cascade_sr_noaug` on clean y only (no s embedding). Eq. 07.2 by hand against `course_lib`'s `augment_lr`
# (s is the paper's timestep: the process's code index s − 1):

# %%
sr_aug, sr_noaug = load("digits_cascade_sr", device), load("digits_cascade_sr_noaug", device)
process = sr_aug.process


def my_corrupt(y, s, noise):  # Eq. 07.2, per image; s = 0: y unchanged
    a = torch.where(s > 0, process.alpha_bars[(s - 1).clamp(min=0)], torch.ones_like(s, dtype=torch.float32)).view(-1, 1, 1, 1)
    return a.sqrt() * y + (1 - a).sqrt() * noise


y_base = base.method.generate(base.model, base.process, [7], (1, 8, 8), labels=[7], w=w_star, sampler="ddim", steps=20)
levels = torch.tensor(cascade.S_GRID, device=device)
ys, noise = y_base.expand(len(levels), -1, -1, -1), torch.randn(len(levels), 1, 8, 8, generator=g).to(device)
z = augment_lr(process, ys, levels, noise)
assert torch.allclose(z, my_corrupt(ys, levels, noise), atol=1e-6) and torch.equal(z[0], ys[0])
print(f"augment_lr = Eq. 07.2 by hand; √ᾱ_s at s = {list(cascade.S_GRID)}: "
      f"{[round(float(process.alpha_bars[max(s - 1, 0)].sqrt()) if s else 1.0, 3) for s in cascade.S_GRID]}")
assert sr_aug.model.told and not sr_noaug.model.told
fig = plotting.image_rows({"z_s (8 × 8)": list(z.cpu()), "bicubic ×4 (the SR input)": list(upsample(z, 4, "bicubic").clamp(-1, 1).cpu())},
                          col_titles=[f"s = {s}" for s in cascade.S_GRID], size=1.1, suptitle="one base sample of a 7, corrupted to level s")
plt.show()

# %% [markdown]
# The cascade stage by stage, for five asked-for digits at the chosen w: the base's 8 × 8 sample, what each SR stage
# is given, and what it makes of it — the augmented stage at its chosen s (below), the unaugmented one at s = 0, its
# natural use. Each image draws its noise from its own seeds (DDIM-50 per stage).

# %%
s_star = C["validation"]["chosen_s"]
show = [0, 2, 4, 7, 9]
seeds = [cascade.TEST_SEED + 1000 + k for k in range(len(show))]
start = time.perf_counter()
y5 = cascade.generate_base(base, show, seeds, w_star)
out_aug = cascade.upscale(sr_aug, y5, [s + cascade.SR_SEED_OFFSET for s in seeds], s_star)
out_noaug = cascade.upscale(sr_noaug, y5, [s + cascade.SR_SEED_OFFSET for s in seeds], 0)
seconds_live = time.perf_counter() - start
z5, _ = sr_aug.method.corrupt(process, y5, s_star, per_image_generators([s + cascade.SR_SEED_OFFSET for s in seeds]))  # restore's first draw
fig = plotting.image_rows({"base 8 × 8": list(y5.cpu()), f"z_s (s = {s_star})": list(upsample(z5, 4, "bicubic").clamp(-1, 1).cpu()),
                           "augmented": list(out_aug.cpu()), "unaugmented": list(out_noaug.cpu())},
                          col_titles=[f"asked {k}" for k in show], size=1.2, suptitle=f"the cascade stage by stage (w = {w_star:g})")
plt.show()
acc_live = {name: cascade.class_accuracy(x, show, classifier) for name, x in (("augmented", out_aug), ("unaugmented", out_noaug))}
print({k: f"{int(v.sum())} of 5 read as asked" for k, v in acc_live.items()})

# %% tags=["nbval-ignore-output"]
print(f"15 samples through the cascade here: {seconds_live:.1f} s on {device}")

# %% [markdown]
# ### The experiment: base-generated LR, s swept · 实验
#
# The cached experiment runs both stages on 200 **test** draws of the base (20 per class, at the chosen w) at every
# level of the grid s ∈ {0, 50, 100, 200, 400}: the augmented stage is told s, the unaugmented one is given the same
# corrupted input without being told. The level used for the comparison was chosen on the 100 validation draws
# (lowest patch SWD; `cascade.MARGINS`). Class accuracy is judged against the class asked for; the base stage's own
# accuracy — its samples upsampled by bicubic — is the ceiling of what an SR stage can keep.

# %%
def plot_sweep(sweep, base_accuracy, title, s_mark=None):
    """Class accuracy and patch SWD of both SR stages against the level s (one cached sweep)."""
    fig, ax = plt.subplots(1, 2, figsize=(9, 2.8))
    for role, style in (("augmented", "o-"), ("unaugmented", "s--")):
        ax[0].plot(cascade.S_GRID, [sweep[role][str(s)]["accuracy"] for s in cascade.S_GRID], style, label=role)
        ax[1].plot(cascade.S_GRID, [sweep[role][str(s)]["patch_swd"] for s in cascade.S_GRID], style, label=role)
    ax[0].axhline(base_accuracy, color="grey", ls=":", label="base stage (ceiling)")
    for a in ax:
        if s_mark is not None:
            a.axvline(s_mark, color="C3", ls=":", lw=1, label=f"s chosen on validation = {s_mark}")
        a.set_xlabel("augmentation level s at sampling")
    ax[0].set(ylabel="class accuracy", title=title)
    ax[1].set(ylabel="patch SWD ↓", title="realism of the 32 × 32 outputs")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    plt.show()


T_, X, K = C["test"], C["exploratory"], C["confirmatory"]
plot_sweep(T_["sweep"], T_["base"]["accuracy"], f"{T_['n']} test draws, base at w = {w_star:g}", s_star)
plot_sweep(X["sweep"], X["base"]["accuracy"], f"exploratory: base at w = {X['w']:g}")

# %% [markdown]
# Three arms, in the order they ran. The **main** comparison follows the rules fixed before measuring (w and s chosen on
# validation). The **exploratory** arm was added after the main result was seen, to test an explanation: the same test
# draws with a base model that errs — at w = 4 its samples are saturated, with over-thick strokes (section 1's realism
# plot). The **confirmatory** arm re-tests that explanation with its rule committed before it ran (`cascade.CONFIRM`):
# the base at w = 4 on *fresh* validation and test seeds, s the lowest patch SWD among the levels that keep 95 %
# validation accuracy. Each compares the augmented stage at its s with the unaugmented one at s = 0, paired, on 200
# test draws:

# %%
iv = plotting.verdict_text  # a cached verdict: estimate [95 %] and its word
cmp, kt = T_["comparison"], K["test"]


def arm(name, base_acc, aug, unaug, d_acc, d_swd):
    return [name, f"{base_acc:.3f}", f"{aug['accuracy']:.3f} / {unaug['accuracy']:.3f}",
            f"{aug['patch_swd']:.4f} / {unaug['patch_swd']:.4f}", iv(d_acc, 3), iv(d_swd, 4)]


sw_a, sw_u = T_["sweep"]["augmented"], T_["sweep"]["unaugmented"]
display(Markdown(plotting.markdown_table(
    ["arm (200 test draws)", "base accuracy (ceiling)", "accuracy aug. / unaug.", "patch SWD ↓ aug. / unaug.",
     "Δ accuracy (aug. − unaug.) [95 %]", "Δ patch SWD [95 %]"],
    [arm(f"main: w = {w_star:g}, s = {s_star}", T_["base"]["accuracy"], sw_a[str(s_star)], sw_u["0"],
         cmp["accuracy_difference"], cmp["patch_swd_difference"]),
     arm(f"exploratory: w = {X['w']:g}, s = {X['s']}", X["base"]["accuracy"], X["sweep"]["augmented"][str(X["s"])],
         X["sweep"]["unaugmented"]["0"], X["accuracy_difference"], X["patch_swd_difference"]),
     arm(f"confirmatory: w = {K['rule']['w']:g}, s = {kt['s']}, fresh seeds", kt["base"]["accuracy"], kt["augmented"],
         kt["unaugmented"], kt["accuracy_difference"], kt["patch_swd_difference"])])))
# the base's realism beside real digits through the same ↓4 ↑4 (the floor: 200 other test digits, values only)
as_base = lambda x: upsample(downsample(x, 4, "area"), 4, "bicubic").clamp(-1, 1)  # noqa: E731
real = DigitsSR("test", scale=4).tensors(list(range(0, 400, 2)))[0]
ref_base = as_base(DigitsSR("test", scale=4).tensors(list(REFERENCE_INDICES))[0])
real_swd = float(patch_distance(as_base(real), ref_base))
print(f"base stage at w = {w_star:g} (bicubic ×4) patch SWD {T_['base']['patch_swd']:.4f}; real digits through ↓4 ↑4: "
      f"{real_swd:.4f} (the same 200-image size, the same reference)")
val_sweep = C["validation"]["sweep"]["augmented"]
print("s on validation (main arm), patch SWD:", {s: round(val_sweep[s]["patch_swd"], 5) for s in ("100", "200")},
      "accuracy:", {s: val_sweep[s]["accuracy"] for s in ("100", "200")})
# what the text below states, checked on the cache
assert (cmp["accuracy_difference"]["verdict"], cmp["patch_swd_difference"]["verdict"]) == ("worse", "undecided")
assert not (cmp["augmented_beats_on_accuracy"] or cmp["augmented_beats_on_patch_swd"])
assert max(v["patch_swd"] for v in sw_a.values()) < 1.2 * min(v["patch_swd"] for v in sw_a.values())  # flat in s
assert sw_u["400"]["patch_swd"] > 3 * sw_u["0"]["patch_swd"] and sw_u["200"]["accuracy"] < sw_a["200"]["accuracy"]
assert T_["base"]["accuracy"] >= 0.99 and sw_a["0"]["accuracy"] < sw_u["0"]["accuracy"] + 0.01
assert abs(float((1 - process.alpha_bars[199]).sqrt()) - 0.32) < 0.005 and s_star == 200
assert T_["base"]["patch_swd"] <= real_swd
assert val_sweep["200"]["patch_swd"] < val_sweep["100"]["patch_swd"] < 1.01 * val_sweep["200"]["patch_swd"]  # a coin flip
assert (X["patch_swd_difference"]["verdict"], X["accuracy_difference"]["verdict"]) == ("better", "undecided")
assert X["sweep"]["unaugmented"]["400"]["patch_swd"] > 2 * X["sweep"]["augmented"]["400"]["patch_swd"]
assert (kt["patch_swd_difference"]["verdict"], kt["accuracy_difference"]["verdict"]) == ("better", "worse")

# %% [markdown]
# **Reading the three arms.** By the rules fixed before measuring, **conditioning augmentation did not win the main
# comparison**: undecided on realism (the patch-SWD interval straddles 0) and worse on class accuracy (the interval
# entirely below 0). It does what it is for — the sweeps show the unaugmented stage falling apart on a corrupted input
# (its patch SWD grows more than threefold by s = 400) while the augmented one, told s, stays flat — but at w = 0.5
# this base leaves it nothing to repair: its samples read as the asked-for digit every time and are as realistic as
# real digits through ↓4 ↑4 (printed above), so corruption only destroys information (at s = 200 noise of standard
# deviation √(1 − ᾱ_s) ≈ 0.32 on each of 64 pixels buries enough of a 4 for it to come back as a 9). The choice of s
# was a coin flip on validation (0.6 % apart in patch SWD, far inside the ≈ 6 % seed-to-seed spread lesson 06
# measured), and the rule, realism alone, was too narrow: it rewards a plausible digit of the wrong class. With a base
# that errs (w = 4) the picture turns: the augmented stage is **better** in realism, with no difference in accuracy
# shown — a hypothesis, since that arm came after the data — and the **confirmatory** arm confirms both halves on fresh
# seeds: better realism, and still a few points of class fidelity **worse**. On this toy conditioning augmentation
# buys robustness to a base model's mistakes and costs fidelity to what the base got right; whether it pays depends
# on how wrong the base is, and s is the knob. CDM and Imagen need it because their bases are far from perfect at
# 64 × 64 on ImageNet or text prompts, and their SR stages amplify what the base gets wrong.

# %% [markdown]
# ### Testing on true LR only · 只在真实低分辨率图上测试
#
# The classic mistake is to judge an SR stage on true LR images — the harness's protocol for every SR model so far,
# and the right one for a stand-alone SR model, but not for a stage that will only ever see a base model's output.
# The landscape rows of both stages (500 true-LR test digits, DDIM-50, the lesson-05 measures):

# %%
table = load_table()
cascade_rows = [r for r in table["rows"] if r["task"] == "digits_x4" and r["model"] in ("digits_cascade_sr", "digits_cascade_sr_noaug", "digits_sr3_concat")
                and r["label"].startswith(("cascade", "SR3 concat DDIM-50"))]
display(Markdown(plotting.markdown_table(["row (true LR)", "PSNR", "agreement", "patch SWD ↓", "NFE"],
                                         [[r["label"], f"{r['psnr']:.2f}", f"{r['agreement']:.3f}", f"{r['patch_swd']:.4f}", r["nfe"]] for r in cascade_rows])))
true_lr = {r["label"]: r for r in cascade_rows if r["label"].startswith("cascade")}
aug_row = true_lr[f"cascade SR stage, augmented, s = {s_star} (DDIM-50)"]
aug0_row, noaug_row = true_lr["cascade SR stage, augmented, s = 0 (DDIM-50)"], true_lr["cascade SR stage, no augmentation (DDIM-50)"]
print(f"on true LR the unaugmented stage leads by {noaug_row['psnr'] - aug0_row['psnr']:.1f} dB over the augmented one at s = 0 "
      f"and by {noaug_row['psnr'] - aug_row['psnr']:.1f} dB at s = {s_star}")
assert noaug_row["psnr"] - aug0_row["psnr"] > 2 and aug_row["psnr"] < aug0_row["psnr"]

# %% [markdown]
# On true LR the unaugmented stage is far more faithful (PSNR and agreement with the HR digit's class): the
# augmented stage, which learned that its input may be noise, follows y less closely even at s = 0 — the price of its
# robustness. Judged here alone, augmentation looks like a mistake at every w. The base-generated test above is the
# one that can show where it pays (the exploratory arm at w = 4); true LR cannot, because the base's errors never
# appear in it.

# %% [markdown]
# ### Why cascade at all? One stage at equal training compute · 单阶段对比
#
# The cascade's two stages cost about 650 + 920 CPU-seconds of training (each model's per-step cost measured side by side
# on one thread, times its steps: `cascade.step_costs`). `digits32_cfg` spends the same on one class-conditional model
# that generates 32 × 32 digits directly (the SR stage's U-Net without the LR input, 3,600 steps of batch 64), its w
# chosen by the same rule on the same validation draws. On the same 200 test labels, against the cascade of the main
# comparison:

# %%
S1 = C["single"]
rows = [["cascade (base + augmented SR)", f"{T_['sweep']['augmented'][str(s_star)]['accuracy']:.3f}",
         f"{T_['sweep']['augmented'][str(s_star)]['patch_swd']:.4f}", f"w = {w_star:g}, s = {s_star}"],
        ["single stage 32 × 32", f"{S1['accuracy']:.3f}", f"{S1['patch_swd']:.4f}", f"w = {S1['chosen_w']:g}"],
        ["cascade − single [95 %, paired]", iv(S1["accuracy_difference_cascade_minus_single"], 3),
         iv(S1["patch_swd_difference_cascade_minus_single"], 4), ""]]
display(Markdown(plotting.markdown_table(["200 test draws", "class accuracy", "patch SWD ↓", "settings"], rows)))
cp = C["compute"]
print(f"training CPU-seconds: base {cp['base']['seconds']:.0f} + SR stage {cp['augmented']['seconds']:.0f} = {cp['cascade_seconds']:.0f}; "
      f"single stage {cp['single']['seconds']:.0f} ({cp['single_over_cascade']:.2f}× the cascade)")
print("single stage, validation accuracy by w:", {k: v["accuracy"] for k, v in S1["validation"].items()})
# what the text below states, checked on the cache
assert 0.9 < cp["single_over_cascade"] < 1.1 and max(v["accuracy"] for v in S1["validation"].values()) < 0.95
assert S1["validation"]["0.5"]["patch_swd"] > C["validation"]["sweep"]["augmented"][str(s_star)]["patch_swd"]
assert S1["validation"]["4.0"]["patch_swd"] > 1.5 * S1["validation"]["0.5"]["patch_swd"]
assert S1["patch_swd_difference_cascade_minus_single"]["verdict"] == "better"
assert S1["accuracy_difference_cascade_minus_single"]["verdict"] == "undecided"

# %% [markdown]
# **Why cascade:** at the same training compute the single 32 × 32 model never reached the 95 % accuracy rule at any w
# on validation (so the rule took the largest, w = 4), and at w = 4 its samples are far less realistic than the
# cascade's — the paired interval of the patch-SWD difference lies below 0 — while no difference in class accuracy is shown
# (the cascade here is the augmented stage at s = 200, which loses some classes; its unaugmented twin reads 100 %).
# Part of that gap is the rule's: w = 4 is where guidance alone inflates patch SWD. On validation the single model's
# patch SWD is 0.0076 at w = 0.5 and 0.0119 at w = 4, against the cascade's 0.0066 — behind at either w, by much
# less at the cascade's own w (values, one validation set each).
# A small model that only has to get an 8 × 8 digit right, and another that only has to add detail to it, learn their
# jobs faster than one model that must do both at once.

# %% [markdown]
# ## 3. Latent space: an autoencoder · 潜在空间与自编码器
#
# LDM moves the diffusion into the latent space of an **autoencoder** (自编码器) trained once, beforehand. With
# downsampling factor f = 4, a 32 × 32 digit becomes an 8 × 8 × 4 latent: 256 numbers instead of 1,024. The encoder
# gives a diagonal Gaussian
#
# $$q_\phi(z \mid x) = \mathcal N\big(\mu_\phi(x),\, \operatorname{diag}\sigma^2_\phi(x)\big) \qquad \text{(Eq. 07.4)}$$
#
# and training minimises the reconstruction error plus a very small KL term that keeps the latent space smooth (LDM's
# weight is β = 10⁻⁶ per summed pixel error):
#
# $$\mathcal L_{\mathrm{AE}} = \lVert x - D(z) \rVert^2 + \beta\, \mathrm{KL}\big(q_\phi(z \mid x)\,\Vert\,\mathcal N(0, I)\big), \quad z = \mu + \sigma\,\epsilon \qquad \text{(Eq. 07.5)}$$
#
# The KL of two Gaussians has a closed form, ½ Σ (μ² + σ² − 1 − log σ²). By hand against `course_lib`'s, then a
# few seconds of live training of the course's autoencoder from scratch (the loss falls; the shipped one trained for
# 4,000 steps):

# %%
def my_kl(mean, logvar):  # Eq. 07.5's KL term, per image
    return 0.5 * (mean**2 + logvar.exp() - 1 - logvar).flatten(1).sum(1)


mu, lv = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)
assert torch.allclose(my_kl(mu, lv), kl_to_standard_normal(mu, lv))
# the KL by Monte Carlo, log q − log p averaged over draws from q: the closed form is its limit
zs = mu[:1] + (0.5 * lv[:1]).exp() * torch.randn(20000, 4, 8, 8, generator=g)
mc = (-0.5 * ((zs - mu[:1]) ** 2 / lv[:1].exp() + lv[:1]) + 0.5 * zs**2).flatten(1).sum(1).mean()
assert abs(float(mc) - float(my_kl(mu[:1], lv[:1]))) < 0.02 * float(my_kl(mu[:1], lv[:1]))
print(f"KL closed form {float(my_kl(mu[:1], lv[:1])):.2f} = kl_to_standard_normal; Monte Carlo {float(mc):.2f}")

# %% tags=["nbval-ignore-output"]
ae_config = json.loads((data_dir() / "checkpoints" / "digits_autoencoder.json").read_text())
live = Trainer({**ae_config, "name": "live_autoencoder", "steps": 100_000, "log_every": 10, "warmup_steps": 20}, device)
budget = live_budget(seconds=10)  # 10 s of wall time (under `make test`: a fixed number of steps)
live.train(**budget)
fig = plotting.loss_curve(live.history, "Eq. 07.5 loss", f"{describe_budget(budget)} of live training ({live.step} steps)")
plt.show()
assert live.history[-1][1] < 0.5 * live.history[0][1], live.history
print(f"the autoencoder, {sum(p.numel() for p in live.model.parameters()):,} parameters: loss {live.history[0][1]:.4f} -> {live.history[-1][1]:.4f}")

# %% [markdown]
# The shipped autoencoder's reconstructions D(μ(x)) of the 100 curve digits: what the autoencoder loses on the latents
# its encoder produces. Call it a reference point, not a bound — another latent can decode closer to x than μ(x)
# does — but a latent SR model trained to reproduce μ(x) inherits it.

# %%
ae = load("digits_autoencoder", device).model
hr_c, y_c = DigitsSR("test", scale=4).tensors(list(CURVE_INDICES))
hr_c, y_c = hr_c.to(device), y_c.to(device)
with torch.no_grad():
    rec = ae.reconstruct(hr_c)
    mu_c = ae.encode(hr_c)[0]
ceiling_psnr = psnr(rec, hr_c)
print(f"reconstruction PSNR on the 100 curve digits: {ceiling_psnr.mean():.2f} dB (worst {ceiling_psnr.min():.1f}); "
      f"latent shape {tuple(mu_c.shape[1:])}; the latents' std {mu_c.std():.3f}")
assert abs(float(ceiling_psnr.mean()) - L["ceiling"]["psnr"]) < 0.05
fig = plotting.image_rows({"HR": list(hr_c[:8].cpu()), "D(μ(x))": list(rec[:8].cpu()),
                           "latent, channel 0": [((m[0] - m[0].min()) / (m[0].max() - m[0].min() + 1e-8) * 2 - 1)[None] for m in mu_c[:8].cpu()]},
                          size=1.1, suptitle="the autoencoder: 32 × 32 → 8 × 8 × 4 → 32 × 32")
plt.show()

# %% [markdown]
# **Scale the latents.** Nothing in Eq. 07.5 makes the latents' standard deviation 1 (β is tiny), but the noise
# schedule assumes data of about unit scale: with latents of std σ_z, the signal-to-noise ratio at every t is
# σ_z² ᾱ_t / (1 − ᾱ_t) instead of ᾱ_t / (1 − ᾱ_t), the whole schedule shifted. LDM divides by the standard deviation
# of the training latents (its `scale_factor`; Stable Diffusion 1.x ships 0.18215, SDXL 0.13025), computed from
# *samples* z ~ q(z | x) of its first batch; the toy uses the posterior means μ over all training digits, which
# differ from samples by the posterior's small σ:
#
# $$z_0 = \lambda\,\mu_\phi(x), \qquad \lambda = 1 / \operatorname{std}\big(\mu_\phi(x_{\text{train}})\big) \qquad \text{(Eq. 07.6)}$$
#
# By hand on the 4,000 training digits, against the λ the shipped latent SR model stored:

# %%
lsr = load("digits_latent_sr", device)
x_train = load_training_set("digits")["x"]
with torch.no_grad():
    mus = torch.cat([ae.encode(x_train[i : i + 500].to(device))[0] for i in range(0, len(x_train), 500)])
my_lambda = 1 / mus.std()
assert abs(float(my_lambda) - float(lsr.model.latent_scale)) < 1e-3 * float(my_lambda)
print(f"λ = 1 / {mus.std():.4f} = {my_lambda:.3f} (stored: {float(lsr.model.latent_scale):.3f}); scaled latents' std "
      f"{(my_lambda * mus).std():.3f}")
snr = process.alpha_bars / (1 - process.alpha_bars)
sigma_z = float(mus.std())
fig, ax = plt.subplots(figsize=(5, 2.6))
ax.semilogy(snr.cpu(), label="scaled latents (std 1)")
ax.semilogy((sigma_z**2 * snr).cpu(), label=f"unscaled latents (std {sigma_z:.2f})")
ax.set(xlabel="t", ylabel="SNR", title="the schedule the latent diffusion actually sees")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
half = int((snr < 1).nonzero()[0])
half_unscaled = int((sigma_z**2 * snr < 1).nonzero()[0])
print(f"SNR falls below 1 at t = {half} with scaled latents, at t = {half_unscaled} without")
assert 0.4 < sigma_z < 0.8 and half_unscaled < half

# %% [markdown]
# Here the shift is mild: the latents' std is about 0.6, so without λ the SNR is about a third of what the schedule
# intends. Stable Diffusion's autoencoder gives latents of std about 1 / 0.18215 ≈ 5.5 — an SNR thirty times too
# *high* without its scale factor, so most timesteps would be nearly noise-free and sampling would start from an x_T
# far narrower than the latents. Section 4 shows the unscaled curve of our toy beside the scaled one: at std 0.6 the
# unscaled run is *ahead* at all ten snapshots (+0.2 to +0.8 dB; one run per arm, so on this run, with no estimate of
# the run-to-run noise), and the SNR = 1 crossing moves from t = 496 to 333 — a shift, not a schedule of nearly pure
# noise. The mistake bites when the std is far from 1, as in Stable Diffusion's autoencoder.

# %% [markdown]
# ## 4. Latent SR against pixel-space SR3: the "10×" · 潜在空间超分与"十倍"
#
# **Latent SR**: diffusion on z₀ = λ μ(x_HR), the 8 × 8 LR image concatenated to z_t (×4 SR with f = 4 makes y exactly
# latent-sized — LDM's own ×4 SR model does this, with a VQ autoencoder instead of a KL one: its decoder quantises the
# latent first, which also bounds its scale), then x̂ = D(ẑ₀ / λ). The U-Net is the pixel model's size (669 k against
# 621 k parameters). Live, on the 16 live digits (DDIM-50):

# %%
hr16, y16 = DigitsSR("test", scale=4).tensors(list(LIVE_INDICES))
hr16, y16 = hr16.to(device), y16.to(device)
start = time.perf_counter()
sr16 = lsr.restore(y16, seeds=image_seeds(LIVE_INDICES), sampler="ddim", steps=50)
latent_seconds = time.perf_counter() - start
print(f"latent SR on 16 digits: {psnr(sr16, hr16).mean():.2f} dB, NFE {lsr.method.last_nfe} (+ one decoder pass)")
fig = plotting.image_rows({"y (8 × 8)": list(y16[:8].cpu()), "latent SR": list(sr16[:8].cpu()), "HR": list(hr16[:8].cpu())}, size=1.1)
plt.show()

# %% tags=["nbval-ignore-output"]
print(f"{latent_seconds:.2f} s for 16 digits here")

# %% [markdown]
# The fair comparison is **quality reached per training CPU-minute**. `python -m course_lib.latents` trained the latent
# model from scratch on one thread and evaluated it every 400 steps on lesson 05's 100 curve digits (DDIM-50, each
# digit from its harness seed) — the protocol of lesson 09's curves, so the pixel-space curve is lesson 09's
# `sr3_style` (the shipped SR3-style recipe, 1,000 steps). Equal quality, fixed before measuring: the first latent
# snapshot whose PSNR reaches the pixel curve's last and whose patch SWD is no worse.

# %%
px, lt = L["pixel"]["points"], L["latent"]["points"]
fig, ax = plt.subplots(1, 2, figsize=(9, 2.8))
for name, pts, style in (("pixel SR3-style", px, "s-"), ("latent SR", lt, "o-")):
    m = [p["cpu_seconds"] / 60 for p in pts]
    ax[0].plot(m, [p["psnr"]["mean"] for p in pts], style, label=name)
    ax[1].plot(m, [p["patch_swd"] for p in pts], style, label=name)
if "unscaled" in L:
    uu = L["unscaled"]["points"]
    ax[0].plot([p["cpu_seconds"] / 60 for p in uu], [p["psnr"]["mean"] for p in uu], "^:", label="latent, unscaled (λ = 1)")
    ax[1].plot([p["cpu_seconds"] / 60 for p in uu], [p["patch_swd"] for p in uu], "^:", label="latent, unscaled (λ = 1)")
ax[0].axhline(L["ceiling"]["psnr"], color="grey", ls=":", label="autoencoder ceiling")
ax[1].axhline(L["ceiling"]["patch_swd"], color="grey", ls=":", label="autoencoder's reconstructions")
ax[1].axhline(L["ceiling"]["hr_patch_swd"], color="black", ls="-.", lw=0.8, label="real digits (the floor)")
ax[1].set_ylim(0.0055, 0.0125)
ax[1].legend(fontsize=7)
ax[0].set(xlabel="training CPU-minutes", ylabel="PSNR (dB)", title="100 curve digits, DDIM-50")
ax[1].set(xlabel="training CPU-minutes", ylabel="patch SWD ↓", title="realism")
ax[0].legend(fontsize=7)
fig.tight_layout()
plt.show()

# %%
eq, tp = L["equal_quality"], L["throughput"]
rows = [["training images / s (one thread)", f"{tp['pixel_training_images_per_second']:.0f}", f"{tp['latent_training_images_per_second']:.0f}",
         f"{tp['latent_training_images_per_second'] / tp['pixel_training_images_per_second']:.1f}×"],
        ["sampling ms / image (DDIM-50, one thread)", f"{tp['pixel_sampling_ms_per_image']:.1f}", f"{tp['latent_sampling_ms_per_image']:.1f}",
         f"{tp['pixel_sampling_ms_per_image'] / tp['latent_sampling_ms_per_image']:.1f}×"],
        ["CPU-minutes to the pixel curve's last quality", f"{eq['pixel_cpu_seconds'] / 60:.1f}",
         "not reached" if eq["latent_cpu_seconds"] is None else f"{eq['latent_cpu_seconds'] / 60:.1f}",
         "—" if eq["ratio_without_autoencoder"] is None else f"{eq['ratio_without_autoencoder']:.1f}×"],
        ["… plus the autoencoder's training (CPU-minutes)", "—",
         f"+ {tp['autoencoder_cpu_seconds'] / 60:.1f}" if eq["latent_cpu_seconds"] is None else f"{(eq['latent_cpu_seconds'] + tp['autoencoder_cpu_seconds']) / 60:.1f}",
         "—" if eq["ratio_with_autoencoder"] is None else f"{eq['ratio_with_autoencoder']:.1f}×"]]
display(Markdown(plotting.markdown_table(["cost", "pixel SR3-style", "latent SR", "latent saves"], rows)))
print(f"pixel curve's last snapshot: step {eq['pixel_step']}, {eq['pixel_psnr']:.2f} dB, patch SWD {eq['pixel_patch_swd']:.4f}; "
      f"autoencoder ceiling {L['ceiling']['psnr']:.2f} dB, its reconstructions' patch SWD {L['ceiling']['patch_swd']:.4f} "
      f"(real digits: {L['ceiling']['hr_patch_swd']:.4f})")
step_min = {q["step"]: q["cpu_seconds"] / 60 for q in L["latent"]["points"]}


def at(step, ratio):
    return "—" if step is None else f"{step} ({step_min[step]:.1f} min, {ratio:.1f}×)"


rows = [[p["pixel_step"], f"{p['psnr']:.2f}", f"{p['pixel_cpu_seconds'] / 60:.1f}", at(p["latent_step_not_worse"], p["ratio_not_worse"]),
         at(p["latent_step_better"], p["ratio_better"])] for p in L["psnr_only"]]
display(Markdown(plotting.markdown_table(["pixel step", "its PSNR", "pixel CPU-min", "first latent step not shown worse (CPU-min, ratio)",
                                         "first latent step shown better (CPU-min, ratio)"], rows)))
ratios = [p["ratio_not_worse"] for p in L["psnr_only"] if p["ratio_not_worse"] is not None]
ratios_better = [p["ratio_better"] for p in L["psnr_only"] if p["ratio_better"] is not None]
# what the text below states, checked on the cache
assert eq["latent_step"] is None and L["ceiling"]["patch_swd"] > eq["pixel_patch_swd"]
assert max(ratios) < 3.5 and max(ratios_better) < 2 and tp["latent_training_images_per_second"] / tp["pixel_training_images_per_second"] < 10
assert tp["autoencoder_cpu_seconds"] > 60 * 5

# %% [markdown]
# **The answer to the notes' "10×": no — not at this scale, and not at equal quality.** Three readings of the same runs:
#
# * **Per training step**, the latent model is several times cheaper (the table's images/s: the U-Net works on 8 × 8
#   instead of 32 × 32, plus one pass of the small frozen encoder), and it samples several times faster — but not 10×.
# * **Per unit of quality**, the rule fixed before measuring asked for the pixel curve's last PSNR *and* realism (in
#   point estimates). The latent model passed the PSNR within a few CPU-minutes, but its patch SWD stays above the
#   pixel model's at every snapshot (values: the curve runs kept no images, so this comparison has no interval) — and
#   it cannot come down: the autoencoder's own reconstructions have a higher patch SWD than the pixel model's samples. An MSE-trained decoder smooths the fine
#   stroke texture, and no latent can bring it back. That is the ceiling real LDMs lift by training their autoencoders
#   with a perceptual (LPIPS) and an adversarial loss (VQ-GAN's recipe), at the cost of PSNR.
# * **Counting PSNR alone** (exploratory: paired t intervals over the same 100 digits, no margin fixed), the latent
#   model is no longer shown worse than each pixel snapshot after 1.2–3× less CPU time, and shown better after at
#   most 1.5× less (or, early on, more) — before the autoencoder's own training, which costs more than either SR model
#   here and only pays off when many models share it (as Stable Diffusion's does).
#
# The notes' "10×" (a figure we could not find stated as such in the LDM paper, which reports speed-ups per setting)
# is about 256² and larger images, where f = 4–8 removes 16–64× of the pixels and the
# denoiser's cost grows faster than linearly with them; on 32 × 32 digits f = 4 removes 16× of the pixels but the
# networks' fixed costs dominate.

# %% [markdown]
# ## 5. In the landscape table · 全景表
#
# The lesson's rows of the one evaluation harness (500 true-LR test digits, per-image seeds, the lesson-05 measures;
# `python -m course_lib.harness`), beside the SR3-style model they are measured against. Training minutes are the
# recorded wall-clock of each shipped model and of every frozen part it borrows — latent SR's include its
# autoencoder's 26 (on one thread of this kind of CPU; the SR stages shared the machine with other training runs, so
# theirs overstate the CPU time). This lesson's rows were measured on one thread (each row's
# `hardware` says so), the rest of the table on two: compare milliseconds within the lesson's rows, or with the costs
# of section 4, which were measured side by side.

# %%
mine = [r for r in table["rows"] if r["task"] == "digits_x4" and (r["label"].startswith(("cascade", "latent SR")) or r["label"] == "SR3 concat DDIM-50")]
display(Markdown(plotting.markdown_table(["row", "PSNR", "SSIM", "agreement", "patch SWD ↓", "NFE", "ms/image", "parameters", "training min"],
                                         [[r["label"], f"{r['psnr']:.2f}", f"{r['ssim']:.3f}", f"{r['agreement']:.3f}", f"{r['patch_swd']:.4f}", r["nfe"],
                                           f"{r['ms_per_image']:.1f}", f"{r['parameters']:,}", "—" if r["training_minutes"] is None else f"{r['training_minutes']:.0f}"]
                                          for r in mine])))

# %% [markdown]
# ## 6. The cascade explorer · 级联探索器
#
# Ask for a digit, set the guidance weight w and the level s, pick the SR stage, and watch each stage (20 DDIM steps
# per stage, about half a second). Try w = 0 against w = 6, and s = 0 against s = 400, on the two stages: where does
# the unaugmented stage go wrong, and what does a large s cost the augmented one?

# %%
from course_lib.teaching.widgets.cascade import CascadeExplorer, cascade_view, render_cascade  # noqa: E402

explorer = CascadeExplorer(base, {"augmented": sr_aug, "unaugmented": sr_noaug}, classifier, label=7, w=w_star, aug_level=s_star, seed=3)
explorer

# %% tags=["nbval-ignore-output"]
# a static copy of the explorer's first view (what the widget shows above, as a picture)
from IPython.display import Image  # noqa: E402

Image(render_cascade(explorer.view))

# %% [markdown]
# ## 7. What the notes say, and what we measured · 笔记中的说法与实测

# %%
ratio = eq["ratio_without_autoencoder"]
claims = [
    ["LDM reduces computation \"about 10×\"",
     f"not at this scale: {tp['latent_training_images_per_second'] / tp['pixel_training_images_per_second']:.1f}× the training images/s and "
     f"{tp['pixel_sampling_ms_per_image'] / tp['latent_sampling_ms_per_image']:.1f}× faster sampling, but at most {max(ratios_better):.1f}× sooner "
     f"to a PSNR shown better than the pixel model's, its patch SWD above the pixel model's at every snapshot (the autoencoder caps it), "
     f"and the autoencoder's {tp['autoencoder_cpu_seconds'] / 60:.0f} CPU-minutes on top", "section 4"],
    ["SR3 → CDM → LDM is one line", "CDM cascades SR3-style stages; LDM builds on autoencoders (VQ-GAN), not on CDM", "lesson 00"],
    ["a cascade is base model + SR model", f"+ conditioning augmentation, which trades fidelity for robustness: with a good base "
     f"(w = {w_star:g}) it cost class accuracy ({T_['sweep']['augmented'][str(s_star)]['accuracy']:.2f} vs "
     f"{T_['sweep']['unaugmented']['0']['accuracy']:.2f}); with a poor one (w = {X['w']:g}) it gave more realistic "
     f"outputs (patch SWD {kt['augmented']['patch_swd']:.4f} vs {kt['unaugmented']['patch_swd']:.4f} in the confirmatory test) at "
     f"{-100 * kt['accuracy_difference']['interval']['estimate']:.1f} points of accuracy", "section 2"],
    ["CDM uses guidance", "CDM is class-conditional without guidance; cascade + classifier-free guidance + noise augmentation is Imagen's recipe", "history.py"],
]
display(Markdown(plotting.markdown_table(["the notes (or a common summary)", "what the papers and our measurements say", "where"], claims)))

# %% [markdown]
# ## Recap · 小结
#
# * **Classifier-free guidance** (Eq. 07.1) trains one network with and without the label and extrapolates away from
#   the unconditional prediction; diffusers' `guidance_scale` is 1 + w; each guided step costs 2 NFE.
# * A **cascade** splits generation across resolutions; at equal training compute it beat one 32 × 32 model on
#   realism here. **Conditioning augmentation** — the LR input corrupted to level s (Eq. 07.2), s embedded like t
#   (Eq. 07.3) — makes the SR stage robust to a corrupted input and costs it fidelity to a clean one: with this good
#   8 × 8 base (w = 0.5) it lost class accuracy and did not win by the rules fixed beforehand; with a saturated base
#   (w = 4: found in an exploratory arm, confirmed on fresh seeds) it gave more realistic outputs at a small cost in
#   class accuracy. Judge a stage on base-generated LR, with s and w chosen
#   on validation draws — on true LR the unaugmented stage always looks better.
# * An **autoencoder** (Eq. 07.4–07.5) gives the latent space; its reconstructions cap every latent model, in PSNR and
#   in realism; scale its latents to unit variance (Eq. 07.6) or the schedule's SNR shifts (mildly here, std 0.6).
# * **Latent SR** trains about 5× more images per second and samples 6–7× faster than pixel SR3 of the same size, but
#   reached the pixel model's PSNR only about 2× sooner and never its realism: not the notes' "10×" at this scale.
#
# ## Exercises · 练习
#
# **Exercise 07.1 — guidance.** Write `my_guided_eps(eps_c, eps_u, w)`: Eq. 07.1 with the paper's weight.

# %%
from course_lib.teaching.exercises.lesson07 import check_corrupt_lr_levels, check_evaluation_plan, check_guided_eps, check_latent_scale  # noqa: E402


# %%
def my_guided_eps(eps_c, eps_u, w):
    """eps_c, eps_u (B, C, H, W): the conditional and unconditional predictions -> the guided prediction."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_guided_eps(my_guided_eps)


# %% jupyter={"source_hidden": true} tags=["solution"]
def my_guided_eps(eps_c, eps_u, w):
    """eps_c, eps_u (B, C, H, W): the conditional and unconditional predictions -> the guided prediction."""
    return (1 + w) * eps_c - w * eps_u  # Eq. 07.1: away from the unconditional prediction


check_guided_eps(my_guided_eps)


# %% [markdown]
# **Exercise 07.2 — conditioning augmentation.** Write `my_corrupt_lr(y, s, alpha_bars, noise)`: corrupt each LR
# image to its level s (Eq. 07.2) from the schedule's 0-based table `alpha_bars` (T,) — level s is the paper's t = s,
# and s = 0 means no corruption — and return what the SR stage's network needs.

# %%
def my_corrupt_lr(y, s, alpha_bars, noise):
    """y, noise (B, C, h, w); s (B,) integer levels; alpha_bars (T,) -> what the SR network is given."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_corrupt_lr_levels(my_corrupt_lr)


# %% jupyter={"source_hidden": true} tags=["solution"]
def my_corrupt_lr(y, s, alpha_bars, noise):
    """y, noise (B, C, h, w); s (B,) integer levels; alpha_bars (T,) -> what the SR network is given."""
    a = alpha_bars[(s - 1).clamp(min=0)].view(-1, 1, 1, 1)  # level s = index s − 1 of the 0-based table
    z = a.sqrt() * y + (1 - a).sqrt() * noise  # Eq. 07.2
    return torch.where((s > 0).view(-1, 1, 1, 1), z, y), s  # s = 0: y itself; and the level: the network is told s


check_corrupt_lr_levels(my_corrupt_lr)


# %% [markdown]
# **Exercise 07.3 — scale the latents.** Write `my_scale_latents(z)`: the training latents `z` (N, c, h, w) scaled as
# Eq. 07.6 says.

# %%
def my_scale_latents(z):
    """z (N, c, h, w) -> the scaled latents."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_latent_scale(my_scale_latents)


# %% jupyter={"source_hidden": true} tags=["solution"]
def my_scale_latents(z):
    """z (N, c, h, w) -> the scaled latents."""
    return z / z.std()  # one λ = 1 / std for the whole set (Eq. 07.6)


check_latent_scale(my_scale_latents)


# %% [markdown]
# **Exercise 07.4 — what to test a cascade on, and against what.** Write `my_evaluation_plan(true_lr, base_lr, hr)`:
# return a dict `{name: (LR images, HR target or None)}` — each input a cascade's SR stage should be evaluated on,
# with the HR images its outputs can be compared with (None where there are none).

# %%
def my_evaluation_plan(true_lr, base_lr, hr):
    """true_lr: area-downsampled test digits; base_lr: the base model's samples; hr: the test digits -> a dict."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_evaluation_plan(my_evaluation_plan)


# %% jupyter={"source_hidden": true} tags=["solution"]
def my_evaluation_plan(true_lr, base_lr, hr):
    """true_lr: area-downsampled test digits; base_lr: the base model's samples; hr: the test digits -> a dict."""
    return {
        "base-generated (what the stage meets)": (base_lr, None),  # drawn from noise: no HR; realism and class accuracy
        "true (for the gap)": (true_lr, hr),  # PSNR and consistency are defined here
    }


check_evaluation_plan(my_evaluation_plan)

# %% [markdown]
# **Exercise 07.5 (open).** In the explorer, set s = 0 and raise w from 0 to 8 on the unaugmented stage: at which w do
# its outputs start to look wrong, and does the augmented stage at s = 200 keep up? Then explain, with section 3's SNR
# plot, how many more of its timesteps the latent model with unscaled latents spends below SNR 1 — and why, at a
# latent std of 0.6, that did not hurt it here.

# %%
from course_lib.teaching import exercises  # noqa: E402

exercises.summary("07")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# * J. Ho, C. Saharia, W. Chan, D. J. Fleet, M. Norouzi, T. Salimans, *Cascaded Diffusion Models for High Fidelity
#   Image Generation*, JMLR 2022 — conditioning augmentation (Eq. 07.2–07.3); no official code.
# * J. Ho, T. Salimans, *Classifier-Free Diffusion Guidance*, NeurIPS 2021 Workshop on Deep Generative Models and
#   Downstream Applications — Eq. 07.1.
# * C. Saharia et al., *Photorealistic Text-to-Image Diffusion Models with Deep Language Understanding* (Imagen),
#   NeurIPS 2022 — the cascade with guidance and noise conditioning augmentation, as a text-to-image system; read
#   `lucidrains/imagen-pytorch` (`p_losses`, `lowres_aug_times`).
# * R. Rombach, A. Blattmann, D. Lorenz, P. Esser, B. Ommer, *High-Resolution Image Synthesis with Latent Diffusion
#   Models*, CVPR 2022 — Eq. 07.4–07.6; code `CompVis/latent-diffusion` (`models/ldm/bsr_sr/config.yaml`).
# * P. Esser, R. Rombach, B. Ommer, *Taming Transformers for High-Resolution Image Synthesis* (VQ-GAN), CVPR 2021 —
#   the perceptual and adversarial losses LDM's autoencoders are trained with (sharper decodings than MSE alone).
# * P. Dhariwal, A. Nichol, *Diffusion Models Beat GANs on Image Synthesis*, NeurIPS 2021 — classifier guidance, which
#   classifier-free guidance replaced.
