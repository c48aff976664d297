"""Denoising networks ε_θ(x_t, t, y) · 去噪网络: plain ``nn.Module``s called as ``model(x_t, t, cond)``.

They know nothing about noise schedules; ``course_lib.diffusion`` knows nothing about them.
"""

from .classifier import DigitClassifier
from .toy import MLPDenoiser
from .unet import UNet, count_parameters

__all__ = ["UNet", "MLPDenoiser", "DigitClassifier", "count_parameters"]
