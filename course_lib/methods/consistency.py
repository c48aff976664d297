"""Consistency distillation for SR · 一致性蒸馏 (Song et al., "Consistency Models", ICML 2023; Luo et al., "Latent
Consistency Models", arXiv 2023; lesson 06).

A **consistency function** maps every point x_t of one probability-flow trajectory to the same x̂₀. It is
parameterised so that the boundary condition f(x, t_min) = x holds *exactly* (Eq. 06.10; LCM's discrete scalings):

    f_θ(x_t, t) = c_skip(t) x_t + c_out(t) F_θ(x_t, t, y),   c_skip = σ_d² / ((κt)² + σ_d²),   c_out = κt / √((κt)² +
    σ_d²)

with t the 0-based index, κ = 10 (``timestep_scaling``) and σ_d = 0.5: c_skip(0) = 1, c_out(0) = 0, and from t ≈ 10 on
f ≈ F. **Consistency distillation** (Eq. 06.11; Song et al. Algorithm 2) teaches f_θ one teacher ODE step at a time:

    x_{t_{n+k}} ~ q(x | x₀),   x̂_{t_n} = DDIM_teacher(x_{t_{n+k}}: t_{n+k} → t_n),
    L = d( f_θ(x_{t_{n+k}}, t_{n+k}),  f_{θ⁻}(x̂_{t_n}, t_n) )

with the pseudo-Huber distance d(a, b) = √(‖a − b‖² + c²) − c (LCM), a skip of k = 20 indices (LCM's DDIM skeleton of
50 points, t_n ∈ {0, 19, 39, …, 979}), and θ⁻ an exponential moving average of θ (decay 0.95) — the target network.
The student starts as a copy of the teacher (``init_from``), the teacher is the shipped SR3-style digits model, whose
DDIM steps use the same x̂₀ hook as its sampling (clip the image to [-1, 1]).

What the toy keeps of LCM (Luo et al. 2023): the discrete scalings, the skip k = 20, the pseudo-Huber loss and the
multistep sampler that re-noises. What it drops: the latent space (these are 32 × 32 pixels) and the guidance-aware
teacher (LCM distils classifier-free guidance w into the student; SR here is conditioned on y without guidance).

Reference: ``openai/consistency_models`` ``cm/karras_diffusion.py`` (``consistency_losses``); diffusers'
``examples/consistency_distillation/train_lcm_distill_sd_wds.py`` and ``schedulers/scheduling_lcm.py``
(``get_scalings_for_boundary_condition_discrete``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..device import randn
from ..models import SR3, UNet
from ..samplers import ddim_timesteps
from .base import EXAMPLE_RUN, register_method
from .sr3 import SR3Config, SR3Method, image_x0_transform

__all__ = ["ConsistencySRConfig", "ConsistencySR3", "ConsistencySRMethod", "boundary_scalings"]


def boundary_scalings(t: torch.Tensor, sigma_data: float = 0.5,
                      timestep_scaling: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(c_skip, c_out) of Eq. 06.10 at 0-based indices ``t`` (LCM's discrete form): c_skip(0) = 1, c_out(0) = 0."""
    st = t.to(torch.float32) * timestep_scaling
    return sigma_data**2 / (st**2 + sigma_data**2), st / (st**2 + sigma_data**2).sqrt()


class ConsistencySR3(SR3):
    """An :class:`~course_lib.models.SR3` whose output is the consistency function f_θ (Eq. 06.10) in its target space.

    ``forward(x_t, t, y)`` = c_skip(t) x_t + c_out(t) F_θ(x_t, t, y), F_θ the SR3 network (an x₀-prediction), so
    f_θ(x, 0) = x exactly. It samples with the ``"consistency"`` sampler (or any sampler: its output is an x̂₀).
    """

    def __init__(self, net: UNet, scale: int, residual: bool = False, residual_scale: float = 1.0,
                 sigma_data: float = 0.5, timestep_scaling: float = 10.0):
        super().__init__(net, scale=scale, residual=residual, residual_scale=residual_scale, prediction="x0")
        self.sigma_data, self.timestep_scaling = float(sigma_data), float(timestep_scaling)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c_skip, c_out = boundary_scalings(t, self.sigma_data, self.timestep_scaling)
        shape = (-1,) + (1,) * (x_t.dim() - 1)
        F = super().forward(x_t, t, y)
        return c_skip.reshape(shape).to(x_t.dtype) * x_t + c_out.reshape(shape).to(x_t.dtype) * F

    def extra_repr(self) -> str:
        return super().extra_repr() + f", sigma_data={self.sigma_data}, timestep_scaling={self.timestep_scaling}"


@dataclass(frozen=True)
class ConsistencySRConfig(SR3Config):
    """The student: SR3's fields (``scale``, ``residual``, ``residual_scale``, ``tile``, ``args``: the UNet, as the
    teacher's) plus ``teacher`` (a shipped SR3 model that predicts x₀), ``skip`` k, ``target_decay`` (θ⁻'s EMA),
    ``huber_c`` (the pseudo-Huber c), ``sigma_data`` and ``timestep_scaling`` (Eq. 06.10)."""

    teacher: str = "digits_sr3_concat"
    skip: int = 20
    target_decay: float = 0.95
    huber_c: float = 0.001
    sigma_data: float = 0.5
    timestep_scaling: float = 10.0


