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
# # 12 — Beyond one image: video SR and editing · 视频超分与语义编辑
#
# The notes close on research directions: faster sampling (lessons 06 and 11), **multimodal control** (多模态控制) —
# text guidance, semantic editing — and **3-D SR** (三维超分) — video, CT/MRI. This lesson builds two of them at toy
# scale and measures them with the course's one protocol: **video SR** (视频超分), where an image model run frame by frame
# **flickers** (闪烁), and **semantic editing** (语义编辑), where the same noising-and-denoising that restores an image
# can turn it into another.
#
# **Objectives.** After this lesson you can
# 1. make moving-digit clips whose motion is known exactly, warp a frame by that motion (Eq. 12.1) and measure
#    **temporal consistency** (时间一致性) by the **warping error** (Eq. 12.2) — by hand, then with `course_lib`;
# 2. see why an image SR model flickers frame by frame, and what fixing its noise does — the same noise for every
#    frame, or noise that moves with the content;
# 3. restart each frame from the previous output, noised to t* (SDEdit's start, Eq. 12.3), and condition a model on the
#    warped previous frame (Eq. 12.4) — and measure **exposure bias** (暴露偏差): trained on the true previous frame,
#    tested on its own;
# 4. estimate the motion from the LR frames by phase correlation and say what changes when it is not given;
# 5. edit a digit into another class with **SDEdit** and with **DDIM inversion** (反演), guided by
#    classifier-free guidance (lesson 07) or by a noisy classifier (**classifier guidance**, 分类器引导, Eq. 12.5),
#    and read the trade-off between faithfulness and success;
# 6. say what a text encoder adds to class guidance, and what changes for volumes (CT/MRI).
#
# **Prerequisites.** Lesson 01 (q(x_t | x₀), ᾱ), lesson 04 (the SR3-style model, U(y), the residual target, tiling),
# lesson 05 (agreement, patch SWD, the verdict rule), lesson 06 (DDIM, DDIM inversion), lesson 07 (classifier-free
# guidance), lesson 09 (training budgets).
#
# **Run time.** Under a minute on a 2-core CPU (README's syllabus lists the measured time): one clip is restored live
# three ways and a few digits are edited live. The measured rows — 40 test clips of 8 frames, eleven ways, and 100
# edits per arm at seven restart times — are cached (`data/cache/video.json` by `make video`, whose README line gives
# its time).

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
from IPython.display import Image, Markdown, display

from course_lib import video
from course_lib.datasets import DigitsSR
from course_lib.device import get_device
from course_lib.engine.pretrained import load
from course_lib.files import data_dir
from course_lib.operators import degrade, upsample
from course_lib.teaching import plotting

device = get_device()
torch.manual_seed(0)
print(f"running on {device}")

# %% [markdown]
# ## 1. Moving digits · 运动数字
#
# Moving MNIST (Srivastava et al., ICML 2015) made video from still digits by sliding them across a larger canvas.
# We do the same with the course's digits: one 32 × 32 digit on a 48 × 48 black canvas, moving by a constant integer
# velocity of at most 2 pixels per frame on each axis, for 8 frames — so it never leaves the canvas. Each LR frame is
# the course's ×4 degradation of its HR frame (Eq. 00.1): 12 × 12. By hand, for one digit:

# %%
digits = DigitsSR("test", 4)
digit, label = digits[7][0], int(digits.labels[7])
start, velocity, F = (1, 12), (2, -1), 8
positions = torch.tensor([[start[0] + f * velocity[0], start[1] + f * velocity[1]] for f in range(F)])
hr_clip = torch.full((F, 1, 48, 48), -1.0)
for f, (py, px) in enumerate(positions.tolist()):
    hr_clip[f, :, py : py + 32, px : px + 32] = digit
lr_clip = degrade(hr_clip, 4)
print(f"a {label} moving by {velocity} per frame: HR {tuple(hr_clip.shape)}, LR {tuple(lr_clip.shape)}")
plotting.image_rows({"HR": list(hr_clip), "LR": list(lr_clip)}, [f"frame {f}" for f in range(F)], size=1.0)
plt.show()

# %% [markdown]
# `course_lib.video.MovingDigits` makes the test clips of this lesson the same way, each from its own seed (digit,
# start and velocity drawn from the clip's index alone); train clips use the train digits, test clips the test
# digits, never mixed. Forty test clips are measured below, forty more serve as the realism reference.

# %%
clips = video.MovingDigits("test", n_clips=80)
clip = clips.clip(0)
m = clips.motion(0)
same = torch.full_like(clip["hr"], -1.0)
for f, (py, px) in enumerate(clip["positions"].tolist()):
    same[f, :, py : py + 32, px : px + 32] = clips.digits._hr_all[m["digit"]]
assert torch.equal(same, clip["hr"]) and torch.equal(degrade(same, 4), clip["y"])
print(f"clip 0: digit {m['digit']} (a {clip['label']}), start {m['start']}, velocity {m['velocity']} — by hand = course_lib")

# %% [markdown]
# ## 2. Warping, and the warping error · 帧间对齐与扭曲误差
#
# Because the background is uniform and the digit moves rigidly, the motion from frame f to f + 1 is one integer
# shift d_f = (d_y, d_x) of the whole canvas — the **optical flow** (光流) of this toy is known exactly. **Warping**
# frame f by d_f moves its content to where it is at f + 1:
#
# $$\operatorname{warp}(x, d)[i, j] = x[i - d_y,\; j - d_x] \qquad \text{(Eq. 12.1)}$$
#
# where the source pixel lies inside the frame; the pixels whose source left the frame are unknown (we fill them with
# −1 and never count them). A temporally consistent video is one whose frames agree after warping: the **warping
# error** (扭曲误差; Lai et al., ECCV 2018) averages the disagreement over the pixels that stay in view,
#
# $$E_\text{warp} = \frac{1}{F - 1}\sum_{f=0}^{F-2} \operatorname{mean}_{(i,j) \in V_f}
#   \bigl|\operatorname{warp}(\hat x_f, d_f) - \hat x_{f+1}\bigr|_{ij} \qquad \text{(Eq. 12.2)}$$
#
# where x̂_f is a method's frame f and V_f the pixels whose source (i − d_y, j − d_x) lies inside the frame — in the
# model's range [−1, 1] (an error of 2 is black against white). By hand, then against `course_lib`:

# %%
def my_warp(x, d):
    dy, dx = d
    H, W = x.shape[-2:]
    out = torch.full_like(x, -1.0)
    out[..., max(0, dy) : H - max(0, -dy), max(0, dx) : W - max(0, -dx)] = x[..., max(0, -dy) : H - max(0, dy), max(0, -dx) : W - max(0, dx)]
    return out


