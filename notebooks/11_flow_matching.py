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
# # 11 — Flow matching and rectified flow: straight paths to fewer steps · 流匹配与整流流
#
# The notes' acceleration path ends DDIM → PNDM → LCM (lesson 06). Since then the field moved: Stable Diffusion 3 and
# Flux are trained by **flow matching** (流匹配) on a straight **probability path** (概率路径) between noise and data,
# and diffusers' `FlowMatchEulerDiscreteScheduler` drives more of its pipelines than any other scheduler. This lesson
# shows that, on lesson 04's SR task with lesson 04's U-Net, **only two things change — the path and the target** —
# and asks what that buys: quality at equal training compute, quality at few network evaluations, straighter paths.
#
# **Objectives.** After this lesson you can
# 1. write the linear path between data and noise (Eq. 11.1), its conditional velocity (Eq. 11.2) and the marginal
#    velocity (Eq. 11.3), and say which end is which in the course's and diffusers' conventions;
# 2. derive why the conditional flow-matching loss has the marginal loss's gradient (Eq. 11.4), and check it
#    numerically on a mixture whose marginal velocity is known in closed form;
# 3. train a flow by hand, sample it with Euler (Eq. 11.5) and check the step against `course_lib` and diffusers;
# 4. see why marginal paths bend although every conditional path is straight, measure straightness (Eq. 11.6), and
#    straighten the paths by **reflow** (再整流);
# 5. translate between v, ε, x̂₀ and the score (Eq. 11.7), and see that lesson 01's VP path is the linear path rescaled,
#    so that DDIM is Euler on it (Eq. 11.8);
# 6. read a comparison at equal training CPU-minutes, an NFE race from 1 to 50 evaluations, and the LR → HR path that
#    SR allows.
#
# **Prerequisites.** Lesson 01 (the forward process, ᾱ), lesson 02 (ε, x̂₀ and v; the training loop), lesson 04 (the
# SR3-style model: residual target, U(y) concatenated), lesson 05 (patch SWD, agreement, the verdict rule), lesson 06
# (DDIM, the probability-flow ODE, the consistency student, the NFE race), lesson 09 (quality against CPU-minutes).
#
# **Run time.** Under a minute on a 2-core CPU (README's syllabus lists the measured time): the 2-D parts train live in
# a few seconds. The digits experiment — five training runs of up to 15 CPU-minutes, a race of eight samplers at six
# budgets, straightness — is cached (`data/cache/flow.json` by `make flow`, whose README line gives its time).

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
import copy
import json
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from course_lib import stats
from course_lib.datasets import DigitsSR
from course_lib.device import get_device, per_image_generators, randn
from course_lib.engine.harness import LIVE_INDICES, image_seeds, load_table
from course_lib.engine.pretrained import load
from course_lib.files import data_dir
from course_lib.models.toy import MLPDenoiser
from course_lib.paths import GaussianMixture, LinearPath, straightness, vp_to_linear
from course_lib.samplers import make_sampler, sample
from course_lib.samplers.flow import FlowEulerSampler, flow_timesteps
from course_lib.teaching import plotting

device = get_device()
torch.manual_seed(0)
print(f"running on {device}")

# %% [markdown]
# ## 1. A path and its velocity · 概率路径与速度场
#
# Diffusion (lesson 01) walks from the data to noise along a curve fixed by ᾱ_t. Flow matching takes the simplest
# path there is — the straight line between a data point x₀ and a draw of the **source** x₁ (noise, N(0, I)):
#
# $$x_t = (1 - t)\,x_0 + t\,x_1, \qquad t \in [0, 1] \qquad \text{(Eq. 11.1)}$$
#
# **t = 0 is the data, t = 1 the source** — the convention of rectified flow, SD3 and diffusers, whose
# `FlowMatchEulerDiscreteScheduler` writes σ for our t (x_σ = (1 − σ)·x₀ + σ·noise, and feeds σ·1000 to the network).
# Lipman et al.'s paper runs the other way (t = 1 is the data): read which end is which before copying a formula.
# Along one line the state moves at the constant **conditional velocity** (条件速度)
#
# $$u_t(x_t \mid x_0, x_1) = \frac{d x_t}{dt} = x_1 - x_0 \qquad \text{(Eq. 11.2)}$$
#
# pointing from the data to the source; sampling walks it backwards, from t = 1 to 0. Here is a 2-D data set — three
# Gaussian blobs — with the straight lines between 60 independent (x₀, x₁) pairs:

# %%
mix = GaussianMixture(torch.tensor([[2.5, 0.0], [-1.25, 2.165], [-1.25, -2.165]]), std=0.25)
g2 = torch.Generator().manual_seed(11)
x0_2d, x1_2d = mix.sample(60, g2), torch.randn(60, 2, generator=g2)
path = LinearPath()
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, t in zip(axes, (1.0, 0.5, 0.0)):
    for a, b in zip(x0_2d, x1_2d):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="grey", lw=0.5, alpha=0.6)
    xt = path.q_sample(x0_2d, t, x1_2d)  # Eq. 11.1
    ax.scatter(xt[:, 0], xt[:, 1], s=10, color="C3")
    ax.set(title=f"x_t at t = {t:g}", xlim=(-4, 4), ylim=(-4, 4), aspect="equal")
axes[0].set_xlabel("every line runs from a data point (t = 0) to its noise (t = 1)")
plt.tight_layout()
plt.show()
D, E = x1_2d - x0_2d, x0_2d  # line i: E_i + a·D_i, a in [0, 1]; lines i, j cross where both parameters lie in (0, 1)
M = torch.stack([D[:, None].expand(60, 60, 2), -D[None].expand(60, 60, 2)], -1)
M = M + 1e-9 * torch.eye(2)  # parallel lines: no crossing, no singular solve
a = torch.linalg.solve(M, E[None] - E[:, None])
crossings = int((((a > 0) & (a < 1)).all(-1)).triu(1).sum())
print(f"{crossings} of the {60 * 59 // 2} pairs of lines cross")

# %% [markdown]
# ## 2. The marginal velocity and the conditional loss · 边缘速度与条件流匹配损失
#
# A network sees x_t, not the pair it came from. Many lines pass through the same x at time t, so the best it can do
# is their average direction — the **marginal velocity** (边缘速度):
#
# $$u_t(x) = \mathbb E\,[\,x_1 - x_0 \mid x_t = x\,] \qquad \text{(Eq. 11.3)}$$
#
# Its ODE dx/dt = u_t(x), run from t = 1 down to 0, carries the source distribution onto the data's (Liu et al.;
# Lipman et al.; Albergo & Vanden-Eijnden, all ICLR 2023). We cannot compute u_t for images — it averages over the
# whole data set — but we can regress on the conditional velocity instead, the **conditional flow-matching loss**
# (条件流匹配损失):
#
# $$\mathcal L_{\mathrm{CFM}}(\theta) = \mathbb E_{t,\,x_0,\,x_1}\,\big\| v_\theta(x_t, t) - (x_1 - x_0) \big\|^2 \qquad \text{(Eq. 11.4)}$$
#
# **Why this works.** Expand the square: ‖v‖² − 2 v·(x₁ − x₀) + ‖x₁ − x₀‖². Conditioned on x_t, v is fixed and the
# middle term averages to v·u_t(x_t) (Eq. 11.3). So L_CFM = E‖v_θ − u_t‖² + (E‖x₁ − x₀‖² − E‖u_t‖²): the marginal
# loss plus a constant that does not depend on θ. **Same gradient, same minimiser** v* = u_t — though L_CFM never
# reaches 0: its floor is the variance of the lines through each point.
#
# Checked numerically: for three blobs the marginal velocity has a closed form (`GaussianMixture.marginal_velocity`:
# given the blob, (x₀, x₁) are jointly Gaussian, so E[x₁ − x₀ | x_t] is a weighted sum of linear maps). For a model
# that is linear in a few features, v = W φ(x_t, t), each sample's gradient is 2(v − target) φᵀ, so we can compare
# the two losses' gradients on the same 200,000 draws — and their difference with its standard error:

# %%
n = 200_000
g = torch.Generator().manual_seed(0)
x0s, x1s, ts = mix.sample(n, g).double(), torch.randn(n, 2, generator=g, dtype=torch.float64), torch.rand(n, generator=g).double()
xts = (1 - ts[:, None]) * x0s + ts[:, None] * x1s  # Eq. 11.1
phi = torch.cat([xts, ts[:, None], xts * ts[:, None], xts**2, torch.ones(n, 1, dtype=torch.float64)], 1)
W = 0.1 * torch.randn(2, phi.shape[1], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
v = phi @ W.T
per_sample_cfm = 2 * (v - (x1s - x0s))[:, :, None] * phi[:, None, :]  # ∂/∂W of Eq. 11.4's square
per_sample_fm = 2 * (v - mix.marginal_velocity(xts, ts).double())[:, :, None] * phi[:, None, :]  # … of the marginal loss
diff = (per_sample_cfm - per_sample_fm).flatten(1)
se = diff.std(0) / math.sqrt(n)
grad = per_sample_fm.flatten(1).mean(0)
print(f"largest |∇L_CFM − ∇L_FM| over its standard error: {float((diff.mean(0).abs() / se).max()):.2f} (noise: below ~3)")
print(f"largest |∇L_FM| over the same standard error:    {float((grad.abs() / se).max()):.0f} (the gradient itself)")
assert (diff.mean(0).abs() < 4 * se).all() and (grad.abs() / se).max() > 50

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
grid = torch.stack(torch.meshgrid(torch.linspace(-3.5, 3.5, 17), torch.linspace(-3.5, 3.5, 17), indexing="xy"), -1).reshape(-1, 2)
for ax, t in zip(axes, (0.9, 0.5, 0.15)):
    u = mix.marginal_velocity(grid, t)
    ax.quiver(grid[:, 0], grid[:, 1], -u[:, 0], -u[:, 1], color="C0", angles="xy", scale=40)  # −u: the sampling direction
    ax.scatter(*mix.means.T * (1 - t), color="C3", s=20)
    ax.set(title=f"−u_t(x) at t = {t:g} (the way sampling moves)", xlim=(-3.8, 3.8), ylim=(-3.8, 3.8), aspect="equal")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Training and sampling by hand · 手写训练与欧拉采样
#
# Lesson 02's training loop, with **two lines changed** — the path (Eq. 11.1 instead of √ᾱ x₀ + √(1 − ᾱ) ε) and the
# target (x₁ − x₀ instead of ε). The same small MLP as lesson 02 plays v_θ; it sees t·1000, as diffusers and SD3 feed
# it, so the same sinusoidal embedding serves:

# %%
def train_flow(net, steps, pairs=None, seed=0, learning_rate=2e-3, batch=256):
    """Eq. 11.4 by hand. ``pairs``: coupled (x1, x0) to train on (reflow); else independent draws."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
    losses = []
    for _ in range(steps):
        if pairs is None:
            x0, x1 = mix.sample(batch, gen), torch.randn(batch, 2, generator=gen)
        else:
            idx = torch.randint(0, len(pairs[0]), (batch,), generator=gen)
            x1, x0 = pairs[0][idx], pairs[1][idx]
        t = torch.rand(batch, generator=gen)
        x_t = (1 - t[:, None]) * x0 + t[:, None] * x1  # Eq. 11.1   (lesson 02: √ᾱ x₀ + √(1 − ᾱ) ε)
        loss = ((net(x_t, 1000 * t) - (x1 - x0)) ** 2).mean()  # Eq. 11.4   (lesson 02: ‖ε_θ − ε‖²)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


torch.manual_seed(0)
flow_2d = MLPDenoiser(dim=2, hidden=128, layers=3)
losses = train_flow(flow_2d, 1500)
flow_2d.eval()
print(f"loss: {sum(losses[:50]) / 50:.3f} over the first 50 steps → {sum(losses[-200:]) / 200:.3f} over the last 200 "
      "(it cannot reach 0: the lines through a point disagree)")

# %% [markdown]
# Sampling integrates dx/dt = v_θ(x, t) from t = 1 to 0. Euler's method on a grid 1 = t₀ > t₁ > … > t_N = 0:
#
# $$x_{t_{k+1}} = x_{t_k} + (t_{k+1} - t_k)\, v_\theta(x_{t_k}, t_k) \qquad \text{(Eq. 11.5)}$$
#
# — t_{k+1} − t_k is negative: the state moves *against* v, towards the data. By hand, then `course_lib`'s
# `FlowEulerSampler` through the one sampling loop, then diffusers' scheduler on the same velocities:

# %%
try:
    from diffusers import FlowMatchEulerDiscreteScheduler
except ImportError:  # a Colab without diffusers: tests/test_flow.py runs the same check
    FlowMatchEulerDiscreteScheduler = None

velocity = lambda x, t_scaled, cond=None: flow_2d(x, t_scaled)  # noqa: E731  (the loop passes t·1000)
src = torch.randn(2000, 2, generator=torch.Generator().manual_seed(5))
with torch.no_grad():
    x, times = src.clone(), flow_timesteps(8)
    for t, t_next in zip(times[:-1], times[1:]):
        x = x + (t_next - t) * velocity(x, torch.full((len(x),), 1000 * t))  # Eq. 11.5
    ours = sample(velocity, FlowEulerSampler(path, steps=8), src)
    xd = src.clone()
    if FlowMatchEulerDiscreteScheduler is not None:  # diffusers' σ is our t; it feeds σ·1000 to the network
        scheduler = FlowMatchEulerDiscreteScheduler()
        scheduler.set_timesteps(sigmas=times[:-1])
        for ts_ in scheduler.timesteps:
            xd = scheduler.step(velocity(xd, ts_.expand(len(xd)).float()), ts_, xd).prev_sample
print(f"max |by hand − course_lib| = {float((x - ours).abs().max()):.1e}, max |by hand − diffusers| = {float((x - xd).abs().max()):.1e}")
assert torch.allclose(x, ours, atol=1e-5) and (FlowMatchEulerDiscreteScheduler is None or torch.allclose(x, xd, atol=1e-4))

fig, axes = plt.subplots(1, 5, figsize=(13, 2.8), sharex=True, sharey=True)
data = mix.sample(2000, torch.Generator().manual_seed(6))
axes[0].scatter(*data.T, s=1, color="k")
axes[0].set_title("data")
with torch.no_grad():
    for ax, steps in zip(axes[1:], (1, 2, 8, 50)):
        out = sample(velocity, FlowEulerSampler(path, steps), src)
        ax.scatter(*out.T, s=1, color="C0")
        ax.set_title(f"Euler, NFE {steps}")
for ax in axes:
    ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal")
plt.tight_layout()
plt.show()

# %% [markdown]
# With one step, Euler jumps from x₁ straight to x₁ − v_θ(x₁, 1): the *average* direction from that noise — the mean
# of the data, smeared. The lines through a point disagree, so the ODE's paths are not the lines.
#
# ## 4. Paths bend, and reflow straightens them · 路径的弯曲与再整流
#
# The straight conditional lines cross (section 1). The marginal flow's trajectories cannot cross — two solutions of
# one ODE through the same point at the same t are the same solution — so they **bend** around each other. Straightness
# (直线度) measures it, along a sampled trajectory x(t) from x(1) to x(0) (Liu et al. 2023, Eq. 9, and the excess length):
#
# $$S = \int_0^1 \mathbb E\,\big\| (x(1) - x(0)) - \dot x(t) \big\|^2 dt, \qquad \text{excess} = \frac{\text{length of the path}}{\| x(1) - x(0) \|} - 1 \qquad \text{(Eq. 11.6)}$$
#
# both 0 for a straight path walked at constant speed. A straight path is what Euler integrates exactly in **one** step.
# **Reflow** (Liu et al. 2023, §2.2): sample the trained flow from many x₁, keep each x₁ *with* the x₀ it reached — a
# coupled pair — and retrain on those pairs, starting from the trained weights. Lines between coupled pairs cross far
# less, so the new flow (2-rectified flow, 2-RF) is straighter. Live, on the blobs:

# %%
with torch.no_grad():
    pair_src = torch.randn(4000, 2, generator=torch.Generator().manual_seed(7))
    pairs = (pair_src, sample(velocity, FlowEulerSampler(path, 100), pair_src))  # (x1, x0): coupled
reflow_2d = copy.deepcopy(flow_2d).train()  # from the 1-RF weights, as Liu et al. do
reflow_losses = train_flow(reflow_2d, 800, pairs=pairs, seed=1, learning_rate=5e-4)
reflow_2d.eval()
velocity2 = lambda x, t_scaled, cond=None: reflow_2d(x, t_scaled)  # noqa: E731


def trajectory(field, x1, steps=50):
    """(steps + 1, B, 2): the Euler states from t = 1 to 0."""
    states = [x1]
    sample(field, FlowEulerSampler(path, steps), x1, callback=lambda s: states.append(s.x))
    return torch.stack(states)


test_src = torch.randn(300, 2, generator=torch.Generator().manual_seed(8))
with torch.no_grad():
    exact = trajectory(lambda x, ts, c=None: mix.marginal_velocity(x, ts / 1000), test_src)  # the true marginal flow
    traj1, traj2 = trajectory(velocity, test_src), trajectory(velocity2, test_src)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.7))
for ax, tr, title in zip(axes, (exact, traj1, traj2), ("the exact marginal flow", "1-RF (trained)", "2-RF (after reflow)")):
    for i in range(60):
        ax.plot(tr[:, i, 0], tr[:, i, 1], lw=0.6, color="C0", alpha=0.7)
    ax.scatter(*tr[-1, :60].T, s=6, color="C3")
    s = straightness(tr)
    ax.set(title=f"{title}\nexcess length {float(s['excess_length'].mean()):.3f}", xlim=(-4, 4), ylim=(-4, 4), aspect="equal")
plt.tight_layout()
plt.show()
e1, e2 = straightness(traj1)["excess_length"], straightness(traj2)["excess_length"]
one_step = {name: sample(f, FlowEulerSampler(path, 1), test_src).detach() for name, f in (("1-RF", velocity), ("2-RF", velocity2))}
on_blob = {k: float(((v[:, None] - mix.means[None].float()).norm(dim=-1).min(1).values < 3 * mix.std).float().mean())
           for k, v in one_step.items()}
d = stats.paired_difference(e2, e1)
print(f"excess length, 2-RF − 1-RF on 300 sources: {d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}] (95 %, this run)")
print(f"one Euler step lands on a blob (within 3 sd): 1-RF {100 * on_blob['1-RF']:.0f} %, 2-RF {100 * on_blob['2-RF']:.0f} %")
assert d.high < 0 and on_blob["2-RF"] > on_blob["1-RF"]

# %% [markdown]
# The exact marginal flow bends (the blobs' sources have to split three ways); the trained 1-RF follows it; 2-RF,
# trained on its own coupled pairs, walks nearly straight lines — and one Euler step then lands near the data. Reflow's
# cost: every pair is a full ODE solve of the first flow (here 100 evaluations each), charged to the 2-RF model.
#
# ## 5. The dictionary: v, ε, x̂₀ and the score · 速度、噪声、x̂₀ 与分数的换算
#
# From x_t, a velocity says where both ends are — walk t·v down to the data or (1 − t)·v up to the source:
#
# $$\hat x_0 = x_t - t\,v, \qquad \hat x_1 = x_t + (1 - t)\,v, \qquad v = \hat x_1 - \hat x_0 = \frac{x_t - \hat x_0}{t}, \qquad \nabla_x \log p_t(x_t) = -\frac{\hat x_1}{t} \qquad \text{(Eq. 11.7)}$$
#
# (with σ_s = 1, x̂₁ is lesson 02's ε̂; the score is Tweedie's, q(x_t | x₀) = N((1 − t)x₀, t² I)). And lesson 01's VP
# path is **the linear path rescaled**: divide x_t^VP = √ᾱ x₀ + √(1 − ᾱ) ε by √ᾱ + √(1 − ᾱ):
#
# $$\frac{x_t^{\mathrm{VP}}}{\sqrt{\bar\alpha} + \sqrt{1 - \bar\alpha}} = (1 - s)\,x_0 + s\,\varepsilon, \qquad s = \frac{\sqrt{1 - \bar\alpha}}{\sqrt{\bar\alpha} + \sqrt{1 - \bar\alpha}} \qquad \text{(Eq. 11.8)}$$
#
# So a trained ε- or x₀-model **already defines a velocity**, v = ε̂ − x̂₀, and lesson 06's probability-flow ODE is a
# flow. DDIM writes x_{t'} = √ᾱ' x̂₀ + √(1 − ᾱ') ε̂: divided by its scale it is (1 − s')x̂₀ + s'ε̂ — one Euler step of
# Eq. 11.5 from s to s' with v = ε̂ − x̂₀. **DDIM is Euler on the linear path.** Checked on the shipped SR3-style
# model — one DDIM step of its network against one Euler step in the linear path's coordinates:

# %%
hr8, y8 = (t.to(device) for t in DigitsSR("test", scale=4).tensors(list(LIVE_INDICES[:8])))
sr3 = load("digits_sr3_concat", device)
ddim = make_sampler("ddim", sr3.process, 10, sr3.model.prediction)
t_i, t_j = ddim.timesteps[3], ddim.timesteps[4]
x_vp = randn(hr8.shape, per_image_generators(image_seeds(LIVE_INDICES[:8])), device)
with torch.no_grad():
    out = sr3.model(x_vp, torch.full((8,), t_i, device=device), y8)
    ddim_step = ddim.step(out, t_i, t_j, x_vp).prev_sample
    eps_hat, x0_hat = sr3.process.eps_and_x0(out, x_vp, torch.full((8,), t_i, device=device), sr3.model.prediction)
(s_i, scale_i), (s_j, scale_j) = vp_to_linear(sr3.process.alpha_bars[t_i]), vp_to_linear(sr3.process.alpha_bars[t_j])
euler_step = x_vp / scale_i + (s_j - s_i) * (eps_hat - x0_hat)  # Eq. 11.5 with v = ε̂ − x̂₀ (Eq. 11.8)
print(f"DDIM from index {t_i} to {t_j} is Euler from s = {float(s_i):.3f} to {float(s_j):.3f}: "
      f"max difference {float((ddim_step / scale_j - euler_step).abs().max()):.1e}")
assert torch.allclose(ddim_step / scale_j, euler_step, atol=1e-4)

# %% [markdown]
# ## 6. Flow matching for SR: two lines changed · 超分中的流匹配
#
# The shipped flow model `digits_flow_sr` is lesson 04's `digits_sr3_concat` with the path and the target changed:
# the same U-Net, the same U(y) concatenated, the same residual x₀ = x_HR − U(y) (Eq. 04.4) — now carried along
# Eq. 11.1 from x₁ = ε, the network regressing x₁ − x₀. Beside the name, description and step count, their configs
# differ in the method and the prediction — the path and the target — and in the learning rate and EMA decay of the
# experiment's arms (section 7), which the SR3-style arm trained there shares:

# %%
configs = {name: json.loads((data_dir() / "checkpoints" / f"{name}.json").read_text()) for name in ("digits_sr3_concat", "digits_flow_sr")}
changed = sorted(k for k in set(configs["digits_sr3_concat"]) | set(configs["digits_flow_sr"])
                 if k not in ("name", "description", "steps", "checkpoint_every") and configs["digits_sr3_concat"].get(k) != configs["digits_flow_sr"].get(k))
display(Markdown(plotting.markdown_table(["entry", "digits_sr3_concat", "digits_flow_sr"],
                                         [[k, str(configs["digits_sr3_concat"].get(k)), str(configs["digits_flow_sr"].get(k))] for k in changed])))
flow_sr = load("digits_flow_sr", device)
fpath, fmodel = flow_sr.process, flow_sr.model
x0 = fmodel.target(hr8, y8)
gd = torch.Generator().manual_seed(3)
x1, t = torch.randn(x0.shape, generator=gd).to(device), torch.rand(8, generator=gd).to(device)
with torch.no_grad():
    x_t = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * x1  # Eq. 11.1 by hand
    by_hand = ((fmodel(x_t, 1000 * t, y8) - (x1 - x0)) ** 2).mean()  # Eq. 11.4 by hand
    library = fpath.loss(fmodel, x0, y8, t=t, x1=x1)
print(f"the loss on 8 digits: by hand {by_hand:.5f}, LinearPath.loss {library:.5f}")
assert torch.allclose(by_hand, library, atol=1e-6)

# %% [markdown]
# What the shipped flow predicts along one path: x_t in image coordinates (U(y) + x_t), and the x̂₀ = x_t − t·v of
# Eq. 11.7 at each t — one network call from any point of the path gives a guess of the end:

# %%
k = 3
x1k = randn((1, 1, 32, 32), per_image_generators(image_seeds([LIVE_INDICES[k]])), device)
x0k = fmodel.target(hr8[k:k + 1], y8[k:k + 1])
shown = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
fig, axes = plt.subplots(2, len(shown) + 1, figsize=(12, 3.9))
with torch.no_grad():
    for j, t in enumerate(shown):
        xt = fpath.q_sample(x0k, t, x1k)
        v = fmodel(xt, torch.full((1,), 1000.0 * t, device=device), y8[k:k + 1])
        axes[0, j].imshow(plotting.to_display(fmodel.to_image(xt, y8[k:k + 1])[0]), cmap="gray", vmin=0, vmax=255)
        axes[1, j].imshow(plotting.to_display(fmodel.to_image(fpath.predict_x0(xt, t, v), y8[k:k + 1])[0]), cmap="gray", vmin=0, vmax=255)
        axes[0, j].set_title(f"x_t, t = {t:g}", fontsize=8)
        axes[1, j].set_title("x̂₀ = x_t − t·v", fontsize=8)
axes[0, -1].imshow(plotting.to_display(hr8[k]), cmap="gray", vmin=0, vmax=255)
axes[0, -1].set_title("HR", fontsize=8)
axes[1, -1].imshow(plotting.to_display(fmodel.upsampled(y8[k:k + 1])[0]), cmap="gray", vmin=0, vmax=255)
axes[1, -1].set_title("U(y)", fontsize=8)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7. Equal training compute · 同等训练算力
#
# **Fixed in `course_lib/experiments/flow.py` before the first run:** five arms, all the shipped SR3-style recipe (×4
# digits, the residual target, U(y) concatenated, the same U-Net of 620,593 parameters, batch 64, EMA 0.99, learning
# rate 10⁻³ — the rate lesson 10's pilots chose for this U-Net), differing only in the path and the target:
# `sr3_style` (lesson 01's VP path, x₀-prediction: the reference, retrained here so that every curve comes from the
# same machine and run), `flow` (1-rectified flow, noise → HR), `bridge` (the LR → HR path of section 11),
# `flow_logit_normal` (section 10) and `reflow` (2-rectified flow: `flow`'s final weights trained on 8,000 coupled
# pairs that `flow` made, its clock starting at `flow`'s 15 CPU-minutes *plus* the pairs' cost). Each trains 15
# CPU-minutes on one thread; every 3 its EMA restores lesson 05's 100 curve digits at 50 network evaluations (DDIM-50
# for SR3-style, Euler-50 for the flows), image i from its own seed. The margins of "as good" (`MARGINS`): 0.5 dB of
# PSNR, 1 dB of consistency, 3 points of agreement, 10 % of the second arm's patch SWD and 25 % of its Fréchet
# distance. One training run per arm: every verdict is **on this run**.

# %%
fl = json.loads((data_dir() / "cache" / "flow.json").read_text())
arms = fl["arms"]
STYLE = {"sr3_style": ("SR3-style (VP, x₀)", "C3"), "flow": ("flow, 1-RF", "C0"), "reflow": ("2-RF (reflow)", "C1"),
         "bridge": ("LR → HR path", "C2"), "flow_logit_normal": ("flow, logit-normal t", "C4")}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for name, (label, color) in STYLE.items():
    pts = arms[name]["points"]
    minutes = [q["cpu_seconds"] / 60 for q in pts]
    axes[0].plot(minutes, [q["psnr"]["mean"] for q in pts], "o-", color=color, label=label)
    axes[1].plot(minutes, [q["patch_swd"] for q in pts], "o-", color=color, label=label)
axes[0].set(xlabel="training CPU-minutes (reflow: its pairs included)", ylabel="PSNR (dB), 100 digits, NFE 50")
axes[1].set(xlabel="training CPU-minutes", ylabel="patch SWD ↓", yscale="log")
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()
curve_comps = {(c["a"], c["b"]): c for c in fl["curve_comparisons"]}
KEYS = (("patch_swd", 5), ("frechet", 2), ("psnr", 2), ("consistency", 2), ("agreement", 3))
display(Markdown(plotting.markdown_table(
    ["A − B at the last common snapshot", "CPU-min", "Δ patch SWD ↓", "Δ Fréchet ↓", "Δ PSNR (dB)", "Δ consistency (dB)", "Δ agreement"],
    [[f"{STYLE[a][0]} − {STYLE[b][0]}", f"{c['snapshots'][-1]['cpu_seconds'] / 60:.0f}",
      *(plotting.verdict_text(c["snapshots"][-1][k], d, bold=True) for k, d in KEYS)] for (a, b), c in curve_comps.items()])))

# %%
# what the text below states, checked on the cache
fs, bs = curve_comps[("flow", "sr3_style")]["snapshots"], curve_comps[("bridge", "sr3_style")]["snapshots"]
assert [q["psnr"]["verdict"] for q in fs] == ["worse", "worse", "worse", "as good, within the margin", "worse"]
assert fs[0]["psnr"]["interval"]["estimate"] < -1 < -0.5 < fs[-1]["psnr"]["interval"]["estimate"] < 0
assert all(q["patch_swd"]["verdict"] == "as good, within the margin" for q in fs[1:]) and fs[0]["patch_swd"]["verdict"] == "worse"
assert all(q["consistency"]["verdict"] == "worse" for q in fs + bs) and all(q["frechet"]["verdict"] == "undecided" for q in fs[1:] + bs)
assert all(q["psnr"]["verdict"] == "worse" and q["patch_swd"]["verdict"] == "as good, within the margin" for q in bs)
assert arms["reflow"]["start_cpu_seconds"] > 1.4 * arms["flow"]["cpu_seconds"]
print(f"flow − SR3-style, PSNR: {fs[0]['psnr']['interval']['estimate']:+.2f} dB at 3 CPU-minutes, "
      f"{fs[-1]['psnr']['interval']['estimate']:+.2f} dB at 15; reflow starts at {arms['reflow']['start_cpu_seconds'] / 60:.1f} "
      f"CPU-minutes ({arms['reflow']['pair_cpu_seconds'] / 60:.1f} of them the 8,000 pairs)")

# %% [markdown]
# Reading it — **on this run**, one training run per arm:
#
# * **The flow catches up with SR3-style but does not pass it.** Three CPU-minutes in, the flow is worse in everything;
#   from 6 minutes on its realism is **as good** as SR3-style's within the 10 % margin (patch SWD; Fréchet undecided).
#   In PSNR it closes most of the gap and ends **worse**, its interval reaching past the 0.5 dB margin, and its
#   consistency with y is **worse** at every snapshot: x₀-prediction of the VP model pins the image to y more tightly.
# * **The LR → HR path** is as realistic as SR3-style at every snapshot and **worse** in PSNR (about 0.7 dB) — a shorter
#   path did not make a better model at equal compute here.
# * **2-RF** starts where the flow ended *plus* the pairs: 8,000 ODE solves of the flow cost almost half as much as its
#   training did. At 50 evaluations reflow changes little; what it is for shows at few steps (section 8).
#
# ## 8. The NFE race · 网络评估次数竞赛
#
# A second-order step spends two evaluations to cancel Euler's first error term — Heun's trapezoid and the midpoint
# rule (`"flow_heun"`, `"flow_midpoint"` in `course_lib/samplers/flow.py`):
#
# $$x_{t'} = x_t + (t' - t)\,\tfrac12\big[v(x_t, t) + v(\tilde x, t')\big], \quad \tilde x = x_t + (t' - t)\,v(x_t, t) \qquad \text{(Eq. 11.9)}$$
#
# $$x_{t'} = x_t + (t' - t)\, v\big(x_t + \tfrac{t' - t}{2}\, v(x_t, t),\ \tfrac{t + t'}{2}\big) \qquad \text{(Eq. 11.10)}$$
#
# Heun's last step, to t = 0, is plain Euler (as Karras et al.'s): at t = 0 the marginal velocity is E[x₁ − x₀ | x₀ = x]
# = −x, nothing like the (x − x̂₀)/t just above it. The midpoint rule never evaluates there and spends exactly 2 per
# step, so the race uses it. Every row on the same 100 digits and seeds at a budget of 1, 2, 4, 8, 16 and 50 network
# evaluations (the midpoint rule cannot spend 1): Euler and the midpoint rule on the flow; Euler on 2-RF, on the LR → HR
# path and on the logit-normal flow; DDIM and DPM-Solver++(2M) on the SR3-style arm; and lesson 06's consistency
# student (`digits_sr_consistency`, distilled from the shipped SR3-style model — trained longer than these arms).
# Realism first:

# %%
race = fl["race"]
RACE_STYLE = {"flow_euler": ("flow Euler", "C0", "o-"), "flow_midpoint": ("flow midpoint", "C0", "s--"),
              "reflow_euler": ("2-RF Euler", "C1", "o-"), "bridge_euler": ("LR → HR Euler", "C2", "o-"),
              "logit_normal_euler": ("logit-normal flow Euler (9 CPU-min)", "C4", "o:"), "sr3_ddim": ("SR3-style DDIM", "C3", "o-"),
              "sr3_dpmpp": ("SR3-style DPM-Solver++", "C3", "s--"), "consistency": ("consistency student", "C7", "^-")}
fig, axes = plt.subplots(1, 2, figsize=(11.5, 3.8))
for row, (label, color, fmt) in RACE_STYLE.items():
    cells = sorted(race[row].values(), key=lambda c: c["nfe"])
    axes[0].plot([c["nfe"] for c in cells], [c["patch_swd"] for c in cells], fmt, color=color, label=label)
    axes[1].plot([c["nfe"] for c in cells], [c["psnr"]["mean"] for c in cells], fmt, color=color, label=label)
axes[0].set(xscale="log", yscale="log", xlabel="network evaluations per image", ylabel="patch SWD ↓", title="realism")
axes[1].set(xscale="log", xlabel="network evaluations per image", ylabel="PSNR (dB)", title="distortion")
axes[1].legend(fontsize=7)
plt.tight_layout()
plt.show()
race_comps = {}
for c in fl["race_comparisons"]:
    race_comps.setdefault((c["a"], c["b"]), {})[c["nfe"]] = c
nfes = fl["rules"]["race_nfe"]
MAIN = [("flow_euler", "sr3_ddim"), ("flow_midpoint", "sr3_dpmpp"), ("flow_midpoint", "flow_euler"), ("reflow_euler", "flow_euler"),
        ("bridge_euler", "flow_euler"), ("reflow_euler", "consistency")]
short = {"as good, within the margin": "as good", "better, but within the margin": "better (within margin)",
         "worse, but within the margin": "worse (within margin)"}
display(Markdown(plotting.markdown_table(
    ["A − B: patch SWD / PSNR"] + [f"NFE {n}" for n in nfes],
    [[f"{RACE_STYLE[a][0]} − {RACE_STYLE[b][0]}"] + [
        (" / ".join(short.get(race_comps[(a, b)][n][k]["verdict"], race_comps[(a, b)][n][k]["verdict"]) for k in ("patch_swd", "psnr"))
         if n in race_comps[(a, b)] else "–") for n in nfes] for a, b in MAIN])))

# %%
# what the text below states, checked on the cache
def words(a, b, key):
    return [race_comps[(a, b)][n][key]["verdict"] for n in nfes if n in race_comps[(a, b)]]


assert "better" not in words("flow_euler", "sr3_ddim", "patch_swd") + words("flow_euler", "sr3_ddim", "psnr")
assert words("flow_euler", "sr3_ddim", "patch_swd")[:4] == ["worse, but within the margin"] * 4
assert words("reflow_euler", "flow_euler", "patch_swd")[:3] == ["better"] * 3 and words("reflow_euler", "flow_euler", "psnr")[:3] == ["worse"] * 3
assert race_comps[("reflow_euler", "flow_euler")][1]["frechet"]["verdict"] == "worse"
assert words("reflow_euler", "consistency", "patch_swd") == ["better"] * 6 and words("reflow_euler", "consistency", "psnr")[3:] == ["better"] * 3
assert words("flow_midpoint", "flow_euler", "patch_swd")[0] == "better" and set(words("flow_midpoint", "sr3_dpmpp", "psnr")) == {"worse"}
assert words("bridge_euler", "flow_euler", "patch_swd") == ["worse"] + ["better"] * 5
one = {r: race[r]["1"] for r in ("flow_euler", "reflow_euler", "sr3_ddim", "consistency", "bridge_euler")}
print("one evaluation — PSNR / patch SWD: " + "; ".join(f"{RACE_STYLE[r][0]} {c['psnr']['mean']:.2f} dB / {c['patch_swd']:.4f}" for r, c in one.items()))

# %% [markdown]
# Reading the race — **on this run**, the arms trained 15 CPU-minutes each:
#
# * **Fewer steps, higher PSNR, less realism** — for every row (the plots): one evaluation gives roughly the posterior
#   mean, which PSNR rewards and patch SWD does not (lesson 05's perception–distortion trade-off). Realism first, then.
# * **The flow does not beat the VP path at any budget**: against DDIM on SR3-style, Euler on the flow is worse in
#   realism at 1–8 evaluations (but within the 10 % margin) and as good at 16 and 50, never better in PSNR. The second-
#   order rows agree: the midpoint rule on the flow is as realistic as DPM-Solver++ from 4 evaluations on (better at 2)
#   and worse in PSNR at every budget. A trained ε- or x₀-model already *is* a flow (section 5); what changes is the
#   path's parameterisation, and at this scale that did not matter much.
# * **Reflow buys realism at few steps**: 2-RF is **better** than the flow in patch SWD at 1, 2 and 4 evaluations —
#   and worse in PSNR there, and worse in Fréchet distance at 1: sharper, not closer. Against lesson 06's consistency
#   student (distilled from the longer-trained shipped model) 2-RF is better in patch SWD at every budget and in PSNR
#   from 8 on; the student keeps the better PSNR at one step.
# * **The midpoint rule** buys realism at 2 evaluations and costs PSNR; Euler catches up by 4.
# * **The LR → HR path** is worse in realism at one evaluation and **better** at every budget from 2 on, by a small
#   margin, while its PSNR is worse from 8 on: a short path is quick to walk, but its model is the weaker one
#   (section 7).
#
# ## 9. How straight are the paths on digits? · 数字上的路径直线度
#
# Eq. 11.6 on the 100 curve digits, each path sampled with 50 steps from its harness seed: Euler for the flows, DDIM
# for the VP models — whose states are mapped onto the linear path by Eq. 11.8 (divided by √ᾱ + √(1 − ᾱ)), where the
# excess length is defined the same way. The margin of "as good", fixed before measuring: 0.01 (1 % of the straight
# segment).

# %%
st = fl["straightness"]
NAMES = {"flow": "flow (1-RF)", "reflow": "2-RF", "bridge": "LR → HR path", "flow_logit_normal": "logit-normal flow",
         "sr3_style": "SR3-style arm (VP)", "shipped:digits_sr3_concat": "shipped SR3-style (VP)"}
display(Markdown(plotting.markdown_table(
    ["model", "excess length (mean ± sd)", "Liu et al.'s S (mean)"],
    [[NAMES[m], f"{v['excess_length']['mean']:.4f} ± {v['excess_length']['sd']:.4f}",
      f"{v['straightness']['mean']:.4f}" if "straightness" in v else "–"] for m, v in st["models"].items()])))
display(Markdown(plotting.markdown_table(
    ["A − B", "question", "Δ excess length ↓"],
    [[f"{NAMES[c['a']]} − {NAMES[c['b']]}", c["question"], plotting.verdict_text(c["excess_length"], 4, bold=True)]
     for c in st["comparisons"]])))

# %%
# what the text below states, checked on the cache
sc = {(c["a"], c["b"]): c["excess_length"] for c in st["comparisons"]}
models = st["models"]
assert models["flow"]["excess_length"]["mean"] < 0.01 and models["reflow"]["excess_length"]["mean"] < 0.2 * models["flow"]["excess_length"]["mean"]
assert sc[("reflow", "flow")]["verdict"] == "better" and sc[("reflow", "flow")]["within_margin"]
assert sc[("flow", "sr3_style")]["verdict"] == "as good, within the margin"
assert models["reflow"]["straightness"]["mean"] < 0.2 * models["flow"]["straightness"]["mean"]
assert float(e1.mean()) > 10 * models["flow"]["excess_length"]["mean"]  # the 2-D 1-RF of section 4

# %% [markdown]
# * **On digits the paths are already nearly straight**: the flow's excess length is well under 1 % of the straight
#   segment — more than ten times less than the 2-D blobs' (section 4). The condition y pins the answer down — the posterior p(x | y) is narrow — so
#   there is little to bend around. That is why one evaluation already gives a recognisable digit here, and why reflow
#   has less to gain than in unconditional generation.
# * **Reflow straightens them further**: 2-RF's excess length is about a sixth of the flow's, Liu et al.'s S about a
#   sixth too — **better**, with an interval that excludes 0. Our margin of 1 %, fixed before measuring, turned out
#   larger than the whole effect: a margin written before one knows the scale can be too coarse, and the honest report
#   gives both the verdict and the interval.
# * **The flow's paths are as straight as the VP model's** trained with it — mapped onto the linear path by Eq. 11.8,
#   the DDIM trajectory of SR3-style is no more bent. Lesson 06's probability-flow ODE and this flow are the same kind
#   of object; training on straight conditional lines did not straighten the marginal paths by itself.
#
# ## 10. When to train, where to step: logit-normal times and the time shift · 训练时间分布与时间偏移
#
# Two choices of Stable Diffusion 3 (Esser et al., ICML 2024): train on times drawn from a **logit-normal**
# distribution (对数正态时间分布), t = sigmoid(z), z ~ N(0, 1) — more of them in the middle of the path, where the
# velocity is hardest to predict, fewer near the ends — and sample on a **shifted** grid (时间偏移),
# t' = s·t / (1 + (s − 1)·t), s = 3 for its high-resolution images (more steps at high noise). At our scale:

# %%
ablation = curve_comps[("flow_logit_normal", "flow")]["snapshots"][0]
rows = [["logit-normal − uniform training times (9 CPU-min, NFE 50)", *(plotting.verdict_text(ablation[k], d, bold=True) for k, d in KEYS[:3])]]
for shift_row, label in (("flow_euler_shift0.5", "shift 0.5 − none"), ("flow_euler_shift3", "shift 3 − none")):
    for n in (4, 8):
        c = race_comps[(shift_row, "flow_euler")][n]
        rows.append([f"{label}, Euler NFE {n}", *(plotting.verdict_text(c[k], d, bold=True) for k, d in KEYS[:3])])
display(Markdown(plotting.markdown_table(["A − B", "Δ patch SWD ↓", "Δ Fréchet ↓", "Δ PSNR (dB)"], rows)))

# %%
# what the text below states, checked on the cache
assert (ablation["psnr"]["verdict"], ablation["patch_swd"]["verdict"], ablation["consistency"]["verdict"]) == (
    "better", "worse, but within the margin", "better")
assert [race_comps[("flow_euler_shift0.5", "flow_euler")][n]["patch_swd"]["verdict"] for n in (4, 8)] == ["better", "better"]
assert race_comps[("flow_euler_shift3", "flow_euler")][4]["patch_swd"]["verdict"] == "worse"

# %% [markdown]
# * **Logit-normal training times** gave a flow **better** in PSNR and consistency after 9 CPU-minutes, and slightly
#   worse in patch SWD (within the margin) — on this run, one seed each. SD3 found logit-normal best among the
#   distributions it tried for its rectified flows (Esser et al. 2024, Table 1; *quoted*, at 256² and beyond).
# * **The time shift works the other way round here**: SD3's s = 3 (more steps at high noise) makes 4-step samples
#   **worse** in realism and better in PSNR; s = 0.5 (more steps near the data) makes them **better** in realism at 4
#   and 8 evaluations. SD3's shift is for large images, whose noise must be larger to destroy the same structure; a
#   32 × 32 residual is destroyed early, and the steps are better spent refining it.
#
# ## 11. The LR → HR path, and the path explorer · 低分辨率到高分辨率的路径
#
# In SR the start need not be pure noise. The `bridge` arm's source is U(y) + σ_s·ε with σ_s = 0.25 — in the residual's
# coordinates, x₁ = 0.25·ε instead of ε: a path well under half as long (‖x₁ − x₀‖ ≈ √(1024·0.25² + ‖r‖²) ≈ 13
# against √(1024 + ‖r‖²) ≈ 34 for a 32 × 32 residual r of the training digits' typical norm, 11), the idea behind InDI (TMLR 2023: small steps from the degraded image),
# I²SB (ICML 2023: a Schrödinger bridge between the image pair) and ResShift (NeurIPS 2023: the residual shifted with
# a little noise, SR in 15 steps). The explorer shows, for three digits, x_t (as an image, U(y) + x_t) and the x̂₀ its
# step used, along 1-RF, 2-RF and the LR → HR path, and each path in the plane of its chord and its largest bend:

# %%
from course_lib.teaching.widgets import FlowPathWidget, path_frame, render_path  # noqa: E402
from course_lib.teaching.widgets.flow import load_trajectories  # noqa: E402

trajectories = load_trajectories()
FlowPathWidget(trajectories, k=4, digit=0)

# %% tags=["nbval-ignore-output"]
# a static copy of the explorer's view (what the widget shows above, as a picture)
from IPython.display import Image  # noqa: E402

print("; ".join(f"{arm}: bend {path_frame(trajectories, arm, 0, 4)['bend']:.3f}" for arm in ("flow", "reflow", "bridge")))
Image(render_path(trajectories, 0, 4))

# %% [markdown]
# ## 12. Where it lives in `course_lib` · 代码中的位置
#
# The linear path is a second **process** beside lesson 01's `GaussianDiffusion`: `course_lib/paths.py`
# (`LinearPath`: `q_sample`, the velocity target, Eq. 11.7's conversions, the loss; the mixture with its closed-form
# velocity; `straightness`). Its samplers are one file, `course_lib/samplers/flow.py` (Euler, Heun, midpoint: each
# accepts only a `LinearPath`, and tells the one loop what the network is given — t·1000, a float); the method is one
# file, `course_lib/methods/flow.py` (`FlowSRMethod` extends `SR3Method`, overriding `make_process()` and the loss);
# the trainer, the shipped-model loader and the harness ask a method for its process and never build one. A new path
# plugs in the same way (`docs/adding-a-method.md`, "A new path").
#
# ## 13. In the landscape table · 全景表
#
# The flow arm was shipped as it ended (`digits_flow_sr`: its EMA after 15 CPU-minutes, in float16 — per-image PSNR on
# the curve digits within 0.01 dB of the float32 EMA's, `fl["fp16"]`) and
# measured by the one harness, on the same 500 test digits and per-image seeds as every row. One checkpoint, not more:
# this U-Net is 1.2 MB in float16 and the lesson's share of `data/` holds one beside the caches; 2-RF, the LR → HR path
# and the ablation are the cache's.

# %%
table = {r["label"]: r for r in load_table()["rows"] if r["task"] == "digits_x4"}
rows11 = [lab for lab in ("SR3 concat DDIM-50", "flow matching (1-RF) Euler-50", "flow matching (1-RF) Euler-4") if lab in table]
display(Markdown(plotting.markdown_table(
    ["row", "PSNR", "consistency", "agreement", "patch SWD ↓", "Fréchet ↓", "NFE", "ms/image", "parameters", "training min"],
    [[lab, f"{table[lab]['psnr']:.2f}", f"{table[lab]['consistency']:.1f}", f"{table[lab]['agreement']:.3f}",
      f"{table[lab]['patch_swd']:.4f}", f"{table[lab]['frechet']:.2f}", table[lab]["nfe"], f"{table[lab]['ms_per_image']:.1f}",
      f"{table[lab]['parameters']:,}", f"{table[lab]['training_minutes']:.1f}"] for lab in rows11])))

# %% [markdown]
# A table row is a measurement, not a verdict: the shipped SR3-style model trained longer (its "training min" is
# wall-clock, on two threads; the flow's on one, beside another run), and rows are compared on the same images with
# `course_lib.stats`, as sections 7–10 did — lesson 13 does it for the whole table.
#
# ## Recap · 小结
#
# * Flow matching walks the **straight line** x_t = (1 − t)·x₀ + t·x₁ (Eq. 11.1; t = 0 the data, diffusers' σ) and
#   regresses the **conditional velocity** x₁ − x₀ (Eq. 11.2). Its loss has the gradient of the regression on the
#   **marginal velocity** E[x₁ − x₀ | x_t] (Eq. 11.3–11.4): checked on blobs with a closed-form velocity. Only the path
#   and the target change from lesson 02's loop; **Euler** (Eq. 11.5) is diffusers' `FlowMatchEulerDiscreteScheduler`.
# * Conditional lines cross; the marginal flow's paths cannot, so they **bend** (Eq. 11.6). **Reflow** retrains on the
#   flow's own coupled pairs: straighter paths, better one-step samples — live in 2-D, and on digits better realism at
#   1–4 evaluations, at the price of the pairs' compute.
# * v, ε, x̂₀ and the score are one **dictionary** (Eq. 11.7); the VP path is the linear path rescaled (Eq. 11.8), so a
#   trained ε-model is already a flow and **DDIM is Euler on it**.
# * On this run, at equal training compute, the flow's realism matched SR3-style's and its PSNR stayed behind; no
#   budget of the race made the flow better than DDIM on the VP model; the LR → HR path was a little more realistic
#   at 2–50 evaluations and worse in PSNR; logit-normal times helped PSNR; SD3's shift hurt at 32 × 32.
#
# ## Exercises · 练习
#
# **Exercise 11.1 — the path.** Write `my_path(x0, x1, t)`: Eq. 11.1 for `(B, …)` tensors and `t` of shape `(B,)`.

# %%
from course_lib.teaching.exercises.lesson11 import (check_euler_step, check_path, check_reflow_pairs,  # noqa: E402
                                                    check_v_to_eps_x0, check_velocity_target)


def my_path(x0, x1, t):
    """x0, x1 (B, ...), t (B,) in [0, 1] -> x_t (B, ...)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_path(my_path)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_path(x0, x1, t):
    """x0, x1 (B, ...), t (B,) in [0, 1] -> x_t (B, ...)."""
    t = t.reshape(-1, *([1] * (x0.dim() - 1)))  # (B, 1, …, 1) to broadcast
    return (1 - t) * x0 + t * x1  # t = 0: the data; t = 1: the source


check_path(my_path)

# %% [markdown]
# **Exercise 11.2 — the target.** Write `my_velocity_target(x0, x1)`: what the network regresses (Eq. 11.2).

# %%
def my_velocity_target(x0, x1):
    """x0, x1 (B, ...) -> the conditional velocity (B, ...)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_velocity_target(my_velocity_target)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_velocity_target(x0, x1):
    """x0, x1 (B, ...) -> the conditional velocity (B, ...)."""
    return x1 - x0  # d/dt of (1 − t) x0 + t x1


check_velocity_target(my_velocity_target)

# %% [markdown]
# **Exercise 11.3 — one Euler step.** Write `my_euler_step(x, v, t, t_next)`: Eq. 11.5, from t to t_next < t.

# %%
def my_euler_step(x, v, t, t_next):
    """x, v (B, ...), floats t > t_next -> x at t_next."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_euler_step(my_euler_step)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_euler_step(x, v, t, t_next):
    """x, v (B, ...), floats t > t_next -> x at t_next."""
    return x + (t_next - t) * v  # t_next − t < 0: against v, towards the data


check_euler_step(my_euler_step)

# %% [markdown]
# **Exercise 11.4 — reflow's pairs.** Write `my_reflow_pairs(solve, n, shape, generator)`: draw n sources of `shape`
# from N(0, I) with `generator`, carry each to its end with `solve(x1) -> x0` (the trained flow's ODE), return
# `(x1, x0)`.

# %%
def my_reflow_pairs(solve, n, shape, generator):
    """solve (n, *shape) -> (n, *shape); returns (x1, x0)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_reflow_pairs(my_reflow_pairs)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_reflow_pairs(solve, n, shape, generator):
    """solve (n, *shape) -> (n, *shape); returns (x1, x0)."""
    x1 = torch.randn(n, *shape, generator=generator)
    return x1, solve(x1)  # coupled: each end with the source it came from


check_reflow_pairs(my_reflow_pairs)

# %% [markdown]
# **Exercise 11.5 — the dictionary.** Write `my_v_to_eps_x0(x_t, t, v)`: ε̂ and x̂₀ from a velocity (Eq. 11.7), `t` of
# shape `(B,)`.

# %%
def my_v_to_eps_x0(x_t, t, v):
    """x_t, v (B, ...), t (B,) -> (eps_hat, x0_hat)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_v_to_eps_x0(my_v_to_eps_x0)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_v_to_eps_x0(x_t, t, v):
    """x_t, v (B, ...), t (B,) -> (eps_hat, x0_hat)."""
    t = t.reshape(-1, *([1] * (x_t.dim() - 1)))
    return x_t + (1 - t) * v, x_t - t * v  # up (1 − t)·v to the source, down t·v to the data


check_v_to_eps_x0(my_v_to_eps_x0)

# %% [markdown]
# **Exercise 11.6 (open).** In the path explorer, move t from 1 to 0 for each digit. At what t does each path's x̂₀
# become a readable digit, and where does it stop changing? Which path's x_t looks like a digit first, and why does
# that not make its x̂₀ better?

# %%
from course_lib.teaching import exercises  # noqa: E402

exercises.summary("11")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# * Y. Lipman, R. T. Q. Chen, H. Ben-Hamu, M. Nickel, M. Le, *Flow Matching for Generative Modeling*, ICLR 2023 —
#   the conditional flow-matching loss and its gradient (Theorem 2; Eq. 11.4); their t runs from noise (0) to data (1).
# * X. Liu, C. Gong, Q. Liu, *Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow*,
#   ICLR 2023 — the linear path, reflow, straightness (Eq. 11.6).
# * M. S. Albergo, E. Vanden-Eijnden, *Building Normalizing Flows with Stochastic Interpolants*, ICLR 2023.
# * P. Esser et al., *Scaling Rectified Flow Transformers for High-Resolution Image Synthesis* (Stable Diffusion 3),
#   ICML 2024 — logit-normal training times, the time shift (section 10).
# * M. Delbracio, P. Milanfar, *Inversion by Direct Iteration* (InDI), TMLR 2023; G.-H. Liu et al., *I²SB:
#   Image-to-Image Schrödinger Bridge*, ICML 2023; Z. Yue, J. Wang, C. C. Loy, *ResShift: Efficient Diffusion Model for
#   Image Super-resolution by Residual Shifting*, NeurIPS 2023 — paths that start from the degraded image (section 11).
# * Y. Lipman et al., *Flow Matching Guide and Code*, arXiv 2024 — the field in one place, with the `flow_matching`
#   library.
#
# **Next:** 12 — beyond one image: video SR and editing.
