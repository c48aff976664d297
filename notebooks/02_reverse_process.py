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
# # 02 — The reverse process and the ε-prediction loss · 反向生成过程 / 噪声预测
#
# **Objectives.** After this lesson you can
# 1. derive the **posterior** (后验分布) $q(x_{t-1} \mid x_t, x_0)$ and check it against samples;
# 2. explain why a network that predicts the **noise** ε (噪声预测) is enough to run the chain backwards, and where the
#    **simplified loss** (简化损失) $L_\text{simple}$ comes from in the ELBO (变分下界);
# 3. train a denoiser — on 2-D points in seconds, then on digits — and sample from it with **ancestral (DDPM)**
#    (祖先采样) and **deterministic (DDIM)** (确定性采样) sampling;
# 4. watch a sample being denoised step by step in the denoising widget.
#
# **Prerequisites.** Lesson 01 (β, ᾱ, $q(x_t \mid x_0)$). Products of Gaussians; what gradient descent does.
#
# **Run time.** Under a minute on a 2-core CPU (README's syllabus lists the measured time), most of it a 15-second
# live training run. The pictures of good samples
# come from a model trained beforehand (`data/checkpoints/digits_unet.pt`, how: section 5).

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
import torch
from IPython.display import Markdown, display

from course_lib.teaching import plotting
from course_lib.teaching.live import describe_budget, live_budget
from course_lib.data import toy_points
from course_lib.device import describe_device, get_device, make_generator, seed_everything
from course_lib.diffusion import GaussianDiffusion
from course_lib.models import count_parameters
from course_lib.samplers import generate
from course_lib.schedules import make_beta_schedule
from course_lib.engine.pretrained import load_pretrained
from course_lib.engine.train import Trainer

seed_everything(0)
device = get_device()
diffusion = GaussianDiffusion(make_beta_schedule("cosine", 1000)).to(device)
T = diffusion.num_timesteps

# %% tags=["nbval-ignore-output"]
print("computing on", describe_device(device))

# %% [markdown]
# ## 1. Running the chain backwards
#
# Lesson 01 destroyed an image in $T$ small Gaussian steps. To *generate*, we start from pure noise
# $x_T \sim \mathcal N(0, I)$ and undo the steps one by one, with a learned reverse step
#
# $$p_\theta(x_{t-1} \mid x_t) = \mathcal N\big(x_{t-1};\ \mu_\theta(x_t, t),\ \sigma_t^2 I\big).$$
#
# When each $\beta_t$ is small the true reverse step is (almost) Gaussian too, so this form loses little. What should
# $\mu_\theta$ be? If we knew the clean image $x_0$, the answer would be exact — that is the posterior.
#
# The whole lesson in one picture: the chain as a **graphical model** (图模型; Figure 2 of Ho et al. 2020), drawn by
# `course_lib.teaching.diagrams`, with one test digit at five of its nodes. Solid blue arrows are the learned steps $p_\theta$
# towards the data, dashed grey ones the fixed noising steps $q$ of lesson 01, and the red dotted arrow is the
# posterior of section 2: given $x_0$ *and* $x_t$, where $x_{t-1}$ lies — what training teaches $p_\theta$ to match.

# %%
from course_lib import data
from course_lib.teaching import diagrams

zero = data.DigitsSR("test", scale=4).tensors([0])[0].to(device)  # a test zero, (1, 1, 32, 32)
shown = [T - 1, 400, 399, 0]  # code indices of x_T, x_t, x_{t-1}, x_1
noise = torch.randn(zero.shape, generator=make_generator(0, device), device=device)
nodes = [diffusion.q_sample(zero, torch.tensor([t], device=device), noise=noise)[0].cpu() for t in shown] + [zero[0].cpu()]
fig = diagrams.ddpm_chain_figure(nodes, t_shown=[*shown, "data"])
plt.show()