def my_warping_error(frames, shifts):
    errors = []
    for f in range(frames.shape[0] - 1):
        d = tuple(int(v) for v in shifts[f])
        stays = my_warp(torch.ones_like(frames[f]), d) > 0  # the pixels whose source is inside the frame
        errors.append((my_warp(frames[f], d) - frames[f + 1]).abs()[stays].mean())
    return torch.stack(errors)


shifts = positions[1:] - positions[:-1]
assert torch.equal(my_warp(hr_clip[0], tuple(shifts[0].tolist())), video.warp(hr_clip[0], shifts[0]))
flicker = hr_clip + 0.1 * torch.randn(hr_clip.shape, generator=torch.Generator().manual_seed(1))
for name, frames in (("the HR clip", hr_clip), ("HR + fresh noise σ = 0.1 per frame", flicker)):
    mine, theirs = my_warping_error(frames, shifts), video.warping_error(frames, shifts)
    assert torch.allclose(mine, theirs)
    print(f"{name}: warping error {theirs.mean():.4f}")
print(f"fresh noise of σ = 0.1 in both frames: E|σ(ε₁ − ε₂)| = 2σ/√π = {0.2 / math.sqrt(math.pi):.4f}")

# %% [markdown]
# The HR clip's error is exactly 0 — its frames *are* shifts of each other — and independent noise of σ = 0.1 per
# frame gives the value the formula predicts. A less obvious reference: **bicubic** is deterministic, yet its frames
# do not agree after warping. The ×4 area downsampling averages 4 × 4 blocks on a fixed grid, so a 1- or 2-pixel
# shift of the digit changes *which* pixels share a block: the LR frame of a digit shifted by 1 pixel is not a shifted
# LR frame, while a 4-pixel shift (one LR pixel) commutes exactly. Every method inherits this from its input — bicubic
# passes it on untouched; section 7 measures how much flicker each method adds or removes.

# %%
lr_of_shifted = degrade(video.warp(hr_clip[:1], (0, 1)), 4)
assert torch.equal(degrade(video.warp(hr_clip[:1], (0, 4)), 4), video.warp(degrade(hr_clip[:1], 4), (0, 1)))
bicubic = upsample(lr_clip, 4, "bicubic").clamp(-1, 1)
print(f"|LR(shift by 1 px) − LR| = {(lr_of_shifted - degrade(hr_clip[:1], 4)).abs().mean():.3f} (in [-1, 1]); "
      f"bicubic's warping error on this clip: {video.warping_error(bicubic, shifts).mean():.4f}")

# %% [markdown]
# ## 3. An image model, frame by frame: the flicker · 逐帧超分的闪烁
#
# Lesson 04's SR3-style model (`digits_sr3_concat`) is convolutional: tiled at its training size (lesson 04), it
# restores a 48 × 48 frame too (section 7: the classifier reads 96 % of its frames' digits as it reads the HR's). Run it on each frame of clip 0 with **independent noise** —
# frame f from its own seed, as the harness gives each image its own — and every frame is a plausible digit, but not
# the *same* plausible digit: the strokes the LR frame leaves open are filled differently each time. That is the
# flicker, method **(a)**. DDIM with 25 steps (η = 0), as for every sampled row of this lesson (the restarts of
# section 5 run the part of those 25 steps at or below their t*).

# %%
from course_lib.experiments.video import STEPS, frame_seed  # noqa: E402

sr3 = load("digits_sr3_concat", device)
seeds = [frame_seed(0, f) for f in range(8)]  # clip 0, frames 0 … 7: the seeds the cached row used
independent = sr3.restore(clip["y"].to(device), seeds=seeds, steps=STEPS).cpu()
print(f"(a) independent noise: warping error {video.warping_error(independent, clip['shifts']).mean():.4f} "
      f"(HR 0; bicubic {video.warping_error(upsample(clip['y'], 4, 'bicubic').clamp(-1, 1), clip['shifts']).mean():.4f})")

# %% [markdown]
# Watch it (an animated GIF written with Pillow; the static strip below it is the same frames):

# %% tags=["nbval-ignore-output"]
Image(data=plotting.animated_gif({"HR": clip["hr"], "LR": clip["y"], "(a)": independent}, zoom=3), format="gif")

# %%
plotting.image_rows({"HR": list(clip["hr"]), "(a) independent": list(independent)}, [f"frame {f}" for f in range(8)], size=1.0)
plt.show()

# %% [markdown]
# ## 4. Fixing the noise · 固定噪声
#
# With η = 0 the DDIM sampler is deterministic: the output is a function F(x_T, y) of the starting noise and the LR
# frame. Two ways to stop drawing fresh noise:
#
# * **(b) the same x_T for every frame** — the noise is fixed to the *canvas*. But the digit moves, so relative to the
#   digit the noise is different in every frame: the strokes still change.
# * **(b′) noise that moves with the content** — frame f's x_T is the crop of one larger draw at the digit's position
#   (`course_lib.video.moving_noise`): warp(x_T⁽ᶠ⁾, d_f) = x_T⁽ᶠ⁺¹⁾ wherever the source stays in view. The U-Net is
#   convolutional (shift-equivariant up to its borders and attention), so F(warp x_T, warp y) ≈ warp F(x_T, y): the
#   frames agree as far as the LR frames themselves do (section 2). It needs the motion.

# %%
x_same = torch.randn(1, 1, 48, 48, generator=torch.Generator().manual_seed(seeds[0])).expand(8, 1, 48, 48)
x_moving = video.moving_noise(clip["positions"], (1, 48, 48), torch.Generator().manual_seed(seeds[0]))
assert torch.equal(video.warp(x_moving[0], clip["shifts"][0])[:, video.valid_mask((48, 48), clip["shifts"][0])],
                   x_moving[1][:, video.valid_mask((48, 48), clip["shifts"][0])])  # the noise moves with the digit
same_noise = sr3.restore(clip["y"].to(device), seeds=seeds, steps=STEPS, x_T=x_same.to(device)).cpu()
moving = sr3.restore(clip["y"].to(device), seeds=seeds, steps=STEPS, x_T=x_moving.to(device)).cpu()
for name, out in (("(a) independent", independent), ("(b) same x_T", same_noise), ("(b′) moving x_T", moving)):
    print(f"{name:18s} warping error {video.warping_error(out, clip['shifts']).mean():.4f}")

# %% [markdown]
# ## 5. Restarting from the previous frame · 从上一帧重启
#
# The previous output is already a good guess of the current frame, once warped. SDEdit's idea (Meng et al., ICLR
# 2022; section 11 uses it to edit) is to noise a guess to an intermediate time t* and let the model finish:
#
# $$x_{t^*} = \sqrt{\bar\alpha_{t^*}}\; x_\text{guess} + \sqrt{1 - \bar\alpha_{t^*}}\;\varepsilon \qquad
#   \text{(Eq. 12.3)}$$
#
# then DDIM from t* down to 0, conditioned on the current LR frame — method **(c)**. Small t* keeps the guess (and
# its errors); t* near T forgets it and is method (a) again. For the SR3-style model x lives in the residual
# coordinates of Eq. 04.4, x_guess = warp(x̂_{f−1}, d_{f−1}) − U(y_f); the sampler keeps the timesteps at or below t*
# (`course_lib.samplers.start_at`), so t* is rounded down to the sampler's grid (399 for t* = 400 with DDIM-25). By hand for frame 1, then the whole clip with `course_lib`'s row function:

