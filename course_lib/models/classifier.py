"""A small digit classifier (lesson 04's fidelity check; lesson 05's feature space for a Fréchet distance).

``forward(x (B, 1, 32, 32) in [-1, 1]) → logits (B, 10)``; ``features(x) → (B, 4·width)``, the penultimate
activations (after global average pooling).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DigitClassifier"]


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