# %% [markdown]
# ## 2. The posterior · 后验分布
#
# By Bayes, $q(x_{t-1} \mid x_t, x_0) \propto q(x_t \mid x_{t-1})\, q(x_{t-1} \mid x_0)$: a product of two Gaussians in
# $x_{t-1}$ (Eq. 01.1 and Eq. 01.3). Collecting the squares in $x_{t-1}$ gives a Gaussian with
#
# $$\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\,x_0 + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\,x_t,
# \qquad \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t \qquad \text{(Eq. 02.1)}$$
#
# (the precision is $\alpha_t/\beta_t + 1/(1-\bar\alpha_{t-1})$; its inverse simplifies to $\tilde\beta_t$). At the first
# step, $\bar\alpha_{t-1} = 1$: the mean is $x_0$ and the variance 0.
#
# <details><summary><b>Derivation: completing the square</b> (click to open)</summary>
#
# Write $a = x_{t-1}$ and keep only the terms of the log-density that depend on $a$. From Eq. 01.1,
# $q(x_t \mid a) \propto \exp\!\big(-\lVert x_t - \sqrt{\alpha_t}\,a\rVert^2 / 2\beta_t\big)$; from Eq. 01.3 at $t-1$,
# $q(a \mid x_0) \propto \exp\!\big(-\lVert a - \sqrt{\bar\alpha_{t-1}}\,x_0\rVert^2 / 2(1-\bar\alpha_{t-1})\big)$. Their product is
# $\exp(-\tfrac12 Q)$ with
#
# $$Q = \Big(\frac{\alpha_t}{\beta_t} + \frac{1}{1-\bar\alpha_{t-1}}\Big)\lVert a\rVert^2
# - 2\Big\langle a,\ \frac{\sqrt{\alpha_t}}{\beta_t}\,x_t + \frac{\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_{t-1}}\,x_0\Big\rangle + \text{const}.$$
#
# A Gaussian $\mathcal N(\mu, s^2 I)$ has $Q = \lVert a\rVert^2/s^2 - 2\langle a, \mu\rangle/s^2 + \text{const}$, so
# $1/s^2$ is the first bracket and $\mu = s^2 \times$ the second. With $\alpha_t(1-\bar\alpha_{t-1}) + \beta_t = 1 - \bar\alpha_t$
# (because $\alpha_t\bar\alpha_{t-1} = \bar\alpha_t$), the first bracket is $(1-\bar\alpha_t)/\big(\beta_t(1-\bar\alpha_{t-1})\big)$,
# so $s^2 = \tilde\beta_t$, and multiplying out gives the two coefficients of $\tilde\mu_t$ in Eq. 02.1.
#
# </details>
#
# **Check it with samples.** Fix $x_0$, draw many pairs $(x_{t-1}, x_t)$ from the forward process, and regress $x_{t-1}$ on
# $x_t$: the slope, the intercept and the residual variance must be the two coefficients and $\tilde\beta_t$.

# %% tags=["nbval-ignore-output"]
t, x0_value, n = 300, 0.6, 200_000
g = make_generator(0, device)
x0 = torch.full((n, 1), x0_value, device=device)
x_prev = diffusion.q_sample(x0, torch.full((n,), t - 1, device=device), generator=g)  # x_{t-1} | x0
x_t = diffusion.q_step(x_prev, torch.full((n,), t, device=device), generator=g)  # x_t | x_{t-1}

X = torch.cat([x_t, torch.ones_like(x_t)], 1).double()
coef = torch.linalg.lstsq(X, x_prev.double()).solution.squeeze()  # x_{t-1} ≈ slope · x_t + intercept
resid_var = (x_prev.double() - X @ coef[:, None]).var().item()

ab, ab_prev, beta, alpha = (diffusion.alpha_bars[t].item(), diffusion.alpha_bars[t - 1].item(),
                            diffusion.betas[t].item(), diffusion.alphas[t].item())
theory = {  # Eq. 02.1 by hand
    "slope (coefficient of x_t)": math.sqrt(alpha) * (1 - ab_prev) / (1 - ab),
    "intercept (coefficient of x0, times x0)": math.sqrt(ab_prev) * beta / (1 - ab) * x0_value,
    "variance": (1 - ab_prev) / (1 - ab) * beta,
}
measured = [coef[0].item(), coef[1].item(), resid_var]
rows = [(k, "%.5f" % v, "%.5f" % m) for (k, v), m in zip(theory.items(), measured)]
display(Markdown(plotting.markdown_table(["quantity at t = 300", "Eq. 02.1", "from 200,000 samples"], rows)))
for (k, v), m in zip(theory.items(), measured):
    assert abs(v - m) < 0.02 * abs(v) + 3e-4, k

# %% [markdown]
# `GaussianDiffusion.q_posterior` implements Eq. 02.1 (its coefficients are buffers computed in float64):