# %%
from course_lib.experiments.video import run_row  # noqa: E402
from course_lib.samplers import make_sampler, start_at  # noqa: E402

t_star = 400
sampler = start_at(make_sampler("ddim", sr3.process, STEPS, sr3.model.prediction), t_star)
t0 = sampler.timesteps[0]  # the largest of DDIM-25's timesteps at or below t*
guess = video.warp(independent[:1], clip["shifts"][0]).to(device)
y1 = clip["y"][1:2].to(device)
x_guess = sr3.model.target(guess, y1)  # residual coordinates (Eq. 04.4)
ab = sr3.process.alpha_bars[t0]
eps = torch.randn(1, 1, 48, 48, generator=torch.Generator().manual_seed(seeds[1])).to(device)
x_t = ab.sqrt() * x_guess + (1 - ab).sqrt() * eps  # Eq. 12.3
assert torch.allclose(x_t, sr3.process.q_sample(x_guess, torch.tensor([t0], device=device), eps), atol=1e-6)
frame1 = sr3.restore(y1, seeds=seeds[1:2], sampler=sampler, x_T=x_t).cpu()
print(f"t* = {t_star}: DDIM-25 restarts at t = {t0} and spends {len(sampler.timesteps)} evaluations on frame 1")

one_clip = {k: clip[k][None] for k in ("hr", "y", "positions", "shifts")}
restarted, nfe = run_row(f"sdedit_{t_star}", one_clip, {"sr3": sr3})
assert torch.allclose(restarted[0, 1], frame1, atol=1e-4)  # frame 1 of the row = the frame made by hand
print(f"(c) t* = {t_star}: warping error {video.warping_error(restarted[0], clip['shifts']).mean():.4f}, "
      f"{nfe} evaluations per frame on average")

# %% [markdown]
# ## 6. A model that sees the previous frame · 以上一帧为条件的模型
#
# Method (c) asks an image model to finish a guess it was never trained to read. Method **(d)** trains the guess in:
# the network sees the warped previous frame p as one more input channel, beside x_t and U(y) — StableVSR's temporal
# conditioning (Rota et al., ECCV 2024) at toy scale:
#
# $$\varepsilon_\theta\bigl([\,x_t,\; U(y_f),\; p_f\,],\; t\bigr), \qquad
#   p_f = \operatorname{warp}(\hat x_{f-1}, d_{f-1}) \qquad \text{(Eq. 12.4)}$$
#
# It starts from the shipped SR3-style model (`init_from`: the new input's weights start at zero, so step 0 *is* the
# image model) and trains on frame pairs of 1,000 training clips. **What it trains on is not what it is tested on.** In
# training, p is the warped *HR* previous frame — on these clips exactly the current HR frame — so a network shown it
# clean would learn to copy it; it is corrupted (Gaussian noise of a random standard deviation up to 0.5, or replaced by
# U(y) one time in five: how a clip's first frame is made). At test time p is the model's **own** previous output,
# which errs differently — a plausible wrong stroke, not noise — and an error copied forward stays. Measuring the
# model both ways, on its own outputs and on the true previous frames, shows how much this **exposure bias** costs.
# `course_lib` packs p beside y by space-to-depth, so that one tensor is the condition and the tiling, the samplers
# and the per-image seeds of lesson 04 work unchanged:

# %%
from course_lib.models import pack_previous  # noqa: E402
from course_lib.models.temporal import unpack_previous  # noqa: E402

packed = pack_previous(clip["y"][1:2], video.warp(clip["hr"][:1], clip["shifts"][0]), 4)
y_back, p_back = unpack_previous(packed, 1, 4)
assert torch.equal(y_back, clip["y"][1:2]) and torch.equal(p_back, video.warp(clip["hr"][:1], clip["shifts"][0]))
cache = json.loads((data_dir() / "cache" / "video.json").read_text())
rows, verdicts, tt = cache["rows"], cache["verdicts"], cache["temporal_training"]
print(f"condition {tuple(packed.shape)}: y's 1 channel + the previous frame's 16 (4 × 4 pixels per LR pixel)")
print(f"trained {tt['steps']} steps of batch 32 in {tt['cpu_minutes']} CPU-minutes (one thread), on top of the "
      f"image model's {tt['borrowed_cpu_minutes']}; {tt['parameters']:,} parameters")

# %% [markdown]
# ## 7. Every way, measured · 逐一测量
#
# Forty test clips of eight frames, every row from the same LR frames and, where it samples, the same per-frame seeds
# (DDIM-25). Per clip: PSNR and consistency (Eq. 04.1) averaged over its frames, the **agreement** of the classifier on
# the 32 × 32 crop at the digit's known position, and the warping error (Eq. 12.2, always with the *true* motion: a
# measure must not use the method's estimate). Per row: patch SWD of all its frames against the HR frames of forty
# other test clips (realism first), and the Fréchet distance of its crops' classifier features. The clip is the unit
# of the paired intervals; the margins were fixed in `course_lib/experiments/video.py` before the first run.

# %%
order = cache["rows_order"]
display(Markdown(plotting.markdown_table(
    ["row", "PSNR", "consistency", "agreement", "warping error ↓", "patch SWD ↓", "Fréchet ↓", "NFE / frame", "ms / frame"],
    [[name, f"{rows[name]['psnr']['mean']:.2f}" if "psnr" in rows[name] else "—",
      f"{rows[name]['consistency']['mean']:.1f}" if "consistency" in rows[name] else "—",
      f"{rows[name]['agreement']['mean']:.3f}", f"{rows[name]['warping_error']['mean']:.4f}",
      f"{rows[name]['patch_swd']:.4f}", f"{rows[name]['frechet']:.2f}", rows[name]["nfe"], f"{rows[name]['ms_per_frame']:.0f}"]
     for name in order])))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
family = {"bicubic": "grey", "regression": "grey", "independent": "C3", "same_noise": "C1", "moving_noise": "C1",
          "temporal_own": "C2", "temporal_oracle": "C2", "temporal_estimated": "C2"}
for name in order:
    if name == "hr":
        continue
    r = rows[name]
    colour = family.get(name, "C0")  # the SDEdit restarts in blue
    for ax, key in zip(axes, ("patch_swd", "psnr")):
        value = r[key] if key == "patch_swd" else r[key]["mean"]
        ax.plot(r["warping_error"]["mean"], value, "o", color=colour)
        ax.annotate(name, (r["warping_error"]["mean"], value), fontsize=7, xytext=(3, 3), textcoords="offset points")
