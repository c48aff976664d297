"""Denoising networks ε_θ(x_t, t, y) · 去噪网络: plain ``nn.Module``s called as ``model(x_t, t, cond)``.

They know nothing about noise schedules; ``course_lib.diffusion`` knows nothing about them.
"""

from .baselines import RegressionUNet, SRCNN
from .classifier import DigitClassifier
from .conditioning import SR3
from .toy import MLPDenoiser
from .unet import LREncoder, UNet, count_parameters

__all__ = ["UNet", "LREncoder", "SR3", "SRCNN", "RegressionUNet", "MLPDenoiser", "DigitClassifier", "count_parameters"]