# %%
mean, var = diffusion.q_posterior(x0[:2], x_t[:2], torch.full((2,), t, device=device))
assert torch.allclose(mean, theory["slope (coefficient of x_t)"] * x_t[:2] + theory["intercept (coefficient of x0, times x0)"], atol=1e-5)
assert abs(var[0].item() - theory["variance"]) < 1e-7
m0, v0 = diffusion.q_posterior(x0[:2], x_t[:2], torch.zeros(2, dtype=torch.long, device=device))
assert torch.allclose(m0, x0[:2]) and (v0 == 0).all()
print("q_posterior == Eq. 02.1; at t = 0 the mean is x0 and the variance", v0[0].item())

# %% [markdown]
# ## 3. Predict the noise · 噪声预测
#
# The network cannot see $x_0$. But Eq. 01.3 ties $x_0$ to the noise: given $x_t$ and the noise ε that made it,
#
# $$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon}{\sqrt{\bar\alpha_t}} \qquad \text{(Eq. 02.2)}$$
#
# Substituting into Eq. 02.1 and simplifying,
# $\tilde\mu_t = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\varepsilon\Big)$. So a network
# $\varepsilon_\theta(x_t, t)$ that *predicts the noise* defines the reverse mean. Two other targets are equivalent
# *as parameterisations* up to Eq. 02.2: $x_0$ itself, and the "velocity" (v-prediction, 速度参数化)
#
# $$v = \sqrt{\bar\alpha_t}\,\varepsilon - \sqrt{1-\bar\alpha_t}\,x_0, \qquad
# x_0 = \sqrt{\bar\alpha_t}\,x_t - \sqrt{1-\bar\alpha_t}\,v \qquad \text{(Eq. 02.3)}$$
#
# Given $x_t$, any one of the three determines the others.
#
# They are **not equivalent as losses**. At a fixed $x_t$, an error in one prediction is a scaled error in the others,
# and the scale depends on $t$ through the signal-to-noise ratio $\mathrm{SNR}(t) = \bar\alpha_t/(1-\bar\alpha_t)$
# (Eq. 01.4):
#
# $$\lVert x_0 - \hat x_0\rVert^2 = \frac{\lVert \varepsilon - \hat\varepsilon\rVert^2}{\mathrm{SNR}(t)}, \qquad
# \lVert v - \hat v\rVert^2 = \Big(1 + \frac{1}{\mathrm{SNR}(t)}\Big)\lVert \varepsilon - \hat\varepsilon\rVert^2 .$$
#
# So an unweighted MSE on $x_0$ is the ε-MSE *weighted by 1/SNR* — it puts little weight on noisy steps and a lot on the
# nearly clean ones — and a v-MSE sits in between (never below the ε-MSE). Which target to train is a choice of
# timestep weighting as much as of output; lesson 04 makes that choice for its SR models. The last cell of this section
# checks both identities with `course_lib`'s conversions.
#
# **Where the loss comes from — honestly.** Training maximises the evidence lower bound (ELBO). It splits into one KL
# term per step, $\mathrm{KL}\big(q(x_{t-1}\mid x_t, x_0)\,\|\,p_\theta(x_{t-1}\mid x_t)\big)$; between two Gaussians with the
# same variance that is $\frac{1}{2\sigma_t^2}\|\tilde\mu_t - \mu_\theta\|^2$, and with the ε form of both means it becomes
# $\lambda_t\,\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2$ with a weight $\lambda_t = \frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}$.
# Ho et al. (2020) **dropped the weights**:
#
# $$L_\text{simple} = \mathbb E_{x_0,\ \varepsilon \sim \mathcal N(0, I),\ t \sim \mathcal U\{1..T\}}\ \big\|\varepsilon - \varepsilon_\theta(x_t, t)\big\|^2,
# \qquad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon \qquad \text{(Eq. 02.4)}$$
#
# <details><summary><b>Derivation: where the per-step KL terms come from</b> (click to open)</summary>
#
# The ELBO bounds the log-likelihood: $\log p_\theta(x_0) \ge \mathbb E_q\big[\log p_\theta(x_{0:T}) - \log q(x_{1:T} \mid x_0)\big]$
# (Jensen's inequality on $p_\theta(x_0) = \mathbb E_q[p_\theta(x_{0:T})/q(x_{1:T}\mid x_0)]$). Both chains factorise,
# $p_\theta = p(x_T)\prod_t p_\theta(x_{t-1}\mid x_t)$ and $q = \prod_t q(x_t \mid x_{t-1})$. The trick is to rewrite each forward
# factor *conditioned on $x_0$* with Bayes: $q(x_t \mid x_{t-1}) = q(x_t \mid x_{t-1}, x_0) =
# q(x_{t-1} \mid x_t, x_0)\,q(x_t \mid x_0)/q(x_{t-1} \mid x_0)$ (the first equality is the Markov property). The ratios
# $q(x_t\mid x_0)/q(x_{t-1}\mid x_0)$ telescope, and the negative ELBO splits into
#
# $$\underbrace{\mathrm{KL}\big(q(x_T\mid x_0)\,\|\,p(x_T)\big)}_{L_T} + \sum_{t=2}^{T}\underbrace{\mathbb E_q\,\mathrm{KL}\big(q(x_{t-1}\mid x_t, x_0)\,\|\,p_\theta(x_{t-1}\mid x_t)\big)}_{L_{t-1}}
# \ \underbrace{-\ \mathbb E_q \log p_\theta(x_0 \mid x_1)}_{L_0}.$$
#
# $L_T$ has no parameters (the schedule makes it ≈ 0); each $L_{t-1}$ compares the posterior of Eq. 02.1 — tractable
# *because* it is conditioned on $x_0$ — with the model's step. Two Gaussians with the same variance $\sigma_t^2$:
# $L_{t-1} = \frac{1}{2\sigma_t^2}\lVert\tilde\mu_t - \mu_\theta\rVert^2 + \text{const}$. Substitute the ε form of both means,
# $\tilde\mu_t = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\varepsilon\big)$ and the same with $\varepsilon_\theta$:
# the $x_t$ terms cancel and $L_{t-1} = \lambda_t \lVert\varepsilon - \varepsilon_\theta\rVert^2$ with the $\lambda_t$ above.
#
# </details>
#
# That is no longer the bound; it is a reweighting that Ho et al. (2020) found to give better samples — an empirical
# choice, not a derivation.
# The weights it drops are large at small $t$; let us see by how much:

# %%
tt = torch.arange(1, T)
betas64 = make_beta_schedule("cosine", T)
ab64 = torch.cumprod(1 - betas64, 0)
sigma2 = (1 - ab64[tt - 1]) / (1 - ab64[tt]) * betas64[tt]  # σ_t² = β̃_t
lam = betas64[tt] ** 2 / (2 * sigma2 * (1 - betas64[tt]) * (1 - ab64[tt]))
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(tt, lam / lam.mean(), label="ELBO weight lambda_t (normalised)")
ax.axhline(1.0, color="k", lw=1, label="L_simple: every t weighted 1")
ax.set_xlabel("t")
ax.set_title("What L_simple changes: the per-timestep weights")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
print("ELBO weight at t = 1 vs t = 500: %.0f : 1" % (lam[0] / lam[499]))

# %% [markdown]
# In code, `GaussianDiffusion.loss` is Eq. 02.4 (and the $x_0$ / $v$ targets with `prediction=`); the conversions
# are `predict_x0_from_eps`, `predict_eps_from_x0`, `get_v`, … Check that they undo each other:

# %%
g = make_generator(1, device)
x0s = torch.rand(4, 1, 8, 8, generator=g, device=device) * 2 - 1
eps = torch.randn(x0s.shape, generator=g, device=device)
t4 = torch.tensor([10, 200, 600, 950], device=device)
xt4 = diffusion.q_sample(x0s, t4, eps)
assert torch.allclose(diffusion.predict_x0_from_eps(xt4, t4, eps), x0s, atol=1e-3)
assert torch.allclose(diffusion.predict_x0_from_v(xt4, t4, diffusion.get_v(x0s, eps, t4)), x0s, atol=1e-4)
oracle = lambda x, t_, c: diffusion.predict_eps_from_x0(x, t_, x0s)  # noqa: E731  (knows the answer)
oracle_loss = diffusion.loss(oracle, x0s, generator=g).item()
assert oracle_loss < 1e-4
print("L_simple of a network that knows x0 is (numerically) zero:", oracle_loss < 1e-4)
# the same error seen by the three targets: ε̂ = ε + δ, and the x̂0 and v̂ it implies at the same x_t
eps_hat = eps + 0.1 * torch.randn(eps.shape, generator=g, device=device)
x0_hat = diffusion.predict_x0_from_eps(xt4, t4, eps_hat)
v_hat = diffusion.get_v(x0_hat, eps_hat, t4)
per_image = lambda a, b: ((a - b) ** 2).flatten(1).sum(1).double()  # noqa: E731
e_eps, e_x0, e_v = per_image(eps_hat, eps), per_image(x0_hat, x0s), per_image(v_hat, diffusion.get_v(x0s, eps, t4))
snr = diffusion.snr(t4).double()
assert torch.allclose(e_x0, e_eps / snr, rtol=1e-2) and torch.allclose(e_v, (1 + 1 / snr) * e_eps, rtol=1e-2)
assert torch.allclose(diffusion.sqrt_alpha_bars[t4].view(-1, 1, 1, 1) * xt4
                      - diffusion.sqrt_one_minus_alpha_bars[t4].view(-1, 1, 1, 1) * diffusion.get_v(x0s, eps, t4), x0s, atol=1e-4)