axes[0].axhline(rows["hr"]["patch_swd"], color="k", ls=":", lw=0.8, label="HR frames of other clips (the floor)")
axes[0].set_yscale("log")
axes[0].set(xlabel="warping error (Eq. 12.2) — flicker →", ylabel="patch SWD ↓ (realism)", title="realism against flicker")
axes[1].set(xlabel="warping error (Eq. 12.2) — flicker →", ylabel="PSNR (dB)", title="distortion against flicker")
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# The ways side by side on test clip 0 (the cache's frames; the static strip below is the same):

# %% tags=["nbval-ignore-output"]
from course_lib.teaching.widgets.video import load_frames  # noqa: E402

frames = load_frames()  # every row's frames on three test clips, uint8
shown = {"HR": "hr", "(a)": "independent", "(b′)": "moving_noise", "(c) t*=200": "sdedit_200", "(d)": "temporal_own"}
Image(data=plotting.animated_gif({k: frames["frames"][order.index(r), 0] for k, r in shown.items()}, zoom=2), format="gif")

# %%
plotting.image_rows({k: list(frames["frames"][order.index(r), 0]) for k, r in shown.items()}, [f"frame {f}" for f in range(8)], size=0.9)
plt.show()

# %% [markdown]
# Against (a), clip by clip (A − B with its 95 % interval, then the verdict; warping error and patch SWD lower is
# better; consistency has no margin fixed, so its verdicts are exploratory):

# %%
def vt(key, measure, digits=3):
    return plotting.verdict_text(verdicts[key][measure], digits)


display(Markdown(plotting.markdown_table(
    ["A vs B", "PSNR (dB)", "consistency (dB)", "warping error", "agreement", "patch SWD"],
    [[key, vt(key, "psnr", 2), vt(key, "consistency", 2), vt(key, "warping_error", 4), vt(key, "agreement", 3),
      vt(key, "patch_swd", 5)] for key in verdicts])))

# %% [markdown]
# On this run, clip by clip against (a):
#
# * **Fixing the noise helps, moving it helps more.** The same x_T for every frame (b) flickered a little less (its
#   interval just below 0); noise that moves with the content (b′) cut the flicker between three and four times as
#   much — at the same PSNR.
# * **Starting from the previous frame removes most of the flicker and raises PSNR.** Every restart (c) and the
#   temporal model on its own outputs (d) were better on both: the warping error fell by a third to two thirds, PSNR
#   rose by 1.4–2.6 dB — a frame that starts from the previous one inherits what the earlier LR frames said about the
#   digit, so the clip accumulates evidence. The smaller t*, the more it keeps — and for t* = 200 and 400 the kept
#   guess fits the new LR frame a little less (consistency, Eq. 04.1, worse). Realism stayed within the margin of (a)
#   for every sampled row (patch SWD: as good, the same-noise row worse but within the margin; the Fréchet distance on
#   40 distinct digits is shown, not judged: the HR frames themselves score about 6 — which digits were drawn
#   dominates it).
# * **Deterministic is not consistent.** The regression U-Net flickered *more* than (a): its output follows the LR
#   frame, whose block averages change as the digit moves (section 2).
# * **Exposure bias, measured.** On the true previous frames the temporal model gains about 6 dB more PSNR than on its
#   own — what it learned to read is not what it gets — while, fed its own outputs, it flickers slightly less than
#   when fed the true frames: what it copies forward is its own.

# %%
# what the text above states, checked on the cache
V = {k: {m: v["verdict"] for m, v in d.items()} for k, d in verdicts.items()}
dw = {k: verdicts[f"{k} vs independent"]["warping_error"]["interval"]["estimate"] for k in ("same_noise", "moving_noise")}
assert V["same_noise vs independent"]["warping_error"] == "better" and V["moving_noise vs independent"]["warping_error"] == "better"
assert 3 < dw["moving_noise"] / dw["same_noise"] < 4
assert all(V[f"{k} vs independent"]["psnr"].startswith("as good") for k in ("same_noise", "moving_noise"))
restarts = [f"sdedit_{t}" for t in cache["t_stars"]] + ["temporal_own"]
for k in restarts:
    assert V[f"{k} vs independent"]["warping_error"] == "better" and V[f"{k} vs independent"]["psnr"] == "better"
    share = -verdicts[f"{k} vs independent"]["warping_error"]["interval"]["estimate"] / rows["independent"]["warping_error"]["mean"]
    assert 0.3 < share < 0.72, (k, share)
gains = [verdicts[f"{k} vs independent"]["psnr"]["interval"]["estimate"] for k in restarts]
assert 1.35 < min(gains) and max(gains) < 2.65
wes = [rows[f"sdedit_{t}"]["warping_error"]["mean"] for t in cache["t_stars"]]
assert wes == sorted(wes)  # the smaller t*, the less flicker
assert all(V[f"{k} vs independent"]["patch_swd"].startswith("as good") for k in restarts + ["moving_noise"])
assert V["same_noise vs independent"]["patch_swd"] == "worse, but within the margin"
assert all(V[f"sdedit_{t} vs independent"]["consistency"] == "worse" for t in (200, 400))
assert 5 < rows["hr"]["frechet"] < 7
assert V["regression vs independent"]["warping_error"] == "worse"
assert 0.955 <= rows["independent"]["agreement"]["mean"] < 0.965  # section 3: 96 % of (a)'s frames read as the HR's
gap = verdicts["temporal_own vs temporal_oracle"]["psnr"]["interval"]["estimate"]
assert V["temporal_own vs temporal_oracle"]["psnr"] == "worse" and -7 < gap < -5
assert V["temporal_own vs temporal_oracle"]["warping_error"] == "better"

# %% [markdown]
# ## 8. When the motion is not given · 运动估计
#
# Every row so far was handed the exact motion. A real video is not: the motion must be estimated, here from the LR
# frames alone. **Phase correlation** (相位相关; Kuglin & Hines, 1975) is a few lines: a shift multiplies the Fourier
# transform by a phase ramp, so the normalised cross-power spectrum F(b)·conj(F(a)) / |…| is a pure ramp whose inverse
# transform peaks at the shift. On 12 × 12 LR frames the peak sits on the LR grid — 4 HR pixels per step, too coarse for
# motions of 1 or 2 — so the spectrum is zero-padded before the inverse transform, which samples the same correlation
# on a 4-times finer grid (Guizar-Sicairos et al., Opt. Lett. 2008). By hand, then `course_lib`:

# %%
def my_phase_correlation(a, b, upsample=4):
    a, b = a - a.mean(), b - b.mean()
    cross = torch.fft.fft2(b.double()) * torch.fft.fft2(a.double()).conj()
    spectrum = torch.fft.fftshift(cross / cross.abs().clamp_min(1e-12))  # the ramp, centred
    H, W = spectrum.shape
    padded = torch.zeros(H * upsample, W * upsample, dtype=spectrum.dtype)
    oy, ox = (H * upsample - H) // 2, (W * upsample - W) // 2
    padded[oy : oy + H, ox : ox + W] = spectrum  # zeros around: the same correlation, sampled more finely
    corr = torch.fft.ifft2(torch.fft.ifftshift(padded)).real
    dy, dx = divmod(int(corr.argmax()), W * upsample)
    wrap = lambda d, n: d - n if d > n // 2 else d  # noqa: E731  (the peak of a negative shift sits at the far end)
    return wrap(dy, H * upsample), wrap(dx, W * upsample)


y_a, y_b = clip["y"][0, 0], clip["y"][1, 0]
mine, theirs = my_phase_correlation(y_a, y_b), video.estimate_shift(y_a, y_b, upsample=4)
assert mine == theirs
me = cache["motion_estimation"]
print(f"clip 0, frames 0 → 1: estimated {theirs}, true {tuple(clip['shifts'][0].tolist())}")
print(f"over the 280 pairs of the 40 test clips: {100 * me['exact_share']:.0f} % exactly right, "
      f"mean error {me['mean_abs_error_px']:.2f} HR pixels per axis")

# %% [markdown]
# Area downsampling blurs away the very detail a 1-pixel shift moves, so the estimate is often off by a pixel or two.
# Fed to the temporal model (the row `temporal_estimated`), a wrong warp puts the previous digit in the wrong place —
# and a model trained to trust p copies it there:

# %%
key = "temporal_estimated vs temporal_own"
for measure, digits in (("psnr", 2), ("warping_error", 4), ("agreement", 3)):
    print(f"{measure:14s} {vt(key, measure, digits)}")

# %% [markdown]
# With about a third of the motions right, the estimated-motion row lost about 5 dB of PSNR against the same model
# given the true motion, and flickered more than even the image model with independent noise: a temporal model that
# trusts a wrong warp is worse than no temporal model, on this run. Real video SR estimates optical flow with a
# network (RAFT, SpyNet) on the LR frames and, at scale, learns where not to trust it.

# %%
# what the text above states, checked on the cache
assert 0.25 < me["exact_share"] < 0.4
assert V["temporal_estimated vs temporal_own"]["psnr"] == "worse"
assert -5.5 < verdicts["temporal_estimated vs temporal_own"]["psnr"]["interval"]["estimate"] < -4.5
assert V["temporal_estimated vs independent"]["warping_error"] == "worse"

# %% [markdown]
# ## 9. What the literature measured · 文献中的测量
#
# At real scale the flicker of per-frame diffusion SR is the first thing video papers measure. One table, quoted and
# not ours: **STAR** (Xie et al., *STAR: Spatial-Temporal Augmentation with Text-to-Video Models for Real-World Video
# Super-Resolution*, ICCV 2025; arXiv:2501.02976), Table 1, the flow warping error E*_warp (×10⁻³, lower is better) of
# StableSR — an image diffusion upscaler run frame by frame — against video methods:
#
# | E*_warp (×10⁻³) ↓ | StableSR (per frame) | Upscale-A-Video | MGLD-VSR | STAR |
# |---|---|---|---|---|
# | UDM10 | 8.89 | 2.83 | 6.03 | 2.68 |
# | REDS30 | 22.14 | 15.65 | 12.28 | 7.30 |
# | VideoLQ | 9.26 | 10.89 | 7.82 | 6.38 |
#
# In the authors' words, "StableSR demonstrates the most temporal inconsistency, primarily because it is originally
# designed for image super-resolution" — on two of the three sets; on the real-world VideoLQ, Upscale-A-Video's error is
# higher than StableSR's. These are STAR's own runs of the other methods, with one flow estimator (the warping error of
# real video needs estimated optical flow, unlike ours).
#
# ## 10. The clip scrubber · 逐帧查看
#
# Pick a method and step through the frames of a test clip: the frame, the map |warp(previous) − this| whose mean is
# that pair's warping error, and the error of every pair of the clip beside bicubic's and the HR clip's (the frames
# are the cache's; nothing is recomputed).

# %%
from course_lib.teaching.widgets import ClipWidget, render_clip  # noqa: E402

ClipWidget(frames, row="independent", clip=0, frame=3)

# %% tags=["nbval-ignore-output"]
# a static copy of the scrubber's view (what the widget shows above, as a picture)
Image(render_clip(frames, "independent", 0, 3))

# %%
Image(render_clip(frames, "temporal_own", 0, 3))

# %% [markdown]
# ## 11. Editing: from restoring to changing · 语义编辑
#
# Section 5 restarted from a guess to *keep* it. Restart from a digit, guided toward **another class**, and the same
# move *changes* it: SDEdit (Meng et al., ICLR 2022). The input x is noised to t* by Eq. 12.3 and denoised by a model
# steered toward the target class: small t* leaves too little noise to change the class, t* near T keeps nothing of
# the input. Two questions for every edit — is it still the input (**faithfulness**: PSNR and SSIM to x) and did it
# become the target (**success**: the class a classifier reads) — and a rule: the classifier that *judges* must not be
# the one that *guided*, or the edit could fool its own referee.
#
# Two ways to steer toward a class:
#
# * **Classifier-free guidance** (lesson 07) needs a class-conditional model. The course's `digits32_cfg` reads as its
#   class only 58–84 % of the time, which would cap any edit; so this lesson made `digits_unet` class-conditional:
#   a label embedding added to its time embedding (random at the spread of the time embedding's coordinates), and only
#   its **modulation** fine-tuned — the time MLP, each block's time projection (the scale and shift of its features),
#   the normalisations and the first convolution; every other weight frozen and borrowed from `digits_unet`, so the
#   shipped file holds 0.4 MB of what trained.
# * **Classifier guidance** (Dhariwal & Nichol, NeurIPS 2021) leaves the unconditional `digits_unet` alone and adds the
#   gradient of a classifier that reads *noisy* images (`digits_noisy_classifier`, 36 k parameters, trained on x_t):
#
# $$\tilde\varepsilon = \varepsilon_\theta(x_t, t) - s\,\sqrt{1 - \bar\alpha_t}\;\nabla_{x_t}\log p_\phi(c \mid x_t, t)
#   \qquad \text{(Eq. 12.5)}$$
#
#   — the score of p(x_t | c) ∝ p(x_t)·p(c | x_t), written as noise (score = −ε / √(1 − ᾱ_t)), the classifier's part
#   scaled by s (here s = 30, from a pilot on 20 training digits: a small guide's gradient is weak, lesson 07's w = 3
#   has no such factor to make up). Both are judged by the shipped `digit_classifier`, which guided neither — the
#   editor first, from pure noise (200 digits, w = 3):

# %%
ed = cache["editing"]
print(f"the editor from pure noise, w = {ed['unedited_accuracy']['w']:g}: the judge reads the asked class "
      f"{100 * ed['unedited_accuracy']['accuracy']:.1f} % of {ed['unedited_accuracy']['n']} times")

