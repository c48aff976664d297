"""Samplers of the reverse process · 采样器 (process layer): small objects, one loop.

* :mod:`~course_lib.samplers.base` — :class:`Sampler`, :class:`StepOutput`, the x̂₀ hook (:class:`StepContext`,
  :func:`clip_x0`, :func:`compose`);
* :mod:`~course_lib.samplers.ddpm` — ancestral DDPM (Eq. 02.5); :mod:`~course_lib.samplers.ddim` — DDIM (Eq. 02.6);
* :mod:`~course_lib.samplers.pndm` — PNDM/PLMS (Eq. 06.8); :mod:`~course_lib.samplers.dpm_solver` — DPM-Solver++(2M)
  (Eq. 06.9); :mod:`~course_lib.samplers.continuous` — Euler–Maruyama on the reverse SDE, Euler and Heun on the
  probability-flow ODE (Eq. 06.5–06.7); :mod:`~course_lib.samplers.consistency` — multistep consistency sampling;
  :mod:`~course_lib.samplers.ddnm` — the posterior sampler, DDNM's range–null-space hook, RePaint's time travel;
* :mod:`~course_lib.samplers.flow` — Euler, Heun and midpoint on the flow ODE of lesson 11's linear path
  (Eq. 11.8–11.10), whose times are floats in [0, 1];
* :mod:`~course_lib.samplers.loop` — :func:`sample`, the one loop, and its callbacks (:class:`Trajectory`,
  :class:`ProgressBar`);
* :mod:`~course_lib.samplers.registry` — :data:`SAMPLERS` by name and :func:`make_sampler`;
* :mod:`~course_lib.samplers.generate` — :func:`generate`, samples from a sampler named by a string (lesson 02).

The samplers know the process (its buffers; a :class:`~course_lib.paths.LinearPath` for the flow samplers) but never a
network: ``model(x_t, t, cond)`` is any callable.
"""

from .base import Sampler, StepContext, StepOutput, X0Transform, alpha_bar_at, clip_x0, compose, start_at
from .registry import SAMPLERS, make_sampler, register_sampler, steps_for_nfe
from .ddim import DDIMSampler, ddim_invert, ddim_timesteps, karras_timesteps  # noqa: E402  (registers "ddim")
from .ddpm import DDPMSampler  # noqa: E402  (registers "ddpm")
from .pndm import PNDMSampler  # noqa: E402  (registers "pndm")
from .dpm_solver import DPMSolverPP2MSampler  # noqa: E402  (registers "dpmpp_2m")
from .continuous import EulerMaruyamaSampler, EulerSampler, HeunSampler, ProbabilityFlowEulerSampler  # noqa: E402
from .consistency import ConsistencySampler  # noqa: E402  (registers "consistency")
from .ddnm import PosteriorSampler, ddnm_transform, posterior_coefficients, repaint_schedule  # noqa: E402  ("posterior")
from .flow import FlowEulerSampler, FlowHeunSampler, FlowMidpointSampler, FlowSampler  # noqa: E402  (lesson 11)
from .loop import ProgressBar, SampleStep, Trajectory, sample
from .generate import generate

__all__ = ["Sampler", "StepOutput", "StepContext", "X0Transform", "alpha_bar_at", "clip_x0", "compose", "SAMPLERS",
           "register_sampler", "make_sampler", "steps_for_nfe", "DDIMSampler", "DDPMSampler", "PNDMSampler",
           "ddim_invert", "karras_timesteps", "DPMSolverPP2MSampler", "EulerMaruyamaSampler",
           "ProbabilityFlowEulerSampler", "EulerSampler", "HeunSampler", "ConsistencySampler", "PosteriorSampler",
           "ddnm_transform", "posterior_coefficients", "repaint_schedule", "ddim_timesteps", "sample", "generate",
           "SampleStep", "Trajectory", "ProgressBar", "FlowSampler", "FlowEulerSampler", "FlowHeunSampler",
           "FlowMidpointSampler", "start_at"]
