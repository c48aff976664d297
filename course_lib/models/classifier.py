"""A small digit classifier (lesson 04's fidelity check; lesson 05's feature space for a Fréchet distance).

``forward(x (B, 1, 32, 32) in [-1, 1]) → logits (B, 10)``; ``features(x) → (B, 4·width)``, the penultimate
activations (after global average pooling).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DigitClassifier", "NoisyDigitClassifier"]


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class DigitClassifier(nn.Module):
    """Five 3 × 3 convolutions with BatchNorm, two max-pools, global average pooling, dropout, a linear head."""

    def __init__(self, width: int = 32, dropout: float = 0.3):
        super().__init__()
        self.config = dict(width=width, dropout=dropout)
        w = width
        self.body = nn.Sequential(
            *_conv(1, w),
            *_conv(w, w),
            nn.MaxPool2d(2),
            *_conv(w, 2 * w),
            *_conv(2 * w, 2 * w),
            nn.MaxPool2d(2),
            *_conv(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations ``(B, 4·width)`` after global average pooling (lesson 05's Fréchet features)."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (B, 1, H, W), got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class NoisyDigitClassifier(DigitClassifier):
    """p_φ(label | x_t, t): the same network reading a noisy digit x_t and its time (lesson 12's guide for classifier
    guidance, Dhariwal & Nichol, NeurIPS 2021). The time enters as a second input plane filled with t / T.

    ``forward(x_t (B, 1, 32, 32), t (B,)) → logits (B, 10)``.
    """

    def __init__(self, width: int = 32, dropout: float = 0.3, T: int = 1000):
        super().__init__(width, dropout)
        self.body[0] = nn.Conv2d(2, width, 3, padding=1)
        self.T = int(T)
        self.config.update(T=self.T)

    def features(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """The penultimate activations ``(B, 4·width)`` of x_t at time t (``None``: t = 0, a clean digit)."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (B, 1, H, W), got {tuple(x.shape)}")
        t = torch.zeros(x.shape[0], device=x.device) if t is None else torch.as_tensor(t, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must have shape ({x.shape[0]},), one time per image, got {tuple(t.shape)}")
        plane = (t.to(x.dtype) / self.T).view(-1, 1, 1, 1).expand(-1, 1, *x.shape[-2:])
        return self.body(torch.cat([x, plane], 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, t))