# %% [markdown]
# SDEdit by hand on a few test digits, each sent to class (label + 1) mod 10 — the noise of Eq. 12.3, then the
# guided DDIM from t*; and `course_lib.methods.editing.sdedit` doing the same:

# %%
from course_lib.experiments.video import EDIT_SEED_BASE, EDIT_W, EDITS_SHOWN, edit_inputs  # noqa: E402
from course_lib.methods.editing import inversion_edit, sdedit  # noqa: E402
from course_lib.models import GuidedModel  # noqa: E402
from course_lib.samplers import sample  # noqa: E402
from course_lib.samplers.base import clip_x0  # noqa: E402

editor = load("digits_unet_cfg", device)
shown = list(EDITS_SHOWN[:6])  # one digit of each class 0 … 5 (of the experiment's 100)
x_in, source, target = (v[shown] for v in edit_inputs())
x_in = x_in.to(device)
t_star = 925
guided = GuidedModel(editor.model, target.to(device), EDIT_W)
sampler = start_at(make_sampler("ddim", editor.process, STEPS), t_star)
t0 = sampler.timesteps[0]
noise = torch.stack([torch.randn(1, 32, 32, generator=torch.Generator().manual_seed(EDIT_SEED_BASE + i)) for i in shown])
ab = editor.process.alpha_bars[t0]
by_hand = sample(guided, sampler, ab.sqrt() * x_in + (1 - ab).sqrt() * noise.to(device), x0_transform=clip_x0)
edited = sdedit(editor.model, editor.process, x_in, t_star, [EDIT_SEED_BASE + i for i in shown], STEPS, guided)
assert torch.allclose(by_hand, edited, atol=1e-4)
inverted = inversion_edit(GuidedModel(editor.model, source.to(device), 0.0), editor.process, x_in, t_star, STEPS, guided)
judge = load("digit_classifier", device).model.eval()
with torch.no_grad():
    reads = [judge(v).argmax(1).tolist() for v in (edited, inverted)]
plotting.image_rows({"input": list(x_in.cpu()), "SDEdit": list(edited.cpu()), "inversion": list(inverted.cpu())},
                    [f"{int(s)} → {int(t)}" for s, t in zip(source, target)], size=1.1)
plt.show()
print(f"t* = {t_star}: the judge reads SDEdit's edits as {reads[0]}, inversion's as {reads[1]} (targets {target.tolist()})")