print("t:", t4.tolist())
print("x0-error / eps-error:", [f"{r:.3g}" for r in (e_x0 / e_eps).tolist()], "= 1/SNR(t):", [f"{r:.3g}" for r in (1 / snr).tolist()])
print("v-error / eps-error: ", [f"{r:.3g}" for r in (e_v / e_eps).tolist()], "= 1 + 1/SNR(t)")

# %% [markdown]
# ## 4. A denoiser you can watch learn: 2-D points
#
# Before images, points in the plane: 20,000 samples of a spiral, scaled to about unit variance — the scale of the
# noise they are mixed with (at a tenth of that scale the same network learns far more slowly: try it by multiplying
# the points by 0.1 before training). The network
# is a small MLP on $[x_t, \mathrm{TE}(t)]$ (the timestep embedding is lesson 03's topic). `course_lib.engine.train.Trainer` runs Algorithm 1 of DDPM: draw a batch,
# a $t$ and an ε, take a gradient step on Eq. 02.4.

# %% tags=["nbval-ignore-output"]
toy = Trainer({"name": "spiral", "dataset": "toy2d:spiral", "method": "ddpm", "model": {"network": "mlp", "hidden": 128},
               "batch_size": 512, "steps": 1500, "learning_rate": 2e-3, "warmup_steps": 50, "log_every": 50, "ema_decay": 0.99},
              device=device)
toy.train()
steps_logged, losses = zip(*toy.history)
assert losses[-1] < 0.75 * losses[0], losses  # it learned something
print(f"MLP denoiser, {count_parameters(toy.model):,} parameters: loss {losses[0]:.3f} -> {losses[-1]:.3f} in {toy.step} steps, {toy.elapsed:.1f} s")

# %% [markdown]
# Now generate: start 1,000 points from $\mathcal N(0, I)$ and run the reverse chain — DDPM's ancestral sampling
# (祖先采样; Algorithm 2 of Ho et al.), all 1,000 steps, each a draw from the posterior of Eq. 02.1 with the network's
# guess in place of $x_0$:
#
# $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\varepsilon_\theta(x_t, t)\Big)
# + \sigma_t z, \qquad z \sim \mathcal N(0, I)\ (z = 0 \text{ at the last step}), \qquad
# \sigma_t^2 \in \{\tilde\beta_t,\ \beta_t\} \qquad \text{(Eq. 02.5)}$$
#
# The mean is $\tilde\mu_t$ of Eq. 02.1 with $\hat x_0$ from Eq. 02.2 (the simplification above). For the variance Ho et
# al. tried both $\sigma_t^2 = \tilde\beta_t$ (the posterior's, right when $x_0$ is one point) and $\sigma_t^2 = \beta_t$
# (right when $x_0 \sim \mathcal N(0, I)$) and found similar samples; `course_lib` uses $\tilde\beta_t$ by default
# (`DDPMSampler(variance="posterior")`, or `"beta"`). It forms the mean as $\tilde\mu_t(\hat x_0, x_t)$, so that $\hat x_0$
# can be clipped to the data range (or changed by a hook, lesson 04) before the step. We record the points along the way.

# %% tags=["nbval-ignore-output"]
points, traj = generate(toy.ema, toy.diffusion, (1000, 2), sampler="ddpm", generator=make_generator(0, device),
                                    record_every=100, clip_x0=False)  # points, not images: no clipping to [-1, 1]
data_pts = toy_points("spiral", 1000, seed=1)
fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
axes[0].plot(steps_logged, losses)
axes[0].set_title("training loss")
axes[0].set_xlabel("step")
for ax, k in zip(axes[1:4], (0, 5, len(traj["t"]) - 2)):
    ax.scatter(traj["x_t"][k, :, 0], traj["x_t"][k, :, 1], s=1)
    ax.set_title(f"x_t at t = {traj['t'][k]}")
