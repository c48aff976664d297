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
# # 01 — The forward process · 前向扩散过程
#
# **Objectives.** After this lesson you can
# 1. write one step of the forward process $q(x_t \mid x_{t-1})$ and explain the $\sqrt{1-\beta_t}$;
# 2. derive $\bar\alpha_t$ (累积保留系数) and the closed form $q(x_t \mid x_0)$ — then check it numerically against the chain;
# 3. read a schedule through its **signal-to-noise ratio** (信噪比);
# 4. build the **linear** and **cosine** noise schedules (噪声调度) $\beta_t$ and say why the cosine schedule suits small images;
# 5. see that Gaussian noise, like Gaussian blur, erases fine detail first.
#
# **Prerequisites.** Lesson 00 (the data, [-1, 1] images). The sum of two independent Gaussians is Gaussian,
# with the variances adding up.
#
# **Run time.** Measured by `make notebooks` and listed in README's syllabus (well under a minute on a 2-core CPU).

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
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from course_lib import data
from course_lib.teaching import plotting
from course_lib.device import get_device, make_generator, seed_everything
from course_lib.diffusion import GaussianDiffusion
from course_lib.schedules import make_beta_schedule

seed_everything(0)
device = get_device()
digits, _ = data.DigitsSR("test", scale=4).tensors(range(0, 1000, 100))  # one test digit per class, (10, 1, 32, 32)
digit = digits[0:1].to(device)  # a zero, (1, 1, 32, 32)
cat = data.to_tensor(data.read_image(data.photo_paths("test")[1]))[None, :, 48:176, 96:224].to(device)  # chelsea, (1, 3, 128, 128)
print("digit", tuple(digit.shape), "| cat", tuple(cat.shape))

# %% [markdown]
# **Notation, said once.** Papers number the diffusion steps $t = 1, \dots, T$. The code numbers them
# $0, \dots, T-1$, like every Python array. So `betas[t]` is the paper's $\beta_{t+1}$, `alpha_bars[t]` is
# the paper's $\bar\alpha_{t+1}$ (the `alphas_cumprod` convention of the diffusers library), and
# `q_sample(x0, t)` returns the image after $t + 1$ noising steps. Equations below use the paper's numbering;
# code uses the code's.

# %% [markdown]
# ## 1. One step of noise
#
# The forward process is a fixed Markov chain (马尔可夫链): each step shrinks the image a little and adds a little
# Gaussian noise,
#
# $$q(x_t \mid x_{t-1}) = \mathcal N\big(x_t;\ \sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\big), \qquad
# \text{i.e.}\quad x_t = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\varepsilon_t,\ \ \varepsilon_t \sim \mathcal N(0, I) \qquad \text{(Eq. 01.1)}$$
#
# **Why the square root.** If $x_{t-1}$ has variance 1, then
# $\mathrm{Var}(x_t) = (1-\beta_t)\cdot 1 + \beta_t = 1$: the chain is *variance preserving* (方差保持). Without the shrink
# the variance would grow by $\beta_t$ at every step. Let us run the chain by hand for $T = 1000$ steps with
# $\beta$ rising linearly from $10^{-4}$ to $0.02$ (the printed std comes from random draws; the cell asserts it):

# %% tags=["nbval-ignore-output"]
T = 1000
betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)  # the paper's beta_1 ... beta_T
gen = make_generator(0, device)
x = digit.clone()
frames, shown = [], [0, 50, 100, 200, 400, 700, 999]
for t in range(T):
    eps = torch.randn(x.shape, generator=gen, device=device)
    x = (1 - betas[t]).sqrt().float() * x + betas[t].sqrt().float() * eps  # Eq. 01.1
    if t in shown:
        frames.append(x[0].clone())
fig = plotting.show_images(frames, titles=[f"after {t + 1} steps" for t in shown], size=1.45,
                           suptitle="The forward chain by hand (linear schedule)")
plt.show()
print("pixel std after 1000 steps: %.2f (pure noise has std 1)" % x.std().item())
assert abs(x.std().item() - 1) < 0.1

# %% [markdown]
# `course_lib` does the same in `GaussianDiffusion.q_step` (Eq. 01.1). Fed the same noise, it gives the same image:

