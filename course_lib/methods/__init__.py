"""Methods · 方法 (methods layer): where a network and the process meet, one module each, registered by name.

* :mod:`~course_lib.methods.ddpm` — ``"ddpm"``, unconditional DDPM (lessons 02–03);
* :mod:`~course_lib.methods.sr3` — ``"sr3"``, SR3-style conditioning, concat or encoder (lesson 04), and
  :func:`super_resolve`;
* :mod:`~course_lib.methods.regression` — ``"srcnn"``, ``"regression_unet"``, one-shot baselines (lesson 05), and
  ``"rrdb"`` (lesson 09: a baseline and SRDiff's encoder);
* :mod:`~course_lib.methods.consistency` — ``"consistency_sr"``, consistency distillation of the SR3-style model
  (lesson 06);
* :mod:`~course_lib.methods.diffbir` — ``"diffbir"``, blind restoration: a frozen restorer, then the frozen digits
  model steered by a ControlNet (lesson 08);
* :mod:`~course_lib.methods.srdiff` — ``"srdiff"``, residual diffusion with a frozen RRDB encoder (lesson 09);
* :mod:`~course_lib.methods.flow` — ``"flow_sr"``, flow-matching SR on the linear path, noise → HR or LR → HR,
  and reflow (lesson 11);
* :mod:`~course_lib.methods.video` — ``"video_sr3"``, SR3 that also sees the warped previous frame (lesson 12);
* :mod:`~course_lib.methods.swinir` — ``"swinir"``, a SwinIR-style regressor, pixel or perceptual loss (lesson 13);
* :mod:`~course_lib.methods.classifier` — ``"classifier"``, the digit classifier (the fidelity judge).

:mod:`~course_lib.methods.base` holds the interface (:class:`Method`, :class:`MethodConfig`) and the registry.
"""

from .base import METHODS, Method, MethodConfig, get_method, legacy_method, register_method
from .classifier import ClassifierMethod, NoisyClassifierMethod
from .ddpm import DDPM
from .regression import RegressionUNetMethod, RRDBMethod, SRCNNMethod
from .sr3 import SR3Method, super_resolve
from .consistency import ConsistencySRMethod  # noqa: E402  (after sr3: it extends it)
from .diffbir import DiffBIRMethod  # noqa: E402
from .srdiff import SRDiffMethod  # noqa: E402
from .diffir import DiffIRMethod  # noqa: E402
from .resdiff import ResDiffMethod  # noqa: E402
from .cfg import ClassConditionalDDPM  # noqa: E402
from .cdm import CascadeSRMethod  # noqa: E402
from .autoencoder import AutoencoderMethod  # noqa: E402
from .latent import LatentSRMethod  # noqa: E402
from .flow import FlowSRMethod  # noqa: E402  (after sr3: it extends it)
from .video import VideoSR3Method  # noqa: E402  (after sr3: it extends it)
from .swinir import SwinIRMethod  # noqa: E402

__all__ = [
    "METHODS",
    "Method",
    "MethodConfig",
    "get_method",
    "legacy_method",
    "register_method",
    "DDPM",
    "SR3Method",
    "SRCNNMethod",
    "RegressionUNetMethod",
    "ClassifierMethod",
    "NoisyClassifierMethod",
    "super_resolve",
    "ConsistencySRMethod",
    "DiffBIRMethod",
    "RRDBMethod",
    "SRDiffMethod",
    "DiffIRMethod",
    "ResDiffMethod",
    "ClassConditionalDDPM",
    "CascadeSRMethod",
    "AutoencoderMethod",
    "LatentSRMethod",
    "FlowSRMethod",
    "VideoSR3Method",
    "SwinIRMethod",
]