axes[4].scatter(data_pts[:, 0], data_pts[:, 1], s=1, color="0.7", label="data")
axes[4].scatter(points[:, 0].cpu(), points[:, 1].cpu(), s=1, color="tab:red", label="samples")
axes[4].legend(fontsize=7, markerscale=5)
axes[4].set_title("samples vs data")
for ax in axes[1:]:
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
fig.tight_layout()
plt.show()

# how close are the samples to the spiral? (distance to the nearest data point, vs the same for pure noise)
near = torch.cdist(points.cpu(), toy.data.cpu()).min(1).values.median().item()
noise_near = torch.cdist(torch.randn(1000, 2, generator=torch.Generator().manual_seed(0)), toy.data.cpu()).min(1).values.median().item()
print(f"median distance to the nearest data point: samples {near:.3f}, pure noise {noise_near:.3f}")
assert near < 0.5 * noise_near

# %% [markdown]
# ## 5. Digits
#
# The same recipe on 32 × 32 digits, with a U-Net as $\varepsilon_\theta$ (residual blocks, GroupNorm, attention at
# 8 × 8; its parts are lessons 03–04). First a **live run of 15 seconds** from scratch, with a smaller U-Net so that
# it takes enough steps on a CPU: the loss falls fast, but 15 seconds is far from enough for good digits.

# %% tags=["nbval-ignore-output"]
model_cfg = {"network": "unet", "in_channels": 1, "base_channels": 16, "channel_mults": [1, 2, 2], "attention": True}
live = Trainer({"name": "digits_live", "dataset": "digits", "method": "ddpm", "model": model_cfg, "batch_size": 32, "learning_rate": 1e-3,
                "warmup_steps": 10, "log_every": 10, "steps": 100_000}, device=device)
budget = live_budget(seconds=15)  # 15 s of wall time (under `make test`: a fixed number of steps)
live.train(**budget)
s_live, l_live = zip(*live.history)
fig = plotting.loss_curve(live.history, "L_simple", f"{describe_budget(budget)} of live training ({live.step} steps)")
plt.show()
assert l_live[-1] < 0.5 * l_live[0], (l_live[0], l_live[-1])
print(f"U-Net with base width 16, {count_parameters(live.model):,} parameters: loss {l_live[0]:.3f} -> {l_live[-1]:.3f}")

# %% [markdown]
# The **shipped model** (`digits_unet`, 1.07 M parameters) was trained by the same `Trainer` from its config
# `data/checkpoints/digits_unet.json` with `python -m course_lib.train --config data/checkpoints/digits_unet.json`
# (`make checkpoints` retrains every shipped model, on a CUDA GPU when there is one). Its record:

# %%
import json

from course_lib.data import data_dir

record = json.loads((data_dir() / "checkpoints" / "digits_unet.log.json").read_text())
print(f"{record['parameters']:,} parameters, {record['steps']:,} steps of batch 128, {record['training_seconds']:.0f} s on {record['hardware']}")
curve_steps, curve_loss = zip(*record["loss_curve"])
fig, ax = plt.subplots(figsize=(5, 2.6))
ax.semilogy(curve_steps, curve_loss)
ax.set_xlabel("step")
ax.set_ylabel("L_simple")
ax.set_title("Loss curve of the shipped digits model")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Keep training** (off by default): set `KEEP_TRAINING = True` to continue from the shipped weights for
# `MINUTES` minutes, on a GPU if you have one. Your model replaces `model` below; the shipped file is not touched.

# %%
KEEP_TRAINING = False
MINUTES = 5

model, _, config = load_pretrained("digits_unet", device)
if KEEP_TRAINING:
    more = Trainer.from_pretrained("digits_unet", device=device, steps=10**9)
    more.train(seconds=60 * MINUTES)
    model = more.ema.eval()
    print(f"trained {more.step} more steps; last loss {more.history[-1][1]:.4f}")