# %%
diffusion = GaussianDiffusion(make_beta_schedule("linear", T)).to(device)
x_prev = digit.repeat(4, 1, 1, 1)
t_vec = torch.tensor([0, 10, 500, 999], device=device)
eps = torch.randn(x_prev.shape, generator=make_generator(1, device), device=device)
by_hand = (1 - betas[t_vec.cpu()]).sqrt().float().to(device).view(-1, 1, 1, 1) * x_prev + betas[t_vec.cpu()].sqrt().float().to(device).view(-1, 1, 1, 1) * eps
assert torch.allclose(diffusion.q_step(x_prev, t_vec, noise=eps), by_hand, atol=1e-6)
print("q_step == Eq. 01.1 by hand at t =", t_vec.tolist())

# %% [markdown]
# ## 2. The closed form · 闭式解
#
# How much of $x_0$ survives $t$ steps? Write $\alpha_t = 1 - \beta_t$ and multiply the shrink factors:
#
# $$\alpha_t = 1 - \beta_t, \qquad \bar\alpha_t = \prod_{s=1}^{t}\alpha_s \qquad \text{(Eq. 01.2)}$$
#
# ($\bar\alpha_t$ is the fraction of the signal's variance left after $t$ steps.) Two steps of Eq. 01.1 give
#
# $$x_t = \sqrt{\alpha_t}\big(\sqrt{\alpha_{t-1}}\,x_{t-2} + \sqrt{1-\alpha_{t-1}}\,\varepsilon_{t-1}\big) + \sqrt{1-\alpha_t}\,\varepsilon_t .$$
#
# The two noise terms are independent Gaussians, so their sum is Gaussian with variance
# $\alpha_t(1-\alpha_{t-1}) + (1-\alpha_t) = 1 - \alpha_t\alpha_{t-1}$. Hence
# $x_t = \sqrt{\alpha_t\alpha_{t-1}}\,x_{t-2} + \sqrt{1-\alpha_t\alpha_{t-1}}\,\bar\varepsilon$, and by induction
#
# $$q(x_t \mid x_0) = \mathcal N\big(x_t;\ \sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\big), \qquad
# x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon \qquad \text{(Eq. 01.3)}$$
#
# One draw of noise jumps straight to any $t$ — this is what makes training cheap (lesson 02). In code:
# `GaussianDiffusion.alpha_bars` and `q_sample`. First $\bar\alpha$ by hand:

# %%
alpha_bars_by_hand = torch.cumprod(1 - betas, dim=0)  # Eq. 01.2, the linear schedule of section 1
assert torch.allclose(alpha_bars_by_hand.float(), diffusion.alpha_bars.cpu())
print("alpha_bar at t = 0, 499, 999 (code):", [round(v, 4) for v in alpha_bars_by_hand[[0, 499, 999]].tolist()])
print("sqrt(alpha_bar_T) = %.4f: almost nothing of x0 is left" % alpha_bars_by_hand[-1].sqrt())

# %% [markdown]
# **Check it numerically.** Run the *chain* (1,000 little steps) and the *closed form* (one jump) many times
# from the same four pixel values $x_0 \in \{-1, -0.5, 0.5, 1\}$, and compare mean and standard deviation with
# the theory $\sqrt{\bar\alpha_t}\,x_0$ and $\sqrt{1-\bar\alpha_t}$. (The printed numbers come from random draws;
# the cell asserts they agree within a few standard errors.)

# %% tags=["nbval-ignore-output"]
n = 20_000
x0 = torch.tensor([-1.0, -0.5, 0.5, 1.0], device=device).repeat(n, 1)  # (n, 4)
rows = []
for t in (0, 99, 499, 999):
    t_b = torch.full((n,), t, device=device)
    chain = diffusion.q_sample_chain(x0, t_b, generator=make_generator(10 + t, device))
    closed = diffusion.q_sample(x0, t_b, generator=make_generator(20 + t, device))
    ab = diffusion.alpha_bars[t].item()
    mean_theory, std_theory = math.sqrt(ab) * x0[0], math.sqrt(1 - ab)
    for name, xs in (("chain", chain), ("closed form", closed)):
        se = std_theory / math.sqrt(n)
        assert torch.allclose(xs.mean(0), mean_theory, atol=5 * se), (name, t)
        assert abs(xs.std(0).mean().item() - std_theory) < 0.02 * std_theory + 5 * se, (name, t)
    rows.append((t, round(ab, 4), "%.3f" % (math.sqrt(ab) * 1.0), "%.3f / %.3f" % (chain[:, 3].mean(), closed[:, 3].mean()),
                 "%.3f" % std_theory, "%.3f / %.3f" % (chain.std(0).mean(), closed.std(0).mean())))
