"""A cascade's super-resolution stage with conditioning augmentation (CDM: Ho et al., JMLR 2022) ·
级联超分阶段与条件增强: lesson 07.

The stage is SR3 (lesson 04, Eq. 04.2: y upsampled and concatenated to x_t) generating the whole HR image, with one
change. In training, the LR image is first corrupted to a random level s by the forward process itself,

    z_s = √ᾱ_s · y + √(1 − ᾱ_s) · ε                                     (Eq. 07.2, at the LR resolution)

and s is given to the network, embedded like t and added to t's embedding (Eq. 07.3; the U-Net's
``aug_level_embedding``). At sampling, y is a base model's output and s a fixed level chosen on validation images:
the noise washes out the base's small artefacts, and the network, told how much was washed out, fills the detail
back in. s = 0 means "no corruption" (z = y); s ≥ 1 is the paper's timestep s (the process's code index s − 1).
The forward process lives outside the network: :func:`augment_lr` takes it as an argument, and the network receives
``cond = (z_s, s)``.
"""

from __future__ import annotations

import torch

from .conditioning import SR3
from .unet import UNet

__all__ = ["augment_lr", "CascadeSR"]


def augment_lr(process, y: torch.Tensor, aug_level: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Eq. 07.2: z_s = √ᾱ_s y + √(1 − ᾱ_s) ε per image, with z = y where s = 0.

    Args:
        process: the :class:`~course_lib.diffusion.GaussianDiffusion` whose ᾱ define the levels.
        y: ``(B, C, h, w)`` LR images; aug_level: ``(B,)`` integer levels s in 0 … T − 1; noise: ε, y's shape.
    """
    if not isinstance(aug_level, torch.Tensor) or aug_level.shape != (y.shape[0],) or aug_level.is_floating_point():
        got = tuple(aug_level.shape) if isinstance(aug_level, torch.Tensor) else type(aug_level).__name__
        raise ValueError(f"aug_level must be a ({y.shape[0]},) integer tensor of levels s, got {got}")
    T = process.num_timesteps
    if aug_level.numel() and (int(aug_level.min()) < 0 or int(aug_level.max()) > T - 1):
        raise ValueError(
            f"aug_level must be in 0 … {T - 1} (0: no corruption), got {int(aug_level.min())} … {int(aug_level.max())}"
        )
    if noise.shape != y.shape:
        raise ValueError(f"noise must have y's shape {tuple(y.shape)}, got {tuple(noise.shape)}")
    s = aug_level.to(y.device).long()
    z = process.q_sample(y, (s - 1).clamp(min=0), noise)  # level s = the paper's t = s (code index s − 1)
    return torch.where((s > 0).view(-1, *([1] * (y.dim() - 1))), z, y)


class CascadeSR(SR3):
    """SR3 (concat, the HR image as x₀) whose condition is ``(z_s, s)``: the network sees x_t beside U(z_s) and, when
    built with ``aug_level_embedding``, is told s (Eq. 07.3). A stage trained without augmentation has no such
    embedding and ignores s (it has only ever seen s = 0).

    Args:
        net: a concat :class:`~course_lib.models.UNet`; scale: the SR factor; prediction: the network's output type.
    """

    def __init__(self, net: UNet, scale: int, prediction: str = "eps"):
        if net.conditioning != "concat":
            raise ValueError(f"CascadeSR needs a concat UNet (Eq. 04.2), got conditioning={net.conditioning!r}")
        super().__init__(net, scale, residual=False, prediction=prediction)

    @property
    def told(self) -> bool:
        """Whether the network is told s (it embeds the augmentation level)."""
        return self.net.aug_mlp is not None

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond) -> torch.Tensor:
        if not isinstance(cond, (tuple, list)) or len(cond) != 2:
            raise ValueError("cond must be the pair (z_s, s): the corrupted LR image and its level (Eq. 07.2)")
        z, s = cond
        return self.net(x_t, t, self.condition(z), aug_level=s.to(x_t.device) if self.told else None)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, told_s={self.told}, prediction={self.prediction!r}"