# %% [markdown]
# ### Sampling with DDIM · 确定性采样
#
# DDPM needs all 1,000 steps. **DDIM** (Song, Meng & Ermon, 2021) reuses the same trained network but takes big
# deterministic jumps: from the current $\hat x_0$ and $\hat\varepsilon$ it goes straight to $x_{t'}$ for an earlier $t'$,
#
# $$x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'} - \sigma^2}\,\hat\varepsilon + \sigma z,\qquad
# \sigma = \eta\sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t'}}} \qquad \text{(Eq. 02.6)}$$
#
# With η = 0 it is deterministic; η = 1 gives DDPM's noise.
#
# <details><summary><b>Why the same network may be used: non-Markovian processes with the same marginals</b> (click to open)</summary>
#
# The network was trained only through the marginals $q(x_t \mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}x_0, (1-\bar\alpha_t)I)$: the
# loss of Eq. 02.4 never looks at how $x_{t-1}$ and $x_t$ are joined. Song et al. therefore choose a *different* joint
# process with the same marginals: for any $\sigma$, define
# $q_\sigma(x_{t'} \mid x_t, x_0) = \mathcal N\big(\sqrt{\bar\alpha_{t'}}\,x_0 + \sqrt{1-\bar\alpha_{t'}-\sigma^2}\,\tfrac{x_t - \sqrt{\bar\alpha_t}x_0}{\sqrt{1-\bar\alpha_t}},\ \sigma^2 I\big)$.
# If $x_t$ has the right marginal, so does $x_{t'}$: its mean is $\sqrt{\bar\alpha_{t'}}\,x_0$ and its variance
# $(1-\bar\alpha_{t'}-\sigma^2) + \sigma^2 = 1 - \bar\alpha_{t'}$. The forward process this defines is not a Markov chain
# (each $x_t$ depends on $x_0$), and $t'$ need not be $t - 1$. Sampling it with $x_0 \to \hat x_0$ and
# $\frac{x_t - \sqrt{\bar\alpha_t}x_0}{\sqrt{1-\bar\alpha_t}} \to \hat\varepsilon$ is Eq. 02.6; its ELBO is again a weighted ε-MSE, so
# the network trained with $L_\text{simple}$ serves every σ. With σ = 0 (η = 0) the step is deterministic: a first-order
# step of an ordinary differential equation in $(\sqrt{(1-\bar\alpha)/\bar\alpha},\ x/\sqrt{\bar\alpha})$ — the view lesson 06 builds on.
#
# </details> Its 50 timesteps are evenly spaced and **start at $T-1$**
# ("trailing" spacing, `course_lib.samplers.ddim_timesteps`): the first step must see what training saw at the end,
# pure noise. The older "leading" spacing starts at $t = 980$ instead, where the image is not yet fully destroyed:

# %%
from course_lib.samplers import ddim_timesteps