# %% [markdown]
# **Inversion instead of fresh noise.** SDEdit's x_{t*} forgets the input's detail at random. Lesson 06's DDIM
# inversion runs the η = 0 ODE *forward* from x to t* with the source class and no guidance (w = 0): the noise from
# which that sampler returns (nearly — the inversion is exact only for small steps) x itself. Sampling back with
# guidance toward the target then changes what guidance changes and keeps the rest. Editing real images this way is
# the subject of null-text inversion (Mokady et al., CVPR 2023), whose point is that with classifier-free guidance
# at w > 0 the plain inversion no longer returns the image, and of Prompt-to-Prompt (Hertz et al., ICLR 2023), which
# keeps the source prompt's cross-attention maps while the prompt changes. Measured on 100 test digits at seven restart times (925 and 960 added once the first five showed that the class
# changes above 850), each arm and t* with its 95 % intervals:

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
for arm, colour in zip(ed["arms"], ("C0", "C1", "C2")):
    pts = [ed["cells"][f"{arm}_{t}"] for t in ed["t_stars"]]
    xs, ys = [p["success"]["estimate"] for p in pts], [p["psnr"]["estimate"] for p in pts]
    ax.errorbar(xs, ys, xerr=[[x - p["success"]["low"] for x, p in zip(xs, pts)], [p["success"]["high"] - x for x, p in zip(xs, pts)]],
                yerr=[[y - p["psnr"]["low"] for y, p in zip(ys, pts)], [p["psnr"]["high"] - y for y, p in zip(ys, pts)]],
                fmt="o-", color=colour, ms=4, capsize=2, label=arm)
    for t, x, y in zip(ed["t_stars"], xs, ys):
        ax.annotate(f"t*={t}", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
ax.set(xlabel="success: the judge reads the target class", ylabel="faithfulness: PSNR to the input (dB)",
       title="editing a digit into another class: the trade-off")
ax.legend(fontsize=7)
plt.tight_layout()
plt.show()

# %%
edits = frames["edits"]  # (arm, t*, digit, 32, 32): eight digits per arm and restart time, from the cache
strip = {"input": list(frames["edit_inputs"])}
short = {"sdedit": "SDEdit", "inversion": "inversion", "sdedit_classifier": "classifier g."}
for a, arm in enumerate(ed["arms"]):
    for k, t in enumerate(ed["t_stars"]):
        if t in (850, 960):
            strip[f"{short[arm]} {t}"] = list(edits[a, k])
plotting.image_rows(strip, [f"{s} → {t}" for s, t in zip(ed["labels"], ed["targets"])], size=0.9)
plt.show()

# %%
def ev(key, measure, digits=2):
    return plotting.verdict_text(ed["verdicts"][key][measure], digits)


display(Markdown(plotting.markdown_table(
    ["t*", "inversion − SDEdit: PSNR", "success", "classifier guidance − SDEdit: PSNR", "success"],
    [[t, ev(f"inversion vs sdedit at {t}", "psnr"), ev(f"inversion vs sdedit at {t}", "success"),
      ev(f"sdedit_classifier vs sdedit at {t}", "psnr"), ev(f"sdedit_classifier vs sdedit at {t}", "success")]
     for t in ed["t_stars"]])))

# %% [markdown]
# On this run, 100 test digits (ten of each class), each sent to the next class:
#
# * **The class changes late, and takes the pixels with it.** SDEdit with the editor changed almost no digit up to
#   t* = 700, about half at 850 and nearly all from 960 on — and by then the PSNR to the input had fallen to about
#   10 dB, what two different digits score against each other (printed below: each input against a digit of the
#   next class). A 3 made into a 4 has few strokes left to keep: on digits, faithfulness
#   in pixels is what a class edit spends.
# * **Inversion keeps more, and edits less.** At every t* it was more faithful than SDEdit (paired PSNR), and from
#   t* = 850 on it edited fewer digits; it reached about 70 % only at t* = 999. The inverted noise is the source
#   digit's own, and guidance at w = 3 pulls it out only partly. *At the same success* it was the more faithful: at
#   about half the digits edited, inversion (t* = 960) kept about 4 dB more than SDEdit does between t* = 850 and 925
#   — read off the curve, not a verdict.
# * **A small guide guides early, and not far.** Classifier guidance with the 36 k-parameter noisy classifier edited
#   more digits than classifier-free guidance at t* = 300–700 (at a lower PSNR), was undecided at 850, and edited far
#   fewer from 925 on — never more than about half: at high noise, where the class is decided, the guide itself reads
#   little (its accuracy at t = 750 is about 60 %, its training record).

# %%
# what the text above states, checked on the cache
cell = lambda arm, t, m: ed["cells"][f"{arm}_{t}"][m]["estimate"]  # noqa: E731
EV = {k: {m: v["verdict"] for m, v in d.items()} for k, d in ed["verdicts"].items()}
assert all(cell("sdedit", t, "success") <= 0.05 for t in (300, 500, 700))
assert 0.4 < cell("sdedit", 850, "success") < 0.55 and min(cell("sdedit", t, "success") for t in (960, 999)) > 0.93
assert all(9 < cell("sdedit", t, "psnr") < 11 for t in (960, 999))
assert all(EV[f"inversion vs sdedit at {t}"]["psnr"] == "better" for t in ed["t_stars"])
assert all(EV[f"inversion vs sdedit at {t}"]["success"] == "worse" for t in (850, 925, 960, 999))
assert 0.65 < cell("inversion", 999, "success") < 0.75 and cell("inversion", 960, "success") < 0.6
s_inv = cell("inversion", 960, "success")
frac = (s_inv - cell("sdedit", 850, "success")) / (cell("sdedit", 925, "success") - cell("sdedit", 850, "success"))
sdedit_there = cell("sdedit", 850, "psnr") + frac * (cell("sdedit", 925, "psnr") - cell("sdedit", 850, "psnr"))
assert 0.45 < s_inv < 0.55 and 3.4 < cell("inversion", 960, "psnr") - sdedit_there < 4.5
assert all(EV[f"sdedit_classifier vs sdedit at {t}"]["success"] == "better" for t in (300, 500, 700))
assert all(EV[f"sdedit_classifier vs sdedit at {t}"]["psnr"] == "worse" for t in (300, 500, 700))
assert EV["sdedit_classifier vs sdedit at 850"]["success"] == "undecided"
assert all(EV[f"sdedit_classifier vs sdedit at {t}"]["success"] == "worse" for t in (925, 960, 999))
assert max(cell("sdedit_classifier", t, "success") for t in ed["t_stars"]) < 0.55
guide = json.loads((data_dir() / "checkpoints" / "digits_noisy_classifier.log.json").read_text())
assert 0.55 < guide["test_accuracy_t750"] < 0.65
from course_lib.metrics import psnr  # noqa: E402

x_all = edit_inputs()[0]
other = psnr(x_all, x_all[(torch.arange(len(x_all)) + 10) % len(x_all)]).mean()  # ten per class, in class order
print(f"two different digits: {other:.1f} dB")
assert 9 < other < 11 and all(abs(cell("sdedit", t, "psnr") - other) < 1 for t in (960, 999))

# %% [markdown]
# ## 12. Text, and the third dimension · 文本引导与三维
#
# **Text guidance is class guidance with a richer condition.** Lesson 07's classifier-free guidance did not care
# what the condition was: a class index looked up in a table here, a sentence in Imagen and Stable Diffusion. What a
# text encoder adds is the table's replacement — a frozen language model (T5-XXL in Imagen, Saharia et al., NeurIPS
# 2022; CLIP's text tower in Stable Diffusion, Rombach et al., CVPR 2022) that maps any prompt to a sequence of
# embeddings, read by the denoiser through cross-attention instead of one vector added to the time embedding. Editing
# by text is then this lesson's editing with the target class replaced by a target prompt — and Prompt-to-Prompt keeps
# the cross-attention maps of the source prompt so that only the words that changed change the image.
#
# **Volumes.** Lesson 08 restored an MRI-like image from undersampled k-space by keeping the measured frequencies
# (the range space) and letting the diffusion prior fill the rest. A CT or MRI *volume* is a stack of such slices, and
# the same argument as for video applies across slices: a 2-D prior run slice by slice is inconsistent between
# neighbouring slices, exactly as frames flicker. DiffusionMBIR (Chung et al., CVPR 2023) keeps the 2-D prior for the
# slices and adds a total-variation penalty along the third axis in the data-consistency step; score-based MRI
# reconstruction (Chung & Ye, Medical Image Analysis 2022) is the 2-D building block, lesson 08's projection with a
# score model. What changes at real scale: memory (a 256³ volume is 256 images per sample), a measurement operator
# that is not a simple mask (CT's Radon transform), and a data-consistency step that must stay exact where clinics
# need it.
#
# ## 13. Where it lives in `course_lib` · 代码中的位置
#
# The clips, the warp, the warping error, phase correlation and moving noise are one data-layer module,
# `course_lib/video.py`. The temporal model is `course_lib/models/temporal.py` (`TemporalSR3`, `pack_previous`) and
# its method `course_lib/methods/video.py` (`"video_sr3"`: the corruption of the previous frame, `restore_clip`); the
# method builds its own training set (`Method.training_set`). SDEdit's start is `samplers.start_at`, DDIM inversion to
# t* is `ddim_invert(..., until=t*)`, and both editors are `course_lib/methods/editing.py`; classifier guidance is
# `models.ClassifierGuidedModel` beside lesson 07's `GuidedModel`, its guide the `"noisy_classifier"` method; the
# modulation-only fine-tune is the `"cfg"` method's `tune="modulation"`. The experiment is
# `course_lib/experiments/video.py` (`make video`), the scrubber `course_lib/teaching/widgets/video.py`. The temporal
# model is not shipped — at 1.2 MB in float16 it would take most of this lesson's share of `data/` — its rows are the
# cache's, and `make video` retrains it.
#
# ## Recap · 小结
#
# * Clips with known motion make temporal consistency measurable: warp frame f by the motion (Eq. 12.1) and average
#   |warp(x̂_f) − x̂_{f+1}| over the pixels that stay in view — the **warping error** (Eq. 12.2); the HR clip scores 0,
#   and even deterministic methods do not, because the LR frames of a moving digit are not shifts of each other.
# * An image SR model run frame by frame **flickers**: each frame fills the LR's gaps its own way. Fixing the noise to
#   the canvas helps a little; noise that **moves with the content** helps more; restarting each frame from the warped
#   previous output (SDEdit's start, Eq. 12.3) and a model that **sees the warped previous frame** (Eq. 12.4) help
#   most — and carry information from frame to frame, so their PSNR rises too.
# * A model trained on the true previous frame and tested on its own outputs pays **exposure bias**; a model that
#   trusts its input pays for **wrong motion** — with motion estimated from the LR frames it was worse than no
#   temporal model at all, on this run.
# * **Editing** reuses the restart: noise a digit to t*, denoise toward another class. The restart time trades
#   faithfulness for success; **inversion** instead of fresh noise keeps more of the input; a guide must not be the
#   judge. Text guidance is the same with a text encoder in place of the class table.
#
# ## Exercises · 练习
#
# **Exercise 12.1 — the warp.** Write `my_warp(x, d)`: frames `(..., H, W)` moved by the integer d = (d_y, d_x)
# (down and right positive), −1 where the source left the frame (Eq. 12.1).

# %%
from course_lib.teaching.exercises.lesson12 import (check_frame_noise, check_sdedit_start, check_warp,  # noqa: E402
                                                    check_warping_error)


def my_warp(x, d):
    """x (..., H, W), d = (dy, dx) ints -> x moved by d, -1 where the source is outside."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_warp(my_warp)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_warp(x, d):
    """x (..., H, W), d = (dy, dx) ints -> x moved by d, -1 where the source is outside."""
    dy, dx = d
    H, W = x.shape[-2:]
    out = torch.full_like(x, -1.0)  # not torch.roll: nothing wraps around
    out[..., max(0, dy) : H - max(0, -dy), max(0, dx) : W - max(0, -dx)] = x[..., max(0, -dy) : H - max(0, dy), max(0, -dx) : W - max(0, dx)]
    return out


check_warp(my_warp)

# %% [markdown]
# **Exercise 12.2 — the warping error.** Write `my_warping_error(frames, shifts)`: `frames` `(F, C, H, W)`, `shifts`
# `(F − 1, 2)`; one error per pair, over the pixels that stay in view (Eq. 12.2). You may use your `my_warp`.

# %%
def my_warping_error(frames, shifts):
    """frames (F, C, H, W), shifts (F - 1, 2) -> (F - 1,)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_warping_error(my_warping_error)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_warping_error(frames, shifts):
    """frames (F, C, H, W), shifts (F - 1, 2) -> (F - 1,)."""
    errors = []
    for f in range(frames.shape[0] - 1):
        d = (int(shifts[f][0]), int(shifts[f][1]))
        stays = my_warp(torch.ones_like(frames[f]), d) > 0  # the fill marks the pixels that came from outside
        errors.append((my_warp(frames[f], d) - frames[f + 1]).abs()[stays].mean())
    return torch.stack(errors)


check_warping_error(my_warping_error)

# %% [markdown]
# **Exercise 12.3 — one noise per frame.** Write `my_frame_noise(seeds, shape)`: method (a)'s starting noise for a
# clip, `(F, *shape)`, frame f's from its own generator seeded `seeds[f]` (so frame 3's noise does not depend on the
# frames drawn before it).

# %%
def my_frame_noise(seeds, shape):
    """seeds: F ints, shape (C, H, W) -> (F, C, H, W)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_frame_noise(my_frame_noise)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_frame_noise(seeds, shape):
    """seeds: F ints, shape (C, H, W) -> (F, C, H, W)."""
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds])


check_frame_noise(my_frame_noise)

# %% [markdown]
# **Exercise 12.4 — SDEdit's start.** Write `my_sdedit_start(x, strength, noise, alpha_bars)`: x noised to t* by
# Eq. 12.3, where `strength` in [0, 1] says how much to forget — diffusers' img2img convention, 1 is all noise — and
# t* = round(strength·(T − 1)) indexes `alpha_bars` `(T,)`.

# %%
def my_sdedit_start(x, strength, noise, alpha_bars):
    """x, noise (B, ...), strength in [0, 1], alpha_bars (T,) -> x at t*."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_sdedit_start(my_sdedit_start)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_sdedit_start(x, strength, noise, alpha_bars):
    """x, noise (B, ...), strength in [0, 1], alpha_bars (T,) -> x at t*."""
    t = round(strength * (len(alpha_bars) - 1))  # the process's scale, not the sampler's
    ab = alpha_bars[t]
    return ab.sqrt() * x + (1 - ab).sqrt() * noise


check_sdedit_start(my_sdedit_start)

# %% [markdown]
# **Exercise 12.5 (open).** In the clip scrubber, compare `temporal_own` and `temporal_estimated` on clip 0 frame by
# frame. Where does the estimated-motion row go wrong first, and does the error recover in later frames or stay? What
# would a model need to *not* trust a previous frame that was warped to the wrong place?

# %%
from course_lib.teaching import exercises  # noqa: E402

exercises.summary("12")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# * N. Srivastava, E. Mansimov, R. Salakhutdinov, *Unsupervised Learning of Video Representations using LSTMs*,
#   ICML 2015 — Moving MNIST, the clips' idea.
# * W.-S. Lai, J.-B. Huang, O. Wang, E. Shechtman, E. Yumer, M.-H. Yang, *Learning Blind Video Temporal Consistency*,
#   ECCV 2018 — the warping error (Eq. 12.2).
# * C. Meng, Y. He, Y. Song, J. Song, J. Wu, J.-Y. Zhu, S. Ermon, *SDEdit: Guided Image Synthesis and Editing with
#   Stochastic Differential Equations*, ICLR 2022 — the restart of Eq. 12.3, its faithfulness–realism trade-off.
# * P. Dhariwal, A. Nichol, *Diffusion Models Beat GANs on Image Synthesis*, NeurIPS 2021 — classifier guidance
#   (Eq. 12.5) with a noise-aware classifier.
# * A. Hertz et al., *Prompt-to-Prompt Image Editing with Cross Attention Control*, ICLR 2023; R. Mokady et al.,
#   *Null-text Inversion for Editing Real Images using Guided Diffusion Models*, CVPR 2023 — editing by inversion.
# * C. Rota, M. Buzzelli, J. van de Weijer, *Enhancing Perceptual Quality in Video Super-Resolution through
#   Temporally-Consistent Detail Synthesis using Diffusion Models* (StableVSR), ECCV 2024 — the temporal conditioning
#   of Eq. 12.4 at scale, frame-recurrent sampling.
# * S. Zhou, P. Yang, J. Wang, Y. Luo, C. C. Loy, *Upscale-A-Video: Temporal-Consistent Diffusion Model for Real-World
#   Video Super-Resolution*, CVPR 2024; X. Yang, C. He, J. Ma, L. Zhang, *Motion-Guided Latent Diffusion for
#   Temporally Consistent Real-world Video Super-resolution* (MGLD-VSR), ECCV 2024.
# * R. Xie et al., *STAR: Spatial-Temporal Augmentation with Text-to-Video Models for Real-World Video
#   Super-Resolution*, ICCV 2025 — the table of section 9.
# * M. Guizar-Sicairos, S. T. Thurman, J. R. Fienup, *Efficient subpixel image registration algorithms*, Optics
#   Letters 33(2), 2008 — phase correlation on a finer grid.
# * H. Chung, D. Ryu, M. T. McCann, M. L. Klasky, J. C. Ye, *Solving 3D Inverse Problems using Pre-trained 2D
#   Diffusion Models* (DiffusionMBIR), CVPR 2023; H. Chung, J. C. Ye, *Score-based diffusion models for accelerated
#   MRI*, Medical Image Analysis 2022.
