"""Networks · 去噪网络 (networks layer): plain ``nn.Module``s — denoisers called as ``model(x_t, t, cond)``, the
one-shot baselines as ``model(y)``, the digit classifier as ``model(x)``.

They know nothing about noise schedules; ``course_lib.diffusion`` knows nothing about them.
"""

from .baselines import RegressionUNet, SRCNN
from .classifier import DigitClassifier, NoisyDigitClassifier
from .conditioning import SR3
from .toy import MLPDenoiser
from .tiling import TiledDenoiser, pad_to_tile
from .unet import LREncoder, UNet, count_parameters
from .controlnet import ControlledUNet, ControlNet
from .rrdb import RRDBNet
from .srdiff import SRDiffUNet
from .diffir import CPEN, PriorDenoiser, PriorDiffusion, PriorRestorer
from .guidance import ClassifierGuidedModel, GuidedModel, classifier_free_guidance, diffusers_guidance_scale
from .cascade import CascadeSR, augment_lr
from .autoencoder import Autoencoder, LatentSR, kl_to_standard_normal
from .dit import DiT
from .uvit import UViT
from .backbones import BACKBONES, make_backbone
from .swinir import SwinIR
from .temporal import TemporalSR3, pack_previous, unpack_previous

__all__ = [
    "BACKBONES",
    "make_backbone",
    "DiT",
    "UViT",
    "Autoencoder",
    "LatentSR",
    "kl_to_standard_normal",
    "CascadeSR",
    "augment_lr",
    "GuidedModel",
    "ClassifierGuidedModel",
    "classifier_free_guidance",
    "diffusers_guidance_scale",
    "CPEN",
    "PriorDenoiser",
    "PriorDiffusion",
    "PriorRestorer",
    "ControlNet",
    "ControlledUNet",
    "RRDBNet",
    "SRDiffUNet",
    "UNet",
    "LREncoder",
    "SR3",
    "SwinIR",
    "TemporalSR3",
    "pack_previous",
    "unpack_previous",
    "SRCNN",
    "RegressionUNet",
    "MLPDenoiser",
    "DigitClassifier",
    "NoisyDigitClassifier",
    "TiledDenoiser",
    "pad_to_tile",
    "count_parameters",
]