leading = list(range(0, T, T // 50))[::-1]
print("trailing:", ddim_timesteps(T, 50)[:3], "...", ddim_timesteps(T, 50)[-2:])
print("leading: ", leading[:3], "...", leading[-2:])
print("SNR at the first step: trailing %.1e, leading %.1e" % (diffusion.snr()[999].item(), diffusion.snr()[leading[0]].item()))

# %% tags=["nbval-ignore-output"]
import time

start = time.perf_counter()
samples = generate(model, diffusion, (16, 1, 32, 32), sampler="ddim", steps=50, generator=make_generator(0, device))
ddim_seconds = time.perf_counter() - start
fig = plotting.show_images(list(samples.cpu()), ncols=16, size=0.8,
                           suptitle=f"16 digits from the shipped model, DDIM-50 ({ddim_seconds:.1f} s on {device.type})")
plt.show()
assert samples.min() >= -1 and samples.max() <= 1 and samples.std() > 0.3  # clipped, and not a blank

# %% [markdown]
# ### DDPM, step by step: the denoising widget · 去噪交互
#
# Ancestral sampling (Eq. 02.5) with the same model takes all 1,000 steps — about 30 s for a few digits on a CPU —
# so the trajectory below was recorded once by `python -m course_lib.cached` and is loaded from `data/cache/`
# (the tests check it against a fresh run). At each recorded step you see $x_t$ and the network's current guess
# $\hat x_0$ (Eq. 02.2): the guess is a blurry average early on and commits to one digit as $t$ falls.

# %% tags=["nbval-ignore-output"]
from course_lib.experiments.cached import load_ddpm_trajectory
from course_lib.teaching.widgets import DenoisingWidget, trajectory_strip

cpu_diffusion = GaussianDiffusion(make_beta_schedule(config.schedule, config.T))
trajectory = load_ddpm_trajectory()
denoiser = DenoisingWidget(trajectory, cpu_diffusion)
denoiser

# %%
denoiser.frame.value = 20
view = denoiser.view
assert view["t"] == trajectory["t"][20] and torch.equal(view["x0"], trajectory["x0"][20, 0])
assert abs(view["noise_std"] - cpu_diffusion.sqrt_one_minus_alpha_bars[view["t"]].item()) < 1e-7
print(f"frame 20 shows t = {view['t']}; {len(trajectory['t'])} recorded steps of {trajectory['x_t'].shape[1]} digits")

# %%
fig = trajectory_strip(trajectory, cpu_diffusion, image=0, frames=9, title="Static strip: DDPM-1000, x_t (top) and predicted x0 (bottom)")
plt.show()

# %% [markdown]
# ## Recap · 小结
#
# * The posterior $q(x_{t-1}\mid x_t, x_0)$ is Gaussian with mean and variance Eq. 02.1 — checked above by regression.
# * With $\hat x_0$ written through the noise (Eq. 02.2), a network that predicts ε defines the reverse step; $x_0$ and
#   $v$ (Eq. 02.3) are equivalent targets.
# * $L_\text{simple}$ (Eq. 02.4) is the ELBO with its per-step weights dropped: a choice that works, not the bound.
# * DDPM takes all $T$ ancestral steps (Eq. 02.5); DDIM (Eq. 02.6) jumps along 50 trailing timesteps with the same network.
#
# ## Exercises · 练习
#
# **Exercise 02.1 — the loss.** Write `my_loss(model, x0, t, noise, alpha_bars)`: build $x_t$ (Eq. 01.3) and return
# $L_\text{simple}$ (Eq. 02.4) as one number. `model(x_t, t)` returns ε̂ with $x_t$'s shape.

# %%
from course_lib.teaching.exercises.lesson02 import check_loss, check_reverse_mean


def my_loss(model, x0, t, noise, alpha_bars):
    """L_simple for one batch: x0, noise (B, C, H, W); t (B,); alpha_bars (T,)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_loss(my_loss)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_loss(model, x0, t, noise, alpha_bars):
    """L_simple for one batch: x0, noise (B, C, H, W); t (B,); alpha_bars (T,)."""
    ab = alpha_bars[t].view(-1, 1, 1, 1)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise  # Eq. 01.3
    return ((noise - model(x_t, t)) ** 2).mean()  # Eq. 02.4


check_loss(my_loss)

# %% [markdown]
# **Exercise 02.2 — one reverse step.** Write `my_reverse_mean(x_t, t, eps_hat, betas, alpha_bars)`: the mean of
# $x_{t-1}$ given $x_t$ and the predicted noise, $\frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\hat\varepsilon\big)$
# (Eq. 02.1 with Eq. 02.2). All per-timestep values are indexed by the code's 0-based `t`.

# %%
def my_reverse_mean(x_t, t, eps_hat, betas, alpha_bars):
    """Mean of p(x_{t-1} | x_t) from the predicted noise; x_t, eps_hat (B, C, H, W); t (B,)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_reverse_mean(my_reverse_mean)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_reverse_mean(x_t, t, eps_hat, betas, alpha_bars):
    """Mean of p(x_{t-1} | x_t) from the predicted noise; x_t, eps_hat (B, C, H, W); t (B,)."""
    b = betas[t].view(-1, 1, 1, 1)
    ab = alpha_bars[t].view(-1, 1, 1, 1)
    return (x_t - b / (1 - ab).sqrt() * eps_hat) / (1 - b).sqrt()


check_reverse_mean(my_reverse_mean)

# %% [markdown]
# **Exercise 02.3 (open).** Sample the shipped model with DDIM at 5, 10, 20 and 100 steps (same seed). From how many
# steps on do the digits stop changing? Then try `eta=1.0`: what changes, and why?

# %%
from course_lib.teaching import exercises

exercises.summary("02")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# * J. Ho, A. Jain, P. Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020 — Eq. 02.1–02.5, Algorithms 1 and 2.
# * J. Song, C. Meng, S. Ermon, *Denoising Diffusion Implicit Models*, ICLR 2021 — Eq. 02.6.
# * A. Nichol, P. Dhariwal, *Improved Denoising Diffusion Probabilistic Models*, ICML 2021 — learned variances, the hybrid loss.
# * T. Salimans, J. Ho, *Progressive Distillation for Fast Sampling of Diffusion Models*, ICLR 2022 — the v-parameterisation.
# * S. Lin, B. Liu, J. Li, X. Yang, *Common Diffusion Noise Schedules and Sample Steps are Flawed*, WACV 2024 — "trailing" timesteps.
# * C. Luo, *Understanding Diffusion Models: A Unified Perspective*, arXiv 2022 — the ELBO derivation in full.
#
# **Next:** 03 — the timestep embedding (时间步嵌入).