@register_method
class ConsistencySRMethod(SR3Method):
    """Consistency distillation of a shipped SR3-style model (Eq. 06.11); restores with the ``"consistency"``
    sampler."""

    name = "consistency_sr"
    Config = ConsistencySRConfig
    legacy_kinds = ()

    def __init__(self, config):
        super().__init__(config)
        if self.prediction != "x0":
            raise ValueError(f"prediction must be 'x0' for a consistency model (f_θ outputs x̂₀), "
                             f"got {self.prediction!r}")
        self.teacher: SR3 | None = None
        self.target: nn.Module | None = None

    @classmethod
    def example(cls) -> dict:
        """Two steps of distilling the shipped digits SR3 teacher into a student of its architecture (the student
        must match its teacher, the only shipped one), batch 4."""
        return {"name": "example_consistency", "dataset": "digits_sr:4", "method": "consistency_sr", "prediction": "x0",
                "init_from": "digits_sr3_concat",
                "model": {"scale": 4, "residual": True, "in_channels": 2, "cond_channels": 1, "conditioning": "concat",
                          "base_channels": 16, "channel_mults": [1, 2, 4], "num_res_blocks": 1, "attention": True},
                **EXAMPLE_RUN}

    def build(self) -> nn.Module:
        """``ConsistencySR3(UNet(**args), …)``: the teacher's architecture with the boundary scalings of Eq. 06.10."""
        c = self.config
        return ConsistencySR3(UNet(**self.network_args()), scale=c.scale, residual=c.residual,
                              residual_scale=c.residual_scale, sigma_data=c.sigma_data,
                              timestep_scaling=c.timestep_scaling)

    def trained_with(self) -> tuple[str, ...]:
        """The teacher: every training step runs it (its training is part of the student's cost)."""
        return (self.config.teacher,)

    def setup(self, load_model, device) -> None:
        """Load the frozen teacher (the shipped SR3 model named by ``config.teacher``)."""
        teacher = load_model(self.config.teacher)
        if not isinstance(teacher, SR3) or teacher.prediction != "x0":
            raise ValueError(f"teacher: {self.config.teacher!r} must be an SR3 model that predicts x0")
        self.teacher = teacher.eval().requires_grad_(False)

    def skeleton(self, T: int) -> list[int]:
        """LCM's DDIM skeleton, increasing: 0 and then k − 1, 2k − 1, …, T − 1 (k = ``skip``)."""
        if T % self.config.skip:
            raise ValueError(f"skip must divide T={T}, got {self.config.skip}")
        return [0] + sorted(ddim_timesteps(T, T // self.config.skip))

    def loss(self, model, process, batch, generator):
        """Eq. 06.11: pseudo-Huber between the student at t_{n+k} and the target network after one teacher DDIM step."""
        if self.teacher is None:
            raise RuntimeError("the consistency method needs its teacher: the trainer calls setup() first")
        if self.target is None:
            self.target = copy.deepcopy(model).requires_grad_(False)
        with torch.no_grad():  # θ⁻ ← μ θ⁻ + (1 − μ) θ: the target network trails the student
            for pt, pm in zip(self.target.parameters(), model.parameters()):
                pt.lerp_(pm, 1 - self.config.target_decay)
        x, y = batch["x"], batch["y"]
        x0 = model.target(x, y)
        B, device = x0.shape[0], x0.device
        skel = torch.tensor(self.skeleton(process.num_timesteps), device=device)
        n = torch.randint(1, len(skel), (B,), generator=generator, device=device)
        t, t_prev = skel[n], skel[n - 1]
        x_t = process.q_sample(x0, t, randn(x0.shape, generator, device))
        hook = image_x0_transform(self.teacher, y, project=False)
        with torch.no_grad():
            x0_teacher = hook(self.teacher(x_t, t, y), None)                              # teacher x̂₀, image clipped
            ab_t, ab_p = (process.alpha_bars[s].reshape(-1, 1, 1, 1) for s in (t, t_prev))
            eps = (x_t - ab_t.sqrt() * x0_teacher) / (1 - ab_t).sqrt()                    # Eq. 02.2
            x_prev = ab_p.sqrt() * x0_teacher + (1 - ab_p).sqrt() * eps                   # DDIM η = 0 (Eq. 02.6)
            target = self.target(x_prev, t_prev, y)                                       # f_θ⁻(x̂_{t_n}, t_n)
        pred = model(x_t, t, y)                                                           # f_θ(x_{t_{n+k}}, t_{n+k})
        c = self.config.huber_c
        return (((pred.float() - target.float()) ** 2).flatten(1).mean(1) + c * c).sqrt().mean() - c

    @torch.no_grad()
    def restore(self, model, process, y, seeds=None, sampler: str = "consistency", steps: int | None = 1, **options):
        """Multistep consistency sampling (1 step by default) on ``y`` of any size; image i from ``seeds[i]``."""
        return super().restore(model, process, y, seeds=seeds, sampler=sampler, steps=steps, **options)
