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
# # 10 — Backbones: DiT and U-ViT against the U-Net · 去噪网络主干：DiT、U-ViT 与 U-Net
#
# Every model so far was a U-Net: convolutions that see a few pixels at a time, a pyramid of resolutions, skips
# across it. The notes' architecture path reads U-Net → DiT (Transformer 主干) → U-ViT (全局建模) → LDM — but the
# arrows are not a lineage (lesson 00's history): LDM (CVPR 2022) came first, U-ViT (arXiv Sep 2022, CVPR 2023) and
# DiT (arXiv Dec 2022, ICCV 2023) are two Transformer denoisers built to work on LDM's latents, and U-ViT came first.
# Both replace convolutions by **attention**: every patch of the image looks at every other. This lesson builds both at
# toy scale, then asks what a learner asks: **at this scale, on this CPU, does a Transformer denoiser match the U-Net,
# and what does each design choice buy?**
#
# **Objectives.** After this lesson you can
# 1. cut an image into **patches** (图像块) and back (Eq. 10.1), and add a 2-D position embedding;
# 2. write **self-attention** (自注意力, Eq. 10.2) and multi-head attention (Eq. 10.3) by hand and check them against
#    PyTorch's fused kernel;
# 3. build DiT's **adaLN-Zero** block (Eq. 10.4) and show that it starts as the identity, and U-ViT's **long skips**
#    (Eq. 10.5);
# 4. read a comparison of three backbones at matched parameters and training CPU-minutes — with a tuning budget fixed
#    before measuring — and the ablations of DiT's and U-ViT's own choices;
# 5. measure how a Transformer's cost grows with the image, and what a latent space does to it.
#
# **Prerequisites.** Lesson 03 (the sinusoidal embedding, Eq. 03.2; the U-Net and where t enters), lesson 04 (the
# SR3-style model, y concatenated, Eq. 04.2), lesson 05 (patch SWD, agreement, the verdict rule), lesson 07 (the
# latent autoencoder), lesson 09 (quality against training CPU-minutes).
#
# **Run time.** Under a minute on a 2-core CPU (README's syllabus lists the measured time), about 12 s of it a live
# training of a small DiT. The comparison trained ten networks for 10 CPU-minutes each, after fifteen tuning pilots,
# and is cached (`data/cache/backbones.json` by `make backbones`, whose README line gives its time); the lesson
# recomputes parts of it live.

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
import torch.nn.functional as F
from IPython.display import Markdown, display

from course_lib.datasets import DigitsSR
from course_lib.device import get_device
from course_lib.embeddings import sinusoidal_embedding_halves
from course_lib.engine.harness import LIVE_INDICES, image_seeds, load_table
from course_lib.engine.pretrained import load
from course_lib.engine.train import Trainer
from course_lib.experiments.backbones import ARMS, MARGINS, load_backbones
from course_lib.models import DiT, UViT, count_parameters
from course_lib.models.dit import DiTBlock, modulate
from course_lib.models.vit import MultiHeadAttention, attention, patchify, sincos_position_embedding_2d, unpatchify
from course_lib.teaching import plotting
from course_lib.teaching.history import paper
from course_lib.teaching.live import describe_budget, live_budget

device = get_device()
torch.manual_seed(0)
print(f"running on {device}")

# %% [markdown]
# ## 1. Tokens · 图像块 / 词元
#
# A Transformer works on a sequence of vectors, **tokens** (词元). ViT (Dosovitskiy et al., ICLR 2021) makes them from
# an image by cutting it into p × p patches, row by row, and flattening each patch — its pixels in (row, column,
# channel) order, the channel innermost:
#
# $$x \in \mathbb R^{C\times H\times W} \;\mapsto\; \big[\,\mathrm{vec}(x_{:,\,ip:(i+1)p,\;jp:(j+1)p})\,\big]_{i<H/p,\;j<W/p} \in \mathbb R^{N\times p^2C}, \qquad N = \frac{HW}{p^2} \qquad \text{(Eq. 10.1)}$$
#
# A 32 × 32 digit with y concatenated (C = 2, as the SR3-style model sees it, Eq. 04.2) gives N = 64 tokens of 32
# numbers at p = 4, or 256 tokens of 8 at p = 2. By hand, then `course_lib`:

# %%
hr16, y16 = (t.to(device) for t in DigitsSR("test", scale=4).tensors(list(LIVE_INDICES)))
up16 = F.interpolate(y16, scale_factor=4, mode="bicubic", align_corners=False).clamp(-1, 1)
x = torch.cat([hr16[:2], up16[:2]], dim=1)  # (2, 2, 32, 32): x_t's place taken by HR here, y upsampled beside it
p = 4
B, C, H, W = x.shape
tokens_by_hand = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1).reshape(B, (H // p) * (W // p), p * p * C)
assert torch.equal(tokens_by_hand, patchify(x, p))  # Eq. 10.1
assert torch.equal(unpatchify(tokens_by_hand, p, C, (H // p, W // p)), x)  # and back, exactly
print(f"{tuple(x.shape)} → {tuple(tokens_by_hand.shape)} at p = {p}; {tuple(patchify(x, 2).shape)} at p = 2")
fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
axes[0].imshow(plotting.to_display(hr16[0]), cmap="gray")
for k in range(1, 8):
    axes[0].axhline(k * p - 0.5, color="C1", lw=0.6)
    axes[0].axvline(k * p - 0.5, color="C1", lw=0.6)
axes[0].set_title("a digit cut into 8 × 8 patches of 4 × 4")
axes[1].imshow(tokens_by_hand[0, :, : p * p].cpu(), cmap="gray", aspect="auto")  # the HR channel of each token
axes[1].set(xlabel="pixel within the patch (HR channel)", ylabel="token (row-major)", title="the 64 tokens")
axes[0].set_xticks([])
axes[0].set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# A Transformer sees a *set*: shuffle the tokens and attention shuffles its output the same way. Where a patch sits must
# be added to it — a **position embedding** (位置编码). DiT uses a fixed one: half of the D columns carry lesson 03's
# sinusoidal embedding (Eq. 03.2) of the patch's row, the other half of its column, so nearby patches get similar
# vectors; U-ViT learns its own. The similarity of the 64 position vectors to the one of patch (3, 4):

# %%
D = 88
pos = sincos_position_embedding_2d(D, (8, 8))
rows, cols = torch.arange(8).repeat_interleave(8), torch.arange(8).repeat(8)
assert torch.allclose(pos, torch.cat([sinusoidal_embedding_halves(rows, D // 2), sinusoidal_embedding_halves(cols, D // 2)], 1))
sim = F.cosine_similarity(pos, pos[3 * 8 + 4][None], dim=1).reshape(8, 8)
fig, ax = plt.subplots(figsize=(3, 2.8))
im = ax.imshow(sim, cmap="viridis")
ax.set_title("cosine similarity to patch (3, 4)", fontsize=9)
plt.colorbar(im, ax=ax, fraction=0.046)
plt.show()
assert sim.argmax() == 3 * 8 + 4 and sim[3, 5] > sim[3, 7] and sim[4, 4] > sim[7, 4]  # nearer is more similar

# %% [markdown]
# ## 2. Attention · 自注意力
#
# Each token x_i (a row of X, N × D) asks a question q_i = x_i W_Q, offers a key k_i = x_i W_K and a value
# v_i = x_i W_V. Token i takes from token j in proportion to how well its question matches j's key:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\Big(\frac{QK^\top}{\sqrt d}\Big)\,V \qquad \text{(Eq. 10.2)}$$
#
# (Vaswani et al., NeurIPS 2017), the softmax over j. Why √d: q_i·k_j sums d products of numbers of unit variance, so its
# standard deviation is √d; divided by √d the scores stay of order 1 and the softmax does not saturate into a one-hot
# whose gradient vanishes. **Multi-head** attention (多头注意力) splits the D columns of Q, K, V into H heads of
# d = D/H, runs Eq. 10.2 on each, and concatenates:
#
# $$\mathrm{MHA}(X) = \big[\,\mathrm{Attention}(Q_1, K_1, V_1)\;\cdots\;\mathrm{Attention}(Q_H, K_H, V_H)\,\big]\,W_O \qquad \text{(Eq. 10.3)}$$
#
# One head by hand against PyTorch's fused `scaled_dot_product_attention`, then four heads against `course_lib`:

# %%
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(64, 22, generator=g) for _ in range(3))
weights = torch.softmax(q @ k.T / math.sqrt(22), dim=-1)  # Eq. 10.2
out_by_hand = weights @ v
assert torch.allclose(out_by_hand, F.scaled_dot_product_attention(q[None], k[None], v[None])[0], atol=1e-5)
mha = MultiHeadAttention(88, heads=4)
xt = torch.randn(2, 64, 88, generator=g)
Q, K, V = mha.qkv(xt).chunk(3, dim=-1)
heads = [attention(Q[..., h * 22:(h + 1) * 22], K[..., h * 22:(h + 1) * 22], V[..., h * 22:(h + 1) * 22]) for h in range(4)]
mha_by_hand = mha.proj(torch.cat(heads, dim=-1))  # Eq. 10.3
assert torch.allclose(mha_by_hand, mha(xt), atol=1e-5)
entropy = lambda w: float(-(w * w.clamp_min(1e-12).log2()).sum(-1).mean())  # noqa: E731
for d in (16, 64, 256):
    qd, kd = torch.randn(64, d, generator=g), torch.randn(64, d, generator=g)
    print(f"d = {d:3}: attention spread over 2^H = {2 ** entropy(torch.softmax(qd @ kd.T / math.sqrt(d), -1)):5.1f} tokens with 1/√d, "
          f"{2 ** entropy(torch.softmax(qd @ kd.T, -1)):4.1f} without")

# %% [markdown]
# Without the 1/√d the weights collapse onto one or two tokens as d grows; with it they stay spread whatever d.
# Attention's cost is the N × N matrix of weights: **quadratic in the number of tokens** — halving p quadruples N and
# multiplies that part of the cost by 16 (section 8 measures it).
#
# ## 3. DiT: adaLN-Zero · 自适应层归一化（零初始化）
#
# DiT (Peebles & Xie) is a plain Transformer on the patches with a fixed sin-cos position, and one idea for the
# condition c (here the timestep's embedding; a class label's would be added to it): every block's LayerNorm has no
# scale and shift of its own — they, and a **gate** α per sub-layer, are regressed from c:
#
# $$(\beta_1, \gamma_1, \alpha_1, \beta_2, \gamma_2, \alpha_2) = W\,\mathrm{SiLU}(c) + b, \quad x \leftarrow x + \alpha_1 \odot \mathrm{Attn}\big(\mathrm{LN}(x)(1 + \gamma_1) + \beta_1\big), \quad x \leftarrow x + \alpha_2 \odot \mathrm{MLP}\big(\mathrm{LN}(x)(1 + \gamma_2) + \beta_2\big) \qquad \text{(Eq. 10.4)}$$
#
# **Zero**: W and b start at 0, so every α, β, γ is 0 and every block starts as the identity; the final layer starts
# at 0 too, so the untrained network outputs 0 (for x₀-prediction, "no residual": the bicubic image). It is lesson 03's
# scale-shift (Eq. 03.3) for LayerNorm, plus the gate. One block by hand against `DiTBlock`, then the identity check:

# %%
torch.manual_seed(1)
block = DiTBlock(88, 4)
for prm in block.parameters():  # away from the zero initialisation first, so the formula shows
    torch.nn.init.normal_(prm, std=0.1)
c = torch.randn(2, 88, generator=g)
shift1, scale1, gate1, shift2, scale2, gate2 = block.modulation(c).chunk(6, dim=1)
h = xt + gate1[:, None] * block.attn(modulate(block.norm1(xt), shift1, scale1))  # Eq. 10.4, attention
h = h + gate2[:, None] * block.mlp(modulate(block.norm2(h), shift2, scale2))  # Eq. 10.4, MLP
assert torch.allclose(h, block(xt, c), atol=1e-5)
fresh = DiTBlock(88, 4)
net = DiT(in_channels=2, cond_channels=1, patch_size=4, hidden_size=88, depth=4, heads=4)
share = sum(prm.numel() for prm in fresh.modulation.parameters()) / count_parameters(fresh)
with torch.no_grad():
    out0 = net(hr16[:4], torch.tensor([10, 300, 600, 900], device=device), up16[:4])
print(f"a fresh block is the identity: {torch.equal(fresh(xt, c), xt)}; the fresh DiT outputs {out0.abs().max():.0f} everywhere; "
      f"the modulation holds {share:.0%} of a block's parameters (6D² of 18D²)")
assert torch.equal(fresh(xt, c), xt) and torch.equal(out0, torch.zeros_like(out0))

# %% [markdown]
# Zero is not frozen: ∂(α·Attn)/∂α = Attn ≠ 0, so the first step already moves α, exactly as lesson 08's zero
# convolution moves. DiT's paper compares adaLN-Zero with adaLN (regress β, γ only, ordinary initialisation), with
# **in-context** conditioning (c appended as one more token) and with cross-attention, and finds adaLN-Zero best
# (its Fig. 5, DiT-XL/2 on ImageNet) — quoted, and tested at toy scale in section 7.
#
# ## 4. U-ViT: everything is a token, and long skips · 长跳跃连接
#
# U-ViT (Bao et al.) keeps the Transformer plain and makes *everything* a token: the timestep's sinusoidal embedding
# is one more token beside the patches (a class or text condition would be more), with a learned position for each.
# What it takes from the U-Net is its long skips: the blocks come in a shallow half, a middle block and a deep half,
# and deep block i receives the output of shallow block L − i, **concatenated** and mapped back to D columns:
#
# $$h \leftarrow \mathrm{Linear}_{2D \to D}\big([\,h \,;\, h_\text{skip}\,]\big) \qquad \text{(Eq. 10.5)}$$
#
# (not added: the network learns how much of each to keep; U-ViT's ablation found the concatenation and linear layer
# better than adding — quoted, not measured here; what is measured, in section 7, is U-ViT with and without its skips).
# After the last block the time token is dropped, the tokens are unpatchified and a 3 × 3 convolution smooths the
# seams between patches. One skip by hand against `UViT`, with its in-blocks' outputs caught by hooks:

# %%
torch.manual_seed(2)
uvit = UViT(input_size=32, patch_size=4, hidden_size=96, depth=5, heads=4)
caught = {}
uvit.in_blocks[1].register_forward_hook(lambda m, i, o: caught.setdefault("deepest in", o))
uvit.mid_block.register_forward_hook(lambda m, i, o: caught.setdefault("mid", o))
uvit.out_blocks[0].register_forward_hook(lambda m, i, o: caught.setdefault("first out", o))
with torch.no_grad():
    uvit(hr16[:2], torch.tensor([100, 800], device=device), up16[:2])
    first_out = uvit.out_blocks[0]
    joined = first_out.skip(torch.cat([caught["mid"], caught["deepest in"]], dim=-1))  # Eq. 10.5: last in, first out
    h = joined + first_out.attn(first_out.norm1(joined))
    h = h + first_out.mlp(first_out.norm2(h))
assert torch.allclose(h, caught["first out"], atol=1e-5)
print(f"U-ViT: {count_parameters(uvit):,} parameters, 1 + 64 tokens (the time token and the patches); "
      f"DiT: {count_parameters(net):,}; the shipped U-Net: 620,593")

# %% [markdown]
# Both see y the way the course's SR3-style U-Net does — the upsampled LR image concatenated to x_t before patchifying
# (Eq. 04.2) — so the comparison below is about the backbone alone: U-ViT could also take y's 8 × 8 pixels as extra
# tokens, but that would add tokens (and attention's quadratic cost) that the other two do not pay.
#
# ## 5. A DiT trained live · 现场训练
#
# The same `Trainer` as every lesson, the SR3-style recipe of lesson 04 with `"backbone": "dit"`: a few seconds from
# scratch, the loss falls. (At step 0 it is the residual's own size: the network outputs 0.)

# %% tags=["nbval-ignore-output"]
live_cfg = {"name": "dit_live", "dataset": "digits_sr:4", "method": "sr3", "prediction": "x0", "batch_size": 32,
            "learning_rate": 1e-3, "warmup_steps": 10, "log_every": 2, "steps": 100_000,
            "model": {"scale": 4, "residual": True, "backbone": "dit", "in_channels": 2, "cond_channels": 1,
                      "patch_size": 4, "hidden_size": 88, "depth": 4, "heads": 4}}
live = Trainer(live_cfg, device=device)
budget = live_budget(seconds=12)  # 12 s of wall time (under `make test`: a fixed number of steps)
live.train(**budget)
steps_, losses = zip(*live.history)
fig = plotting.loss_curve(live.history, "MSE on x0 (residual)", f"{describe_budget(budget)} of live DiT training ({live.step} steps)")
plt.show()
assert losses[-1] < 0.8 * losses[0], (losses[0], losses[-1])

# %% [markdown]
# ## 6. The matched comparison · 同等参数与算力下的对比
#
# **Fixed in `course_lib/experiments/backbones.py` before the first run:** the shipped SR3-style recipe (×4 digits,
# the residual target, x₀-prediction, cosine T = 1,000, batch 64) with three backbones of matched size (within 10 % of
# the U-Net's 620,593 parameters): the U-Net, DiT (p = 4, D = 88, 4 blocks) and U-ViT (p = 4, D = 96, 5 blocks). The
# same **tuning budget** for each — three learning rates, 1.5 training CPU-minutes each, the lowest mean loss over the
# last quarter wins — and the same **training budget**, 10 CPU-minutes on one thread (lesson 09's unit), with snapshots
# every 2 CPU-minutes: the EMA restores lesson 05's 100 curve digits with DDIM-50, image i from its own seed. The
# margins of "as good" (`MARGINS`): 0.5 dB of PSNR, 1 dB of consistency, 3 points of agreement, 10 % of the U-Net's
# patch SWD and 25 % of its Fréchet distance. One training run per arm: every verdict is **on this run** — the
# intervals cover the test digits, not training seeds.

# %%
bb = load_backbones()
arms, comps = bb["arms"], {(c["a"], c["b"]): c for c in bb["comparisons"]}
display(Markdown(plotting.markdown_table(
    ["arm", "parameters", "pilot loss at lr 2e-4 / 5e-4 / 1e-3", "chosen", "steps in 10 CPU-min", "images/s (1 thread)"],
    [[n, f"{arms[n]['parameters']:,}", " / ".join(f"{v:.4f}" for v in bb["tuning"][n]["mean_loss_last_quarter"].values()),
      f"{bb['tuning'][n]['chosen']:g}", f"{arms[n]['points'][-1]['step']:,}",
      f"{64 * arms[n]['points'][-1]['step'] / arms[n]['points'][-1]['cpu_seconds']:.0f}"] for n in ("unet", "dit", "uvit")])))
STYLE = {"unet": ("U-Net", "C3"), "dit": ("DiT p = 4", "C0"), "uvit": ("U-ViT p = 4", "C2")}
fig, axes = plt.subplots(2, 2, figsize=(11, 6.4), sharex=True)
for name, (label, color) in STYLE.items():
    pts = arms[name]["points"]
    minutes = [q["cpu_seconds"] / 60 for q in pts]
    axes[0, 0].plot(minutes, [q["psnr"]["mean"] for q in pts], "o-", color=color, label=label)
    axes[0, 1].plot(minutes, [q["patch_swd"] for q in pts], "o-", color=color, label=label)
for name in ("dit", "uvit"):
    label, color = STYLE[name]
    snaps = comps[(name, "unet")]["snapshots"]
    minutes = [q["cpu_seconds"] / 60 for q in arms[name]["points"]]
    for ax, key in ((axes[1, 0], "psnr"), (axes[1, 1], "patch_swd")):
        iv = [s[key]["interval"] for s in snaps]
        est = [i["estimate"] for i in iv]
        ax.errorbar(minutes, est, yerr=[[e - i["low"] for e, i in zip(est, iv)], [i["high"] - e for e, i in zip(est, iv)]],
                    fmt="o-", color=color, capsize=3, label=f"{label} − U-Net")
        margins = [s[key]["margin"] for s in snaps]
        ax.fill_between(minutes, [-m for m in margins], margins, color="grey", alpha=0.15)
    axes[1, 0].axhline(0, color="k", lw=0.6)
    axes[1, 1].axhline(0, color="k", lw=0.6)
axes[0, 0].set(ylabel="PSNR (dB), 100 digits", title="quality against training CPU-minutes")
axes[0, 1].set(ylabel="patch SWD ↓", yscale="log", title="realism")
axes[1, 0].set(xlabel="training CPU-minutes", ylabel="Δ PSNR vs U-Net [95 %]")
axes[1, 1].set(xlabel="training CPU-minutes", ylabel="Δ patch SWD vs U-Net [95 %]")
axes[0, 0].legend(fontsize=8)
axes[1, 0].legend(fontsize=8)
plt.tight_layout()
plt.show()
last = {name: comps[(name, "unet")]["snapshots"][-1] for name in ("dit", "uvit")}
KEYS = (("patch_swd", 5), ("frechet", 2), ("psnr", 2), ("consistency", 2), ("agreement", 3))
display(Markdown(plotting.markdown_table(
    ["after 10 CPU-minutes, A − U-Net", "Δ patch SWD ↓", "Δ Fréchet ↓", "Δ PSNR (dB)", "Δ consistency (dB)", "Δ agreement"],
    [[STYLE[n][0], *(plotting.verdict_text(last[n][k], d, bold=True) for k, d in KEYS)] for n in last])))

# %%
# what the text below states, checked on the cache
dit, uvit = last["dit"], last["uvit"]
assert all(bb["tuning"][n]["chosen"] == max(bb["rules"]["learning_rates"]) for n in bb["tuning"])  # the grid's edge
steps = {n: arms[n]["points"][-1]["step"] for n in ("unet", "dit", "uvit")}
assert steps["dit"] > steps["uvit"] > 1.5 * steps["unet"]
assert (dit["psnr"]["verdict"], dit["patch_swd"]["verdict"], dit["consistency"]["verdict"]) == ("worse", "undecided", "better")
assert dit["psnr"]["interval"]["low"] < -MARGINS["psnr_db"] < dit["psnr"]["interval"]["high"] < 0  # beyond the margin
assert (uvit["psnr"]["verdict"], uvit["patch_swd"]["verdict"]) == ("worse", "worse")
first = comps[("dit", "unet")]["snapshots"][0]
assert first["psnr"]["interval"]["estimate"] < 3 * dit["psnr"]["interval"]["estimate"] and first["patch_swd"]["verdict"] == "better"
print(f"DiT − U-Net, PSNR: {first['psnr']['interval']['estimate']:+.2f} dB at 2 CPU-minutes, "
      f"{dit['psnr']['interval']['estimate']:+.2f} dB at 10")

# %% [markdown]
# Reading it — **on this run**, one training run per arm:
#
# * **Tuning.** Every tuned arm chose the largest rate of the grid, 10⁻³. The grid was fixed before measuring and is
#   the same for all; a larger rate might have helped every arm, and the pilots cannot say by how much.
# * **Per CPU-minute the Transformers take more steps** (the table above: at p = 4 a block works on 64 tokens, while the
#   U-Net convolves all 1,024 pixels at full resolution) — **and still the U-Net leads in PSNR**: DiT is **worse** by
#   more than the 0.5 dB margin after 10 CPU-minutes, U-ViT too. In realism DiT is **undecided** against the U-Net —
#   its patch-SWD interval reaches beyond the 10 % margin — and U-ViT **worse**. DiT's consistency is **better**: it
#   explains y more closely than the U-Net, whose residual adds more than y allows.
# * **The gap narrows** (the curves and the printed line): DiT started far behind in PSNR and, at 2 CPU-minutes, was even
#   *more* realistic than the U-Net by patch SWD — an early U-Net makes speckled strokes — before the U-Net caught up.
# * **Why a Transformer loses at this scale**: the U-Net's convolutions carry the prior that nearby pixels belong
#   together and that a stroke looks the same anywhere (its weights are shared across positions); attention must learn
#   locality from data, and 4,000 training digits and a few thousand steps are little data. And a p = 4 token must
#   carry 16 pixels of detail through one linear map each way. DiT's paper claims the opposite at its scale —
#   *quoted*: "DiTs with higher Gflops — through increased transformer depth/width or increased number of input
#   tokens — consistently have lower FID", DiT-XL/2 reaching FID 2.27 on ImageNet 256 × 256 with 675 M parameters —
#   a regime of compute and data far beyond this one, which this lesson cannot test.

# %% [markdown]
# ## 7. What each design choice buys · 设计选择的作用
#
# The same budget for each variant, each taking its parent's learning rate: DiT with adaLN (β, γ regressed, no gate,
# ordinary initialisation) and with in-context conditioning (t as one more token, a standard block: the fewest
# parameters, since it has no modulation); U-ViT without its long skips; and both with p = 2 — four times the tokens,
# patches of 2 × 2. Judged at 10 CPU-minutes, A − B:

# %%
ABLATIONS = [("dit", "dit_adaln"), ("dit", "dit_in_context"), ("uvit", "uvit_no_skips"), ("dit_p2", "dit"), ("uvit_p2", "uvit")]
display(Markdown(plotting.markdown_table(
    ["A − B", "question", "parameters A / B", "steps A / B", "Δ patch SWD ↓", "Δ PSNR (dB)", "Δ agreement"],
    [[f"{a} − {b}", comps[(a, b)]["question"], f"{arms[a]['parameters']:,} / {arms[b]['parameters']:,}",
      f"{arms[a]['points'][-1]['step']:,} / {arms[b]['points'][-1]['step']:,}",
      *(plotting.verdict_text(comps[(a, b)]["snapshots"][-1][k], d, bold=True) for k, d in (("patch_swd", 5), ("psnr", 2), ("agreement", 3)))]
     for a, b in ABLATIONS])))
word = {(a, b): {k: comps[(a, b)]["snapshots"][-1][k]["verdict"] for k in ("patch_swd", "psnr", "agreement")} for a, b in ABLATIONS}

# %%
# what the text below states, checked on the cache
assert word[("dit", "dit_adaln")] == {"patch_swd": "better", "psnr": "better", "agreement": "as good, within the margin"}
assert word[("dit", "dit_in_context")]["psnr"] == word[("dit", "dit_in_context")]["patch_swd"] == "better"
assert word[("uvit", "uvit_no_skips")]["psnr"] == word[("uvit", "uvit_no_skips")]["patch_swd"] == "worse"
assert comps[("uvit", "uvit_no_skips")]["snapshots"][0]["psnr"]["verdict"] == "better"  # ahead at 2 CPU-minutes
assert all(word[(a, b)]["psnr"] == word[(a, b)]["patch_swd"] == "worse" for a, b in (("dit_p2", "dit"), ("uvit_p2", "uvit")))
assert arms["dit_p2"]["points"][-1]["step"] < 0.3 * arms["dit"]["points"][-1]["step"]

# %% [markdown]
# * **adaLN-Zero earns its place**: DiT with it is **better** than with adaLN (ordinary initialisation, no gate) in
#   PSNR and patch SWD, and better than in-context conditioning in both too — DiT's own ranking (its Fig. 5),
#   reproduced at toy scale on this run. In-context conditioning has the fewest parameters and takes the most steps in
#   the budget, and still trails.
# * **U-ViT's long skips did not help here**: with them U-ViT is **worse** than without, in PSNR and in patch SWD, after
#   10 CPU-minutes — though they were ahead at 2 CPU-minutes. Two skips in a five-block network are short shortcuts, and
#   each Linear(2D → D), initialised small as U-ViT's code does (std 0.02), shrinks the stream it joins: a hypothesis,
#   not tested here. U-ViT's paper reports long skips as crucial at its scale (*quoted*, its own ablation).
# * **p = 2 loses everything for both**: four times the tokens make each step several times slower (DiT at p = 2 took
#   under a third of p = 4's steps), and at this budget fewer steps cost more than finer patches give. DiT's paper finds
#   smaller patches better (*quoted*) — at equal training *steps*, where the extra compute is free.
#
# ## 8. Cost as the image grows · 随图像增大的开销
#
# Forward milliseconds per image (one thread, batch 16) and FLOPs (counted by `torch.utils.flop_counter`, attention
# as the matrix products of Eq. 10.2) at 16, 32 and 64 pixels, for the U-Net and DiT at p = 4 and 2 — the same
# networks as above, on bigger images:

# %%
cost = bb["cost"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for name, label in (("unet", "U-Net"), ("dit", "DiT p = 4"), ("dit_p2", "DiT p = 2")):
    sizes = cost["sizes"]
    axes[0].loglog(sizes, [cost["pixel"][name][str(s)]["mflops_per_image"] for s in sizes], "o-", label=label)
    axes[1].loglog(sizes, [cost["pixel"][name][str(s)]["ms_per_image"] for s in sizes], "o-", label=label)
for ax, what in zip(axes, ("MFLOPs per image", "ms per image (1 thread)")):
    ax.set(xlabel="image side (pixels)", ylabel=what)
    ax.set_xticks(cost["sizes"], [str(s) for s in cost["sizes"]])
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
growth = {n: cost["pixel"][n]["64"]["mflops_per_image"] / cost["pixel"][n]["16"]["mflops_per_image"] for n in ("unet", "dit", "dit_p2")}
print("FLOPs from 16 to 64 pixels (16× the pixels): " + ", ".join(f"{n} ×{v:.0f}" for n, v in growth.items()))
print("on the 8 × 8 × 4 latent of a 32-pixel digit: " + ", ".join(
    f"{n} {v['mflops_per_image']:.0f} MFLOPs, {v['ms_per_image']:.1f} ms" for n, v in cost["latent"].items()))
assert growth["unet"] < 17 < growth["dit"] < growth["dit_p2"]
N, D_, depth = (64 // 2) ** 2, 88, 4  # DiT at p = 2 on 64 pixels: 1,024 tokens
attention_mflops = 4 * N**2 * D_ * depth / 1e6  # Q Kᵀ and the weights times V: 2·N²·D multiply-adds each, per block
print(f"DiT p = 2 at 64 pixels: attention {attention_mflops:.0f} of {cost['pixel']['dit_p2']['64']['mflops_per_image']:.0f} MFLOPs "
      f"({attention_mflops / cost['pixel']['dit_p2']['64']['mflops_per_image']:.0%})")

# %% [markdown]
# From 16 to 64 pixels the U-Net's FLOPs grow with the pixels — a convolution costs the same at every one — and DiT's
# faster: its linear layers grow with the tokens, attention with their square, and at 64 pixels with p = 2 attention is
# most of the network's work. Time follows. This is why DiT runs on latents: LDM's f = 8 autoencoder turns a
# 256 × 256 image into a 32 × 32 latent, 256 tokens at p = 2, and a 64-pixel digit here would be an 8 × 8 latent.
#
# ## 9. DiT on latents · 潜在空间上的 DiT
#
# DiT was made for LDM's latents. On lesson 07's 8 × 8 × 4 latents (the frozen autoencoder, latents scaled to unit
# variance, y's 8 × 8 pixels concatenated), a DiT with p = 1 — 64 tokens, one per latent position, D = 92, 4 blocks,
# 653,388 parameters — against lesson 07's latent U-Net (669,796), each tuned and trained by the same rules:

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for name, label, color in (("latent_unet", "latent U-Net", "C3"), ("latent_dit", "latent DiT p = 1", "C0")):
    pts = arms[name]["points"]
    minutes = [q["cpu_seconds"] / 60 for q in pts]
    axes[0].plot(minutes, [q["psnr"]["mean"] for q in pts], "o-", color=color, label=label)
    axes[1].plot(minutes, [q["patch_swd"] for q in pts], "o-", color=color, label=label)
axes[0].set(xlabel="training CPU-minutes", ylabel="PSNR (dB)")
axes[1].set(xlabel="training CPU-minutes", ylabel="patch SWD ↓")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()
lat = comps[("latent_dit", "latent_unet")]["snapshots"][-1]
display(Markdown(plotting.markdown_table(
    ["after 10 CPU-minutes", "Δ patch SWD ↓", "Δ Fréchet ↓", "Δ PSNR (dB)", "Δ consistency (dB)", "Δ agreement"],
    [["latent DiT − latent U-Net", *(plotting.verdict_text(lat[k], d, bold=True) for k, d in KEYS)]])))

# %%
assert (lat["psnr"]["verdict"], lat["patch_swd"]["verdict"], lat["frechet"]["verdict"]) == ("worse", "worse", "undecided")
assert arms["latent_unet"]["points"][-1]["step"] > 2 * arms["latent_dit"]["points"][-1]["step"]

# %% [markdown]
# On latents the DiT is **worse** than lesson 07's latent U-Net in PSNR and patch SWD after 10 CPU-minutes (Fréchet
# undecided), on this run: here the U-Net works on an 8 × 8 grid and is the cheaper network — it took more than twice
# the DiT's steps in the budget — so the Transformer's advantage of cost on large images does not arise at this size.

# %% [markdown]
# ## 10. In the landscape table · 全景表
#
# The DiT arm was shipped as it ended (`digits_dit_sr`: its EMA after the 10 CPU-minutes, in float16 — per-image PSNR
# on the curve digits within 0.01 dB of the float32 EMA's) and measured by the one harness — the same 500 test digits
# and per-image seeds as every row — beside the SR3-style U-Net, trained for 74 CPU-minutes (its row is where a longer
# run ends up; "training min" is wall-clock, the U-Net's on two threads, DiT's on one). One checkpoint, not two: the
# lesson's share of `data/` holds one beside the cache, and DiT is the better Transformer on this run; U-ViT's
# measurements are the cache's (sections 6–7).

# %%
table = {r["label"]: r for r in load_table()["rows"] if r["task"] == "digits_x4"}
rows10 = ["SR3 concat DDIM-50", "DiT (p = 4, adaLN-Zero) DDIM-50"]
display(Markdown(plotting.markdown_table(
    ["row", "PSNR", "consistency", "agreement", "patch SWD ↓", "Fréchet ↓", "NFE", "ms/image", "parameters", "training min"],
    [[lab, f"{table[lab]['psnr']:.2f}", f"{table[lab]['consistency']:.1f}", f"{table[lab]['agreement']:.3f}",
      f"{table[lab]['patch_swd']:.4f}", f"{table[lab]['frechet']:.2f}", table[lab]["nfe"], f"{table[lab]['ms_per_image']:.1f}",
      f"{table[lab]['parameters']:,}", f"{table[lab]['training_minutes']:.1f}"] for lab in rows10])))

# %% [markdown]
# ## 11. Where does a patch look? The attention explorer · 注意力探索
#
# Pick a timestep, a block and a query patch of a noisy digit: the map shows where that patch takes its information
# from (the weights of Eq. 10.2, averaged over the heads) in the shipped DiT. At high noise, does a patch look at the
# strokes of y that the bicubic image shows, or at its neighbours? Its view at t = 500, block 2, patch (4, 3):

# %%
from course_lib.teaching.widgets import AttentionWidget, attention_frame, attention_view, render_attention  # noqa: E402

dit_sr = load("digits_dit_sr", device)
view = attention_view(dit_sr.model, dit_sr.process, hr16[3:4], y16[3:4], seed=image_seeds([LIVE_INDICES[3]])[0],
                      timesteps=[50, 250, 500, 750, 950])
attention_widget = AttentionWidget(view, k=2, block=1, row=4, col=3)
attention_widget

# %% tags=["nbval-ignore-output"]
# a static copy of the widget's view (what the widget shows above, as a picture)
from IPython.display import Image  # noqa: E402

frame = attention_frame(view, 2, 1, 4, 3)
print(f"patch (4, 3) at t = 500, block 2: most to patch {frame['top']}, spread over about {frame['spread']:.1f} of 64 patches")
Image(render_attention(view, 2, 1, 4, 3))

# %% [markdown]
# ## 12. What the notes say, and what we measured · 笔记中的说法与实测

# %%
claims = [
    ["U-Net → DiT → U-ViT → LDM", f"not a lineage: LDM ({paper('ldm').venue} {paper('ldm').year}) came first; U-ViT "
     f"(arXiv {paper('uvit').preprint}) before DiT (arXiv {paper('dit').preprint}); both are Transformer denoisers made to run on "
     "LDM's latents", "lesson 00, `history.py`"],
    ["Transformers are the better denoisers", "quoted from DiT: FID falls with Gflops at ImageNet scale; measured at toy scale, "
     "matched parameters and CPU-minutes, on this run: the U-Net ahead of DiT and U-ViT in PSNR, DiT undecided in realism",
     "section 6"],
    ["U-ViT's long skips are essential", "quoted from U-ViT's ablation; on this run, without them U-ViT was better after "
     "10 CPU-minutes (ahead with them at 2)", "section 7"],
]
display(Markdown(plotting.markdown_table(["the notes (or a common summary)", "what the papers and our measurements say", "where"], claims)))

# %% [markdown]
# ## Recap · 小结
#
# * An image becomes **tokens** by cutting it into p × p patches (Eq. 10.1); a **position embedding** says where each
#   sits. **Self-attention** (Eq. 10.2) lets every token take from every other, weighted by softmax(QKᵀ/√d); the
#   1/√d keeps the softmax from saturating; **multi-head** attention (Eq. 10.3) runs it on column blocks.
# * **DiT** is a plain Transformer whose LayerNorms are modulated by the condition — shift, scale and a gate per
#   sub-layer, regressed from c and zero-initialised, so that every block starts as the identity (**adaLN-Zero**,
#   Eq. 10.4). **U-ViT** makes the timestep a token and adds the U-Net's **long skips**, concatenated (Eq. 10.5).
# * At toy scale, matched parameters and CPU-minutes, on this run: the **U-Net leads** both Transformers in PSNR;
#   DiT is undecided against it in realism and better in consistency, U-ViT worse in realism. adaLN-Zero beats adaLN
#   and in-context conditioning, as in DiT's paper; U-ViT's long skips and p = 2 did not pay here. A Transformer's
#   cost grows with its tokens squared — why DiT and U-ViT run on latents.
#
# ## Exercises · 练习
#
# **Exercise 10.1 — patchify.** Write `my_patchify(x, p)`: Eq. 10.1, `(B, C, H, W) → (B, N, p·p·C)`, patches row by
# row, each patch's pixels as (row, column, channel).

# %%
from course_lib.teaching.exercises.lesson10 import (check_adaln_zero_init, check_attention, check_dit_block,  # noqa: E402
                                                    check_long_skip, check_patchify)


# %%
def my_patchify(x, p):
    """x (B, C, H, W), p -> (B, (H/p)(W/p), p·p·C)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_patchify(my_patchify)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_patchify(x, p):
    """x (B, C, H, W), p -> (B, (H/p)(W/p), p·p·C)."""
    B, C, H, W = x.shape
    x = x.reshape(B, C, H // p, p, W // p, p)  # split each side into (patch index, position inside the patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, (H // p) * (W // p), p * p * C)  # grid first, channel last


check_patchify(my_patchify)

# %% [markdown]
# **Exercise 10.2 — attention.** Write `my_attention(q, k, v)`: Eq. 10.2 for `(…, N, d)` tensors.

# %%
def my_attention(q, k, v):
    """q, k, v (..., N, d) -> (..., N, d)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_attention(my_attention)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_attention(q, k, v):
    """q, k, v (..., N, d) -> (..., N, d)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., N, N), scaled by 1/√d
    return torch.softmax(scores, dim=-1) @ v  # each query's weights over the keys sum to 1


check_attention(my_attention)

# %% [markdown]
# **Exercise 10.3 — the adaLN-Zero block.** Write `my_dit_block(x, c, block)`: Eq. 10.4 from the parts of a
# `DiTBlock` — `block.modulation(c)` gives the six vectors (shift, scale, gate for attention, then for the MLP),
# `block.norm1`, `block.attn`, `block.norm2`, `block.mlp` and `modulate(x, shift, scale)` the rest.

# %%
def my_dit_block(x, c, block):
    """x (B, N, D), c (B, D), block a DiTBlock -> (B, N, D)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_dit_block(my_dit_block)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_dit_block(x, c, block):
    """x (B, N, D), c (B, D), block a DiTBlock -> (B, N, D)."""
    shift1, scale1, gate1, shift2, scale2, gate2 = block.modulation(c).chunk(6, dim=1)
    x = x + gate1[:, None] * block.attn(modulate(block.norm1(x), shift1, scale1))  # LN(x)(1 + γ) + β, gated
    return x + gate2[:, None] * block.mlp(modulate(block.norm2(x), shift2, scale2))


check_dit_block(my_dit_block)

# %% [markdown]
# **Exercise 10.4 — the zero of adaLN-Zero.** Write `my_adaln_zero_init(block)`: initialise a `DiTBlock` in place so
# that it is the identity, the way DiT does — and so that it still learns.

# %%
def my_adaln_zero_init(block):
    """block a DiTBlock, changed in place."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_adaln_zero_init(my_adaln_zero_init)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_adaln_zero_init(block):
    """block a DiTBlock, changed in place."""
    torch.nn.init.zeros_(block.modulation[-1].weight)  # every shift, scale and gate starts at 0 …
    torch.nn.init.zeros_(block.modulation[-1].bias)  # … the bias too, or the gates start open


check_adaln_zero_init(my_adaln_zero_init)

# %% [markdown]
# **Exercise 10.5 — a long skip.** Write `my_long_skip(h, skip, linear)`: Eq. 10.5, with `linear` a `Linear(2D, D)`.

# %%
def my_long_skip(h, skip, linear):
    """h, skip (B, N, D), linear Linear(2D, D) -> (B, N, D)."""
    # YOUR CODE HERE
    raise NotImplementedError


# %%
check_long_skip(my_long_skip)

# %% jupyter={"source_hidden": true} tags=["solution"]
def my_long_skip(h, skip, linear):
    """h, skip (B, N, D), linear Linear(2D, D) -> (B, N, D)."""
    return linear(torch.cat([h, skip], dim=-1))  # concatenated, not added, then mapped back to D


check_long_skip(my_long_skip)

# %% [markdown]
# **Exercise 10.6 (open).** In the attention explorer, pick a patch on a stroke and one on the background, at t = 950
# and at t = 50. Which spreads its attention more, and at which noise level? Then compare blocks 1 and 4: does the
# later block look further? What would a convolution of the U-Net see from the same patch?

# %%
from course_lib.teaching import exercises  # noqa: E402

exercises.summary("10")

# %% [markdown]
# ## Further reading · 延伸阅读
#
# * W. Peebles, S. Xie, *Scalable Diffusion Models with Transformers* (DiT), ICCV 2023 — Eq. 10.4, adaLN-Zero and its
#   ablation (Fig. 5), Gflops against FID (Fig. 8); code `facebookresearch/DiT`.
# * F. Bao, S. Nie, K. Xue, Y. Cao, C. Li, H. Su, J. Zhu, *All are Worth Words: A ViT Backbone for Diffusion Models*
#   (U-ViT), CVPR 2023 — Eq. 10.5, long skips concatenated; code `baofff/U-ViT`.
# * A. Dosovitskiy et al., *An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale* (ViT),
#   ICLR 2021 — patches as tokens (Eq. 10.1).
# * A. Vaswani et al., *Attention Is All You Need*, NeurIPS 2017 — Eq. 10.2–10.3.
# * P. Esser et al., *Scaling Rectified Flow Transformers for High-Resolution Image Synthesis* (Stable Diffusion 3's
#   MM-DiT), ICML 2024 — text and image tokens with their own weights, joined in attention.
# * R. Rombach et al., *High-Resolution Image Synthesis with Latent Diffusion Models* (LDM), CVPR 2022 — the latent
#   space both Transformers were built for.
#
# **Next:** 11 — flow matching and rectified flow.