display(Markdown(plotting.markdown_table(
    ["t", "alpha_bar", "theory mean (x0 = 1)", "measured mean: chain / closed", "theory std", "measured std: chain / closed"], rows)))

# %%
t = 299
t_b = torch.full((n,), t, device=device)
chain = diffusion.q_sample_chain(x0, t_b, generator=make_generator(1, device))[:, 3].cpu()
closed = diffusion.q_sample(x0, t_b, generator=make_generator(2, device))[:, 3].cpu()
ab = diffusion.alpha_bars[t].item()
grid = np.linspace(-3, 3, 200)
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(chain.numpy(), bins=80, density=True, alpha=0.5, label="chain, 300 steps")
ax.hist(closed.numpy(), bins=80, density=True, alpha=0.5, label="closed form, one jump")
ax.plot(grid, np.exp(-(grid - math.sqrt(ab)) ** 2 / (2 * (1 - ab))) / math.sqrt(2 * math.pi * (1 - ab)), "k", label="N(sqrt(abar), 1 - abar)")
ax.set_title(f"x_t for x0 = 1 at t = {t}: the same distribution")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Signal-to-noise ratio · 信噪比
#
# In $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ the signal has variance $\bar\alpha_t$ (for
# unit-variance data) and the noise $1-\bar\alpha_t$. Their ratio
#
# $$\mathrm{SNR}(t) = \frac{\bar\alpha_t}{1-\bar\alpha_t} \qquad \text{(Eq. 01.4)}$$
#
# falls monotonically from very large to almost 0; a schedule is really a choice of how fast $\log\mathrm{SNR}$ falls.
# For the linear schedule of section 1, by hand and in code (`GaussianDiffusion.snr`):

# %%
snr_by_hand = alpha_bars_by_hand / (1 - alpha_bars_by_hand)  # Eq. 01.4, float64
assert torch.allclose(snr_by_hand.float(), diffusion.snr().cpu(), rtol=1e-2)
print("SNR(t) at t = 0, 249, 499, 999:", ["%.3g" % v for v in snr_by_hand[[0, 249, 499, 999]].tolist()])
print("first t with SNR < 1:", int(torch.nonzero(snr_by_hand < 1)[0]))

# %% [markdown]
# ## 4. Noise schedules · 噪声调度
#
# **Linear** (Ho et al., 2020): $\beta$ rises linearly from $\beta_\text{min} = 10^{-4}$ to $\beta_\text{max} = 0.02$
# for $T = 1000$. For another $T$ both ends are multiplied by $1000 / T$, so that the total noise stays about the same:
#
# $$\beta_t = \frac{1000}{T}\Big(\beta_\text{min} + \frac{t-1}{T-1}(\beta_\text{max} - \beta_\text{min})\Big),
# \quad t = 1 \dots T \qquad \text{(Eq. 01.5)}$$
#
# (so $\beta_1 = \frac{1000}{T}\beta_\text{min}$ and $\beta_T = \frac{1000}{T}\beta_\text{max}$: the constants and the
# scaled values are different things when $T \ne 1000$).
#
# **Cosine** (Nichol & Dhariwal, 2021) specifies the cumulative product $\bar\alpha_t$ (Eq. 01.2) instead of $\beta$,
# so that $\bar\alpha_t$ — and with it $\log\mathrm{SNR}$ (Eq. 01.4) — falls
# gently at both ends, and reads each $\beta_t$ back from the ratio of neighbours, $1 - \beta_t = \bar\alpha_t/\bar\alpha_{t-1}$:
#
# $$\bar\alpha_t = \frac{f(t)}{f(0)},\quad f(t) = \cos^2\!\Big(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\Big),\ s = 0.008,
# \qquad \beta_t = \min\Big(1 - \frac{\bar\alpha_t}{\bar\alpha_{t-1}},\ 0.999\Big) \qquad \text{(Eq. 01.6)}$$
#
# (The small offset $s$ keeps $\beta_1$ from being vanishingly small. The clip matters at the very end: without it
# $\bar\alpha_T = 0$ and $\beta_T = 1$, so $\alpha_T = 0$, and the reverse step divides by $\sqrt{\alpha_T}$ (lesson 02,
# Eq. 02.5) — "to prevent singularities near $t = T$", as Nichol & Dhariwal put it.) By hand, then compared with `make_beta_schedule`,
# and then the two schedules side by side through $\bar\alpha_t$ and $\mathrm{SNR}(t)$:

# %%
beta_linear = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)  # Eq. 01.5, T = 1000
s = 0.008
u = torch.arange(T + 1, dtype=torch.float64) / T
f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
beta_cosine = (1 - (f[1:] / f[0]) / (f[:-1] / f[0])).clamp(max=0.999)  # Eq. 01.6

assert torch.allclose(beta_linear, make_beta_schedule("linear", T))
assert torch.allclose(beta_cosine, make_beta_schedule("cosine", T))
print("by hand == make_beta_schedule for both schedules; dtype", make_beta_schedule("cosine").dtype)
print("linear T=1000: beta from %.1e to %.3f | linear T=250: beta from %.1e to %.3f"
      % (*make_beta_schedule("linear", 1000)[[0, -1]].tolist(), *make_beta_schedule("linear", 250)[[0, -1]].tolist()))
print("cosine: beta_1 = %.1e, largest beta = %.3f (clipped)" % (beta_cosine[0], beta_cosine.max()))

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(beta_linear, label="linear")
ax.semilogy(beta_cosine, label="cosine")
ax.set_xlabel("t (code index)")
ax.set_ylabel("beta_t")
ax.set_title("Per-step noise variance")
ax.legend()
fig.tight_layout()
plt.show()

# %%
schedules = {name: GaussianDiffusion(make_beta_schedule(name, T)).to(device) for name in ("linear", "cosine")}
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for name, d in schedules.items():
    axes[0].plot(d.alpha_bars.cpu(), label=name)
    axes[1].semilogy(d.snr().cpu(), label=name)
axes[0].set_title("alpha_bar_t")
axes[1].set_title("SNR(t) = alpha_bar / (1 - alpha_bar)")
axes[1].axhline(1, color="0.5", lw=0.8, ls="--")
for ax in axes:
    ax.set_xlabel("t (code index)")
    ax.legend()
fig.tight_layout()
plt.show()

rows = []
for name in ("linear", "cosine"):
    ab = torch.cumprod(1 - make_beta_schedule(name, T), 0)  # float64
    snr = ab / (1 - ab)
    rows.append((name, int(torch.nonzero(snr < 1)[0]), int((ab < 1e-3).sum()), int((ab > 0.999).sum()), "%.1e" % ab[-1]))
display(Markdown(plotting.markdown_table(
    ["schedule", "first t with SNR < 1", "steps with alpha_bar < 0.001 (almost pure noise)", "steps with alpha_bar > 0.999", "alpha_bar at t = 999"], rows)))

# %% [markdown]
# ## 5. Linear vs cosine · 线性与余弦
#
# The table says it: with the linear schedule the signal is outweighed by noise (SNR < 1) about a quarter of the
# way in, and many of its last steps see almost pure noise — steps a 32 × 32 image wastes. The cosine schedule
# spends its steps more evenly. Same image, same noise, same $t$:

# %%
ts = [0, 100, 250, 400, 600, 800, 999]
for name, d in schedules.items():
    noisy = d.q_sample(digit.repeat(len(ts), 1, 1, 1), torch.tensor(ts, device=device),
                       noise=torch.randn(1, 1, 32, 32, generator=make_generator(3, device), device=device).repeat(len(ts), 1, 1, 1))
    fig = plotting.show_images(list(noisy.cpu()), titles=[f"t={t}" for t in ts], size=1.3, suptitle=f"{name} schedule")
    plt.show()

# %% [markdown]
# ## 6. Noise vs blur · 噪声与模糊
#
# The notes remark that Gaussian **blur** can also play the role of the degradation: blur more and more until
# only the mean colour is left, and learn to undo it ("cold diffusion", Bansal et al., NeurIPS 2023; "inverse
# heat dissipation", Rissanen et al., ICLR 2023). Side by side:

# %%
sigmas = [0.0, 1.0, 2.0, 4.0, 8.0, 16.0]
blurred = [data.gaussian_blur(cat, sg)[0] for sg in sigmas]
cos_d = schedules["cosine"]
ts_b = [0, 150, 300, 450, 600, 750]
noised = cos_d.q_sample(cat.repeat(len(ts_b), 1, 1, 1), torch.tensor(ts_b, device=device), generator=make_generator(4, device))
fig = plotting.image_rows({"blur": [b.cpu() for b in blurred], "noise": list(noised.cpu())},
                          col_titles=[f"sigma={sg:g} | t={t}" for sg, t in zip(sigmas, ts_b)], size=1.6)
