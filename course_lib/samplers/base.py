"""What every sampler shares (process layer): the step's result, the x̂₀ hook, the base class, time travel.

A sampler integrates the reverse process in **diffusers' vocabulary**: ``timesteps`` (the 0-based times at which
the network is evaluated, decreasing), and ``step(model_output, t, t_prev, x_t, generator=…)`` that returns a
:class:`StepOutput` with ``prev_sample`` (x at ``t_prev``) and ``pred_original_sample`` (the x̂₀ the step used).
``t_prev = -1`` means "to x₀" (ᾱ = 1). One loop, :func:`course_lib.samplers.sample`, drives every sampler.

**The x̂₀ hook.** Clipping x̂₀ to [-1, 1], SR3's consistency projection (Eq. 04.5) and DDNM's range–null-space step
all change x̂₀ inside a step and let the step continue from the changed x̂₀. A sampler therefore takes one
``x0_transform(x0, ctx) -> x0``, where ``ctx`` is the :class:`StepContext`: t, t_prev, x_t, the network's ε̂, ᾱ_t,
ᾱ_{t_prev} and the noise level σ the step will add. A transform may also set ``ctx.sigma`` (DDNM+ rescales the
noise of the step it corrects). Plain clipping is also the samplers' ``clip_sample`` option, computed exactly as
diffusers' schedulers do (lesson 02's pictures use it); :func:`clip_x0` is the same clip as a hook, to compose with
others.

**Randomness.** ``generator`` is one ``torch.Generator`` for the whole batch, or one per image
(:func:`course_lib.device.per_image_generators`): then image i's noise comes from its own generator, so a result
never depends on the batch it was sampled in (:func:`course_lib.device.randn`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

import torch

from ..checks import check_int
from ..device import randn
from ..diffusion import GaussianDiffusion, check_prediction, extract

__all__ = ["StepOutput", "StepContext", "X0Transform", "Sampler", "clip_x0", "compose", "alpha_bar_at", "fresh_noise",
           "start_at", "SPACINGS", "ddim_timesteps", "karras_timesteps", "make_timesteps", "SpacedSampler"]


@dataclass
class StepOutput:
    """What one :meth:`Sampler.step` returns (the names of diffusers' ``SchedulerOutput``).

    Attributes:
        prev_sample: ``(B, ...)`` x at ``t_prev`` (for a multi-evaluation step: the state the next step starts from).
        pred_original_sample: ``(B, ...)`` the x̂₀ the step used, after the x̂₀ transform.
    """

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


@dataclass
class StepContext:
    """What an x̂₀ transform sees of the step it acts in (shapes broadcast against x: ``(B, 1, …, 1)``).

    Attributes:
        t, t_prev: the step's times (0-based; ``t_prev = -1`` is x₀).
        x_t: ``(B, ...)`` the current state; eps: ``(B, ...)`` ε̂ as the network implies it (Eq. 02.2).
        alpha_bar, alpha_bar_prev: ᾱ_t and ᾱ_{t_prev} (1 at ``t_prev = -1``).
        sigma: σ, the standard deviation of the fresh noise the step will add; a transform may set it.
    """

    t: int
    t_prev: int
    x_t: torch.Tensor
    eps: torch.Tensor
    alpha_bar: torch.Tensor
    alpha_bar_prev: torch.Tensor
    sigma: torch.Tensor


#: ``x0_transform(x0 (B, ...), ctx) -> x0 (B, ...)``
X0Transform = Callable[[torch.Tensor, StepContext], torch.Tensor]


def clip_x0(x0: torch.Tensor, ctx: StepContext | None = None) -> torch.Tensor:
    """The classic x̂₀ transform: clip to the data range [-1, 1] (DDPM's and diffusers' ``clip_sample``)."""
    return x0.clamp(-1.0, 1.0)


def compose(*transforms: X0Transform | None) -> X0Transform | None:
    """One transform applying ``transforms`` left to right (``None`` entries skipped; ``None`` if none is left)."""
    fns = [f for f in transforms if f is not None]
    if not fns:
        return None
    if len(fns) == 1:
        return fns[0]

    def composed(x0: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        for f in fns:
            x0 = f(x0, ctx)
        return x0

    return composed


def alpha_bar_at(process: GaussianDiffusion, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """ᾱ at integer times ``t`` ``(B,)`` with ᾱ = 1 at ``t = -1`` (x₀), shaped ``(B, 1, …, 1)`` like ``like``."""
    ab = torch.where(t >= 0, process.alpha_bars[t.clamp(min=0)], torch.ones_like(t, dtype=process.alpha_bars.dtype))
    return ab.reshape(t.shape[0], *([1] * (like.dim() - 1))).to(like.dtype)


class Sampler:
    """Base class of the reverse-process samplers (register subclasses with ``@register_sampler``).

    Args:
        process: the :class:`~course_lib.diffusion.GaussianDiffusion` the network was trained with.
        steps: number of steps (the sampler's default when ``None``: see ``default_steps``).
        prediction: what the network outputs, ``"eps"``, ``"x0"`` or ``"v"`` (lesson 02) — read it off the model
            (``model.prediction``), never assume it.

    Attributes:
        timesteps: the times at which the network is evaluated, in order (0-based ints).
        nfe: network evaluations of the last :func:`~course_lib.samplers.sample` run (set by the loop).
        stochastic: whether a step draws fresh noise (so seeds matter beyond x_T).
    """

    name: ClassVar[str] = ""
    default_steps: ClassVar[int | None] = None  # None: all T steps
    stochastic: ClassVar[bool] = False

    def __init__(self, process: GaussianDiffusion, steps: int | None = None, prediction: str = "eps"):
        if not isinstance(process, GaussianDiffusion):
            raise TypeError(f"process must be a GaussianDiffusion, got {type(process).__name__}")
        check_prediction(prediction)
        T = process.num_timesteps
        if steps is None:
            steps = T if self.default_steps is None else min(self.default_steps, T)
        check_int(steps, "steps", low=1, high=T, note="T")
        self.process, self.steps, self.prediction = process, steps, prediction
        self.nfe = 0
        self.timesteps: list[int] = self.make_timesteps()

    @property
    def device(self) -> torch.device:
        """Where the process's buffers live (the loop moves x_T there)."""
        return self.process.device

    def model_time(self, t: int, like: torch.Tensor) -> torch.Tensor:
        """What the network is given for the time ``t`` of a step: the integer index as a ``(B,)`` long tensor (the
        flow samplers give the path's float time instead, :mod:`course_lib.samplers.flow`)."""
        return self._t(t, like)

    # ------------------------------------------------------------------ cost
    @classmethod
    def nfe_for(cls, steps: int, **options) -> int:
        """Network evaluations of a run of ``steps`` steps (one per step unless the sampler says otherwise: Heun,
        PNDM's warm-up). The race of lesson 06 matches samplers by this number, never by their steps."""
        return int(steps)

    # ------------------------------------------------------------------ schedule
    def make_timesteps(self) -> list[int]:
        """The evaluation times for ``self.steps`` steps (default: every T − 1 … 0 when steps = T)."""
        T = self.process.num_timesteps
        if self.steps != T:
            raise NotImplementedError(f"{type(self).__name__} defines no schedule for {self.steps} < T steps")
        return list(range(T - 1, -1, -1))

    def pairs(self) -> list[tuple[int, int]]:
        """The steps as ``(t, t_prev)``: consecutive timesteps, the last one to ``-1`` (x₀). A pair with
        ``t_prev > t`` goes back up the chain (time travel: the loop calls :meth:`renoise`, no network)."""
        ts = list(self.timesteps)
        return list(zip(ts, ts[1:] + [-1]))

    def reset(self) -> None:
        """Forget the state of a previous run (multistep samplers keep a history); the loop calls it first."""

    # ------------------------------------------------------------------ steps
    def step(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, *,
             generator: torch.Generator | Sequence[torch.Generator] | None = None,
             x0_transform: X0Transform | None = None, model: Callable | None = None,
             noise: torch.Tensor | None = None) -> StepOutput:
        """One step from t to t_prev < t.

        Args:
            model_output: ``(B, ...)`` the network at ``(x_t, t)``, of type ``self.prediction``.
            generator: for the step's noise (one, or one per image).
            x0_transform: the x̂₀ hook (see the module docstring).
            model: ``model(x, t) -> output``, for samplers that evaluate the network again within a step (Heun,
                a warm-up); every call is counted as a network evaluation by the loop.
            noise: ``(B, ...)`` the fresh noise itself instead of a draw from ``generator`` (tests, cross-checks).
        """
        raise NotImplementedError

    def renoise(self, x: torch.Tensor, t: int, t_up: int,
                generator: torch.Generator | Sequence[torch.Generator] | None = None) -> torch.Tensor:
        """Go back up the chain, x_{t_up} ~ q(x_{t_up} | x_t) for t_up > t (RePaint's and DDNM's time travel):
        x_{t_up} = √(ᾱ_{t_up}/ᾱ_t) x_t + √(1 − ᾱ_{t_up}/ᾱ_t) z, the forward process of Eq. 01.1 over t_up − t steps."""
        B = x.shape[0]
        ab_t = alpha_bar_at(self.process, torch.full((B,), t, dtype=torch.long, device=x.device), x)
        ab_up = alpha_bar_at(self.process, torch.full((B,), t_up, dtype=torch.long, device=x.device), x)
        ratio = ab_up / ab_t
        return ratio.sqrt() * x + (1 - ratio).sqrt() * randn(x.shape, generator, x.device, x.dtype)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def check_pair(t: int, t_prev: int) -> None:
        """A step goes down the chain: −1 ≤ t_prev < t (a ``ValueError`` naming both otherwise)."""
        if not -1 <= t_prev < t:
            raise ValueError(f"t_prev must satisfy -1 <= t_prev < t, got t_prev={t_prev} for t={t}")

    def predict(self, model_output: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor,
                x0_transform: X0Transform | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(ε̂, x̂₀) at ``(x_t, t)`` from the network's output (Eq. 02.2, or 02.3 for v), after the x̂₀ hook: when
        ``x0_transform`` changes x̂₀, ε̂ is re-derived from it (Eq. 02.2 solved for ε). Samplers other than DDPM and
        DDIM (which keep their diffusers-exact arithmetic) take their predictions from here."""
        t_vec = self._t(t, x_t)
        eps, x0 = self.process.eps_and_x0(model_output, x_t, t_vec, self.prediction)
        if x0_transform is not None:
            no_noise = x_t.new_zeros(x_t.shape[0], *([1] * (x_t.dim() - 1)))
            x0 = x0_transform(x0, self._context(t, t_prev, x_t, eps, no_noise))
            eps = self.process.predict_eps_from_x0(x_t, t_vec, x0)
        return eps, x0

    def _t(self, t: int, like: torch.Tensor) -> torch.Tensor:
        return torch.full((like.shape[0],), t, dtype=torch.long, device=like.device)

    def _context(self, t: int, t_prev: int, x_t: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> StepContext:
        ab = extract(self.process.alpha_bars, self._t(t, x_t), x_t)
        ab_prev = alpha_bar_at(self.process, self._t(t_prev, x_t), x_t)
        return StepContext(t, t_prev, x_t, eps, ab, ab_prev, sigma)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.steps}, prediction={self.prediction!r})"


def start_at(sampler: Sampler, t_start: int) -> Sampler:
    """SDEdit's start (Meng et al., ICLR 2022): keep only the ``sampler``'s timesteps at or below ``t_start`` (in
    place; returns the sampler), so that a run begins from an image noised to its first remaining timestep,
    ``sampler.timesteps[0]`` — noise the image to exactly that time (``process.q_sample``)."""
    check_int(t_start, "t_start", low=0, high=sampler.process.num_timesteps - 1, note="T − 1")
    kept = [t for t in sampler.timesteps if t <= t_start]
    if not kept:
        raise ValueError(f"t_start={t_start} is below every timestep of the sampler ({min(sampler.timesteps)} …)")
    sampler.timesteps = kept
    return sampler


def fresh_noise(x_t: torch.Tensor, generator, noise: torch.Tensor | None = None) -> torch.Tensor:
    """The fresh noise z ~ N(0, I) a stochastic step adds: ``noise`` when given (tests, cross-checks), checked to have
    x_t's shape, else a draw from ``generator`` (one, or one per image)."""
    if noise is None:
        return randn(x_t.shape, generator, x_t.device, x_t.dtype)
    if not isinstance(noise, torch.Tensor) or noise.shape != x_t.shape:
        got = tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__
        raise ValueError(f"noise: expected the fresh noise of x_t's shape {tuple(x_t.shape)}, got {got}")
    return noise


# ------------------------------------------------------------------ spacings and the spaced sampler
SPACINGS = ("trailing", "leading", "karras")


def ddim_timesteps(T: int, steps: int, spacing: str = "trailing") -> list[int]:
    """The DDIM timesteps, evenly spaced.

    ``"trailing"`` (default): ``round(arange(T, 0, -T / steps)) − 1``, starting at T − 1 — for T = 1000, steps = 50:
    999, 979, …, 19. Starting at T − 1 matters: the sampler then begins from (almost) pure noise, as training saw it.
    ``"leading"`` (the DDIM paper's and older code's): 0, T // steps, … reversed — it starts at 980, where ᾱ is not yet
    ≈ 0.

    Returns:
        list of ``steps`` decreasing ints in ``0 … T-1``.
    """
    check_int(steps, "steps", low=1, high=T, note="T")
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    if spacing == "karras":
        raise ValueError("spacing 'karras' depends on the schedule's ᾱ: use karras_timesteps(process, steps)")
    if spacing == "leading":
        return list(range(0, T, T // steps))[:steps][::-1]
    # round(T − k·T/steps) − 1 for k = 0 … steps − 1: diffusers' arange(T, 0, −T/steps), without its float
    # arange's risk of one extra element when T/steps is not exact
    ts = torch.round(T - torch.arange(steps, dtype=torch.float64) * (T / steps)).long() - 1
    return ts.tolist()


def karras_timesteps(process, steps: int, sigma_max: float = 80.0, sigma_min: float = 0.002,
                     rho: float = 7.0) -> list[int]:
    """Karras et al. (NeurIPS 2022, Eq. 5) spacing, located on the discrete chain through ᾱ.

    σ̃_i = (σ_max^{1/ρ} + i/(N−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ in the variable σ̃ = √((1 − ᾱ)/ᾱ) of Eq. 06.7,
    each mapped to the index whose σ̃ is nearest in log σ̃ (then made strictly decreasing: on a short chain, or with
    many steps, neighbours that land on one index are moved apart). Dense at low noise,
    and it starts at σ_max = 80 (ᾱ ≈ 1.6e-4), not at the cosine schedule's clipped end, σ̃ ≈ 2·10⁴, where a
    second-order correction is multiplied by σ̃ (lesson 06).

    Returns:
        list of ``steps`` decreasing ints in ``0 … T-1``.
    """
    T = process.num_timesteps
    check_int(steps, "steps", low=1, high=T, note="T")
    if not 0 < sigma_min < sigma_max or not rho > 0:
        raise ValueError(f"need 0 < sigma_min < sigma_max and rho > 0, got {sigma_min}, {sigma_max}, {rho}")
    ab = process.alpha_bars.double().cpu()
    log_sig = 0.5 * ((1 - ab).log() - ab.log())                       # log σ̃ of every index, increasing
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64) if steps > 1 else torch.zeros(1, dtype=torch.float64)
    sig = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    idx = (log_sig[None, :] - sig.log()[:, None]).abs().argmin(1).tolist()
    idx = [min(i, T - 1 - k) for k, i in enumerate(idx)]              # room for the steps above each one …
    for k in range(len(idx) - 2, -1, -1):                            # … then strictly decreasing, within 0 … T−1
        idx[k] = max(idx[k], idx[k + 1] + 1)
    return idx


def make_timesteps(process, steps: int, spacing: str = "trailing") -> list[int]:
    """The timesteps of any spacing: :func:`ddim_timesteps` or, for ``"karras"``, :func:`karras_timesteps`."""
    if spacing == "karras":
        return karras_timesteps(process, steps)
    return ddim_timesteps(process.num_timesteps, steps, spacing)


class SpacedSampler(Sampler):
    """Base of the samplers whose timesteps are ``steps`` points of a named spacing (:func:`make_timesteps`): DDIM,
    PNDM, DPM-Solver++, Euler, Heun, consistency. ``spacing=None`` takes the class's ``default_spacing``."""

    default_spacing: str = "trailing"

    def __init__(self, process, steps: int | None = None, prediction: str = "eps", spacing: str | None = None):
        spacing = self.default_spacing if spacing is None else spacing
        if spacing not in SPACINGS:
            raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
        self.spacing = spacing
        super().__init__(process, steps, prediction)

    def make_timesteps(self) -> list[int]:
        """``self.steps`` timesteps with this sampler's spacing (:func:`make_timesteps`)."""
        return make_timesteps(self.process, self.steps, self.spacing)