plt.show()

# %% [markdown]
# They are closer than they look. A natural image has most of its power at **low spatial frequencies**; white
# noise has the same power at every frequency. So as the noise level rises it drowns the weak, fine details first
# and the coarse shapes last — noise, like blur, erases an image from fine to coarse. The curves below show the
# cat's power spectrum, scaled by $\bar\alpha_t$, against the noise floor $1-\bar\alpha_t$ (orthonormal FFT, so white
# noise of variance $v$ has power $v$ at every frequency): wherever the signal is under the floor, that detail is gone.

# %%
gray = cat.mean(1)[0].cpu().double()  # (128, 128)
power = torch.fft.fftshift(torch.fft.fft2(gray - gray.mean(), norm="ortho").abs() ** 2)
yy, xx = torch.meshgrid(torch.arange(128) - 64, torch.arange(128) - 64, indexing="ij")
radius = (yy**2 + xx**2).sqrt().round().long().flatten()
radial = torch.bincount(radius, weights=power.flatten()) / torch.bincount(radius)
freqs = torch.arange(1, 64)
fig, ax = plt.subplots(figsize=(6, 3.2))
ab_cos = cos_d.alpha_bars.cpu().double()
for t in (100, 300, 500, 700):
    line, = ax.loglog(freqs / 128, ab_cos[t] * radial[1:64], label=f"signal at t={t}")
    ax.axhline(1 - ab_cos[t], color=line.get_color(), ls="--", lw=0.8)
ax.set_xlabel("spatial frequency (cycles / pixel)")
ax.set_ylabel("power")
ax.set_title("Signal spectrum vs noise floor (dashed), cosine schedule")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# The difference that matters: blur is *deterministic* and, at large σ, not invertible in practice, while noise
# is random and every $x_t$ still has a simple Gaussian relation to $x_0$ (Eq. 01.3). That Gaussian structure is
# what gives the reverse process its tractable form in lesson 02. For SR the connection runs the other way: the
# degradation of Eq. 00.1 *is* a blur plus downsampling, and conditioning on it (lesson 04) tells the reverse
# process which coarse image to keep.

# %% [markdown]
# ## 7. Play with it: the noising widget · 加噪交互
#
# Move **t**, switch the **schedule**, pick an **image**. You see $x_t$, the histogram of its pixels against
# $\mathcal N(0, 1)$, and $\bar\alpha_t$ and $\mathrm{SNR}(t)$ with a marker at $t$. The noise $\varepsilon$ is fixed,
# so the slider moves one image along its path from data to noise. Try: at which $t$ can you no longer tell the
# digit? Is it the same $t$ for both schedules? (The widget needs a running kernel; a static strip follows.)

# %% tags=["nbval-ignore-output"]
from course_lib.teaching.widgets import NoisingWidget, noising_strip

images = {
    "digit 0": digit[0],
    "digit 7": digits[7].to(device),
    "chelsea (crop)": data.downsample(cat, 2)[0],
    "zero image": torch.zeros_like(digit[0]),
}
widget = NoisingWidget(images, schedules, t=250, seed=0)
widget

# %% [markdown]
# What the widget shows is what `noising_view` computes. For the zero image $x_t = \sqrt{1-\bar\alpha_t}\,\varepsilon$,
# so the noise coefficient it reports must be exactly $\sqrt{1-\bar\alpha_t}$ and the pixel std close to it:

# %%
widget.image.value, widget.schedule.value, widget.t_slider.value = "zero image", "cosine", 500
view = widget.view
ab = schedules["cosine"].alpha_bars[500].item()
assert view["t"] == 500 and abs(view["alpha_bar"] - ab) < 1e-7
assert torch.allclose(view["x_t"], math.sqrt(1 - ab) * view["noise"], atol=1e-6)
assert abs(view["std"] - math.sqrt(1 - ab)) < 0.1
print("widget at t = 500, cosine, zero image: noise coefficient = sqrt(1 - alpha_bar) =", round(view["noise_coef"], 4))

# %%
fig = noising_strip(schedules["cosine"], images["chelsea (crop)"], [0, 100, 200, 300, 400, 500, 700, 999],
                    title="Static strip: x_t for the cosine schedule (same noise at every t)")
plt.show()

# %% [markdown]
# ## Recap · 小结
#
# * One step: $x_t = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\varepsilon$ (Eq. 01.1); the square root keeps the variance at 1.
# * $\alpha_t = 1-\beta_t$, $\bar\alpha_t = \prod_s \alpha_s$ (Eq. 01.2), and the closed form
#   $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ (Eq. 01.3) — checked above against the chain.
# * $\mathrm{SNR}(t) = \bar\alpha_t / (1-\bar\alpha_t)$ (Eq. 01.4) summarises a schedule; linear (Eq. 01.5) wastes
#   steps on pure noise at 32 × 32, cosine (Eq. 01.6) does not.
# * Code counts $t$ from 0: `alpha_bars[t]` is the paper's $\bar\alpha_{t+1}$.
#
# ## Exercises · 练习
#
# **Exercise 01.1 — ᾱ from β.** Write `alpha_bars_from_betas(betas)`: `(T,)` → `(T,)`, Eq. 01.2.

# %%
from course_lib.teaching.exercises.lesson01 import check_alpha_bars, check_q_sample, check_snr_crossing


def alpha_bars_from_betas(betas):
    """(T,) betas -> (T,) alpha_bars, where alpha_bars[t] = prod_{s <= t} (1 - betas[s])."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_alpha_bars(alpha_bars_from_betas)

# %% jupyter={"source_hidden": true} tags=["solution"]
def alpha_bars_from_betas(betas):
    """(T,) betas -> (T,) alpha_bars, where alpha_bars[t] = prod_{s <= t} (1 - betas[s])."""
    return torch.cumprod(1 - betas, dim=0)


check_alpha_bars(alpha_bars_from_betas)

# %% [markdown]
# **Exercise 01.2 — `q_sample` yourself.** Write `q_sample_by_hand(x0, t, noise, alpha_bars)` for `x0` and `noise`
# `(B, C, H, W)`, integer `t` `(B,)` (code index) and `alpha_bars` `(T,)`: return $x_t$ of Eq. 01.3.

# %%
def q_sample_by_hand(x0, t, noise, alpha_bars):
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise, for a batch with one t per image."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_q_sample(q_sample_by_hand)

# %% jupyter={"source_hidden": true} tags=["solution"]
def q_sample_by_hand(x0, t, noise, alpha_bars):
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise, for a batch with one t per image."""
    ab = alpha_bars[t].view(-1, 1, 1, 1)  # (B,) -> (B, 1, 1, 1) to broadcast over C, H, W
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


check_q_sample(q_sample_by_hand)

# %% [markdown]
# **Exercise 01.3 — where is the image half gone?** Write `snr_crossing(alpha_bars, level)`: the first (0-based)
# `t` with $\mathrm{SNR}(t) <$ `level` (Eq. 01.4), as an `int`.

# %%
def snr_crossing(alpha_bars, level):
    """First 0-based t with alpha_bars[t] / (1 - alpha_bars[t]) < level."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_snr_crossing(snr_crossing)

# %% jupyter={"source_hidden": true} tags=["solution"]
def snr_crossing(alpha_bars, level):
    """First 0-based t with alpha_bars[t] / (1 - alpha_bars[t]) < level."""
    snr = alpha_bars / (1 - alpha_bars)
    return int(torch.nonzero(snr < level)[0])


check_snr_crossing(snr_crossing)

# %% [markdown]
# **Exercise 01.4 (open).** Make the linear schedule with $T = 250$ (`make_beta_schedule("linear", 250)`). Where does
# its SNR cross 1, as a fraction of $T$? Why does the $1000/T$ scaling of Eq. 01.5 keep that fraction about the same?

# %%
from course_lib.teaching import exercises

exercises.summary("01")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# * J. Ho, A. Jain, P. Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020 — Eq. 01.1–01.3, the linear schedule.
# * A. Nichol, P. Dhariwal, *Improved Denoising Diffusion Probabilistic Models*, ICML 2021 — the cosine schedule.
# * J. Sohl-Dickstein et al., *Deep Unsupervised Learning using Nonequilibrium Thermodynamics*, ICML 2015 — the original forward process.
# * D. Kingma, T. Salimans, B. Poole, J. Ho, *Variational Diffusion Models*, NeurIPS 2021 — schedules through the SNR.
# * A. Bansal et al., *Cold Diffusion: Inverting Arbitrary Image Transforms Without Noise*, NeurIPS 2023 — blur instead of noise.
# * S. Rissanen, M. Heinonen, A. Solin, *Generative Modelling with Inverse Heat Dissipation*, ICLR 2023.
#
# **Next:** 02 — the reverse process and the ε-prediction loss (反向生成过程).
