"""The history of diffusion super-resolution, as data (lesson 00).

One record per paper, with the venue where it was published and the month its first
preprint appeared, so that the lineage diagram, the timeline figure and the bibliography
of lesson 00 all come from the same, checked facts. ``notes_said`` keeps what the course's
source notes claimed where a fact was corrected; ``CORRECTIONS`` lists structural fixes
to the notes' diagrams.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Paper",
    "PAPERS",
    "LINEAGE",
    "CORRECTIONS",
    "paper",
    "mermaid",
    "bibliography_markdown",
    "corrections_markdown",
]


@dataclass(frozen=True)
class Paper:
    key: str
    name: str
    title: str
    authors: str  # first author et al.
    venue: str  # where it was published (peer-reviewed venue, or "arXiv preprint")
    year: int  # year of that publication
    preprint: str  # first public version (preprint, or the proceedings when there was none), "YYYY-MM"
    idea: str  # one line, English
    notes_said: str = ""  # what the source notes claimed, when it was wrong

    @property
    def preprint_year(self) -> int:
        """The year of the first public version (the preprint, else the venue)."""
        return int(self.preprint[:4])


PAPERS: tuple[Paper, ...] = (
    Paper(
        "dpm",
        "DPM",
        "Deep Unsupervised Learning using Nonequilibrium Thermodynamics",
        "Sohl-Dickstein et al.",
        "ICML",
        2015,
        "2015-03",
        "diffusion models: destroy structure with noise, learn to reverse it",
    ),
    Paper(
        "srcnn",
        "SRCNN",
        "Learning a Deep Convolutional Network for Image Super-Resolution",
        "Dong et al.",
        "ECCV",
        2014,
        "2014-09",
        "the first CNN for SR: a one-shot mapping trained with MSE",
    ),
    Paper(
        "ddpm",
        "DDPM",
        "Denoising Diffusion Probabilistic Models",
        "Ho et al.",
        "NeurIPS",
        2020,
        "2020-06",
        "ε-prediction and L_simple make diffusion models work on images",
    ),
    Paper(
        "ddim",
        "DDIM",
        "Denoising Diffusion Implicit Models",
        "Song, Meng, Ermon",
        "ICLR",
        2021,
        "2020-10",
        "a deterministic sampler with far fewer steps, same training",
    ),
    Paper(
        "sde",
        "Score SDE",
        "Score-Based Generative Modeling through Stochastic Differential Equations",
        "Song et al.",
        "ICLR",
        2021,
        "2020-11",
        "diffusion as a stochastic differential equation; probability-flow ODE",
    ),
    Paper(
        "iddpm",
        "Improved DDPM",
        "Improved Denoising Diffusion Probabilistic Models",
        "Nichol, Dhariwal",
        "ICML",
        2021,
        "2021-02",
        "the cosine schedule and learned variances",
    ),
    Paper(
        "sr3",
        "SR3",
        "Image Super-Resolution via Iterative Refinement",
        "Saharia et al.",
        "IEEE TPAMI",
        2023,
        "2021-04",
        "conditional DDPM for SR: the upsampled LR image concatenated to x_t",
    ),
    Paper(
        "srdiff",
        "SRDiff",
        "SRDiff: Single Image Super-Resolution with Diffusion Probabilistic Models",
        "Li et al.",
        "Neurocomputing",
        2022,
        "2021-04",
        "diffusion on the residual HR − upsampled LR, with an LR encoder",
        notes_said="2022, drawn as a successor of LDM",
    ),
    Paper(
        "cdm",
        "CDM",
        "Cascaded Diffusion Models for High Fidelity Image Generation",
        "Ho et al.",
        "JMLR",
        2022,
        "2021-06",
        "a cascade of class-conditional generation then SR diffusion models",
    ),
    Paper(
        "cfg",
        "CFG",
        "Classifier-Free Diffusion Guidance",
        "Ho, Salimans",
        "NeurIPS workshop",
        2021,
        "2021-12",
        "one network with and without the label; guide by extrapolating between them",
    ),
    Paper(
        "ldm",
        "LDM",
        "High-Resolution Image Synthesis with Latent Diffusion Models",
        "Rombach et al.",
        "CVPR",
        2022,
        "2021-12",
        "diffusion in an autoencoder's latent space",
    ),
    Paper(
        "imagen",
        "Imagen",
        "Photorealistic Text-to-Image Diffusion Models with Deep Language Understanding",
        "Saharia et al.",
        "NeurIPS",
        2022,
        "2022-05",
        "a text-conditional cascade: classifier-free guidance and noise conditioning augmentation",
    ),
    Paper(
        "pndm",
        "PNDM",
        "Pseudo Numerical Methods for Diffusion Models on Manifolds",
        "Liu et al.",
        "ICLR",
        2022,
        "2022-02",
        "multistep (linear multistep) samplers for the diffusion ODE",
    ),
    Paper(
        "uvit",
        "U-ViT",
        "All are Worth Words: A ViT Backbone for Diffusion Models",
        "Bao et al.",
        "CVPR",
        2023,
        "2022-09",
        "a ViT with long skip connections as the denoiser",
    ),
    Paper(
        "ddnm",
        "DDNM",
        "Zero-Shot Image Restoration Using Denoising Diffusion Null-Space Model",
        "Wang, Yu, Zhang",
        "ICLR",
        2023,
        "2022-12",
        "zero-shot restoration: keep the range-space part A⁺y, let diffusion fill the null space",
        notes_said="CVPR 2023",
    ),
    Paper(
        "dit",
        "DiT",
        "Scalable Diffusion Models with Transformers",
        "Peebles, Xie",
        "ICCV",
        2023,
        "2022-12",
        "a plain transformer on latent patches as the denoiser",
    ),
    Paper(
        "cm",
        "CM",
        "Consistency Models",
        "Song et al.",
        "ICML",
        2023,
        "2023-03",
        "map any point of the trajectory straight to x_0: one-step generation",
    ),
    Paper(
        "diffir",
        "DiffIR",
        "DiffIR: Efficient Diffusion Model for Image Restoration",
        "Xia et al.",
        "ICCV",
        2023,
        "2023-03",
        "a small diffusion model estimates a compact prior that guides a transformer restorer",
        notes_said="'a Transformer predicts the attention maps of the diffusion process'",
    ),
    Paper(
        "resdiff",
        "ResDiff",
        "ResDiff: Combining CNN and Diffusion Model for Image Super-Resolution",
        "Shang et al.",
        "AAAI",
        2024,
        "2023-03",
        "a CNN restores the low frequencies, diffusion the residual",
        notes_said="2023, drawn as a successor of CDM",
    ),
    Paper(
        "diffbir",
        "DiffBIR",
        "DiffBIR: Towards Blind Image Restoration with Generative Diffusion Prior",
        "Lin et al.",
        "ECCV",
        2024,
        "2023-08",
        "blind restoration: a restoration module, then a generative diffusion prior",
        notes_said="CVPR 2024",
    ),
    Paper(
        "lcm",
        "LCM",
        "Latent Consistency Models: Synthesizing High-Resolution Images with Few-Step Inference",
        "Luo et al.",
        "arXiv preprint",
        2023,
        "2023-10",
        "consistency distillation in latent space: 1–4 step sampling",
    ),
    Paper(
        "rf",
        "Rectified flow",
        "Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow",
        "Liu et al.",
        "ICLR",
        2023,
        "2022-09",
        "learn the velocity of straight noise–data paths; reflow straightens them for 1–2 step sampling",
    ),
    Paper(
        "si",
        "Stochastic interpolants",
        "Building Normalizing Flows with Stochastic Interpolants",
        "Albergo and Vanden-Eijnden",
        "ICLR",
        2023,
        "2022-09",
        "a flow between two densities learned from an interpolant by a quadratic loss",
    ),
    Paper(
        "fm",
        "Flow matching",
        "Flow Matching for Generative Modeling",
        "Lipman et al.",
        "ICLR",
        2023,
        "2022-10",
        "regress a conditional velocity: the gradient of the marginal flow-matching loss, simulation-free",
    ),
    Paper(
        "i2sb",
        "I²SB",
        "I²SB: Image-to-Image Schrödinger Bridge",
        "Liu et al.",
        "ICML",
        2023,
        "2023-02",
        "a bridge from the degraded image to the clean one instead of from noise",
    ),
    Paper(
        "indi",
        "InDI",
        "Inversion by Direct Iteration: An Alternative to Denoising Diffusion for Image Restoration",
        "Delbracio and Milanfar",
        "TMLR",
        2023,
        "2023-03",
        "restore by small steps along the straight path from the degraded image to the clean one",
    ),
    Paper(
        "resshift",
        "ResShift",
        "ResShift: Efficient Diffusion Model for Image Super-resolution by Residual Shifting",
        "Yue et al.",
        "NeurIPS",
        2023,
        "2023-07",
        "shift the residual between LR and HR with a little noise: SR in 15 steps",
    ),
    Paper(
        "sd3",
        "SD3",
        "Scaling Rectified Flow Transformers for High-Resolution Image Synthesis",
        "Esser et al.",
        "ICML",
        2024,
        "2024-03",
        "rectified flow with logit-normal training times and a multimodal DiT, at scale",
    ),
    Paper(
        "perceptual",
        "Perceptual loss",
        "Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
        "Johnson et al.",
        "ECCV",
        2016,
        "2016-03",
        "train a one-shot network on a frozen network's features instead of pixels",
    ),
    Paper(
        "swinir",
        "SwinIR",
        "SwinIR: Image Restoration Using Swin Transformer",
        "Liang et al.",
        "ICCV workshops",
        2021,
        "2021-08",
        "restoration by self-attention in shifted windows with a relative position bias",
    ),
    Paper(
        "guided",
        "Classifier guidance",
        "Diffusion Models Beat GANs on Image Synthesis",
        "Dhariwal & Nichol",
        "NeurIPS",
        2021,
        "2021-05",
        "steer sampling by the gradient of a noisy classifier's log-probability",
    ),
    Paper(
        "sdedit",
        "SDEdit",
        "SDEdit: Guided Image Synthesis and Editing with Stochastic Differential Equations",
        "Meng et al.",
        "ICLR",
        2022,
        "2021-08",
        "edit by noising a guide image to an intermediate time and denoising it",
    ),
    Paper(
        "p2p",
        "Prompt-to-Prompt",
        "Prompt-to-Prompt Image Editing with Cross Attention Control",
        "Hertz et al.",
        "ICLR",
        2023,
        "2022-08",
        "edit a generated image by swapping the prompt and keeping its cross-attention maps",
    ),
    Paper(
        "nti",
        "Null-text inversion",
        "Null-text Inversion for Editing Real Images using Guided Diffusion Models",
        "Mokady et al.",
        "CVPR",
        2023,
        "2022-11",
        "DDIM inversion made exact under classifier-free guidance by optimising the null-text embedding",
    ),
    Paper(
        "stablevsr",
        "StableVSR",
        "Enhancing Perceptual Quality in Video Super-Resolution through Temporally-Consistent Detail Synthesis using "
        "Diffusion Models",
        "Rota et al.",
        "ECCV",
        2024,
        "2023-11",
        "a latent SR model conditioned on the warped previous frame, sampled frame-recurrently",
    ),
    Paper(
        "uav",
        "Upscale-A-Video",
        "Upscale-A-Video: Temporal-Consistent Diffusion Model for Real-World Video Super-Resolution",
        "Zhou et al.",
        "CVPR",
        2024,
        "2023-12",
        "temporal layers in a latent upscaler and flow-guided recurrent latent propagation",
    ),
    Paper(
        "mgldvsr",
        "MGLD-VSR",
        "Motion-Guided Latent Diffusion for Temporally Consistent Real-world Video Super-resolution",
        "Yang et al.",
        "ECCV",
        2024,
        "2023-12",
        "sampling guided by the warping error between neighbouring latents",
    ),
)

# (from, to, relation): "to" builds on "from". Every arrow points forward in time (tested).
LINEAGE: tuple[tuple[str, str, str], ...] = (
    ("dpm", "ddpm", "simplified, ε-prediction"),
    ("ddpm", "ddim", "faster sampling"),
    ("ddpm", "sde", "continuous-time view"),
    ("ddpm", "iddpm", "cosine schedule"),
    ("ddpm", "sr3", "condition on LR"),
    ("ddpm", "srdiff", "condition on LR, residual"),
    ("sr3", "cdm", "SR stages in a cascade"),
    ("ddpm", "ldm", "diffuse in latent space"),
    ("ddpm", "cfg", "guidance without a classifier"),
    ("cdm", "imagen", "cascade with noise conditioning augmentation"),
    ("cfg", "imagen", "classifier-free guidance"),
    ("ddim", "pndm", "multistep ODE solvers"),
    ("ddim", "ddnm", "null-space projection"),
    ("ldm", "dit", "transformer denoiser in latent space"),
    ("ddpm", "uvit", "ViT denoiser"),
    ("sde", "cm", "one-step mapping"),
    ("ldm", "diffir", "compact prior space"),
    ("srdiff", "resdiff", "residual diffusion"),
    ("srcnn", "resdiff", "CNN first stage"),
    ("ldm", "diffbir", "generative prior"),
    ("ddnm", "diffbir", "restoration with a diffusion prior"),
    ("ldm", "lcm", "latent space"),
    ("cm", "lcm", "consistency distillation"),
    ("ddim", "rf", "deterministic paths, made straight"),
    ("sde", "fm", "the ODE's velocity learned directly"),
    ("sde", "si", "interpolants between two densities"),
    ("rf", "sd3", "rectified flow at scale"),
    ("fm", "sd3", "the flow-matching loss"),
    ("dit", "sd3", "a Transformer denoiser"),
    ("sde", "i2sb", "a bridge between image pairs"),
    ("sr3", "indi", "a path from the degraded image"),
    ("srdiff", "resshift", "the residual, shifted with noise"),
    ("ddpm", "guided", "a classifier's gradient"),
    ("sde", "sdedit", "noise a guide, then solve"),
    ("imagen", "p2p", "cross-attention control"),
    ("ddim", "nti", "DDIM inversion"),
    ("p2p", "nti", "editing real images"),
    ("ldm", "stablevsr", "a latent upscaler made temporal"),
    ("ldm", "uav", "temporal layers in latent diffusion"),
    ("ldm", "mgldvsr", "motion-guided latent diffusion"),
    ("srcnn", "perceptual", "a loss on features, not pixels"),
    ("srcnn", "swinir", "attention in shifted windows"),
    ("swinir", "diffbir", "the stage-1 restorer"),
)

CORRECTIONS: tuple[tuple[str, str], ...] = (
    ("LDM → SRDiff", "SRDiff's preprint (2021-04) predates LDM's (2021-12); SRDiff builds on DDPM, not on LDM."),
    (
        "SR3 → CDM → LDM",
        "CDM cascades SR3-style models, but LDM does not build on CDM: it moves diffusion into an autoencoder's latent "
        "space.",
    ),
    ("CDM → ResDiff", "ResDiff combines a CNN (SRCNN-style first stage) with residual diffusion as in SRDiff."),
    (
        "DiT → U-ViT → LDM",
        "Not chronological: LDM (2021-12) came first, U-ViT (2022-09) and DiT (2022-12) are transformer denoisers that "
        "work on LDM's latents.",
    ),
    (
        "DDPM → DDIM → PNDM → LCM",
        "DDIM and PNDM are training-free samplers; LCM is a distilled model that builds on consistency models (2023), "
        "not on PNDM.",
    ),
    (
        "'10× less compute' (LDM)",
        "The notes' figure (not found stated as such in the LDM paper, which reports speed-ups per setting, at 256² "
        "and larger). Measured at toy scale in lesson 07 "
        "(data/cache/latent_sr.json): latent SR trains 4.8× more images/s and samples 6.5× faster than a pixel SR3 of "
        "the same size, is shown better in PSNR at most 1.5× sooner in CPU time, its realism stays below the pixel "
        "model's at every snapshot (the autoencoder's reconstructions cap it), and its autoencoder cost more CPU time "
        "to train than either SR model did in that comparison.",
    ),
)


def paper(key: str) -> Paper:
    """The record for ``key`` (e.g. ``"ddnm"``)."""
    for p in PAPERS:
        if p.key == key:
            return p
    raise KeyError(f"no paper with key {key!r}; known keys: {', '.join(p.key for p in PAPERS)}")


def mermaid(keys: tuple[str, ...] | None = None) -> str:
    """A mermaid ``graph LR`` of the lineage (the checked version of the notes' diagram).

    Each node reads ``NAME · preprint year · venue year``; each edge is labelled with what was added.
    """
    chosen = {p.key for p in PAPERS} if keys is None else set(keys)
    lines = ["graph LR"]
    for p in sorted((p for p in PAPERS if p.key in chosen), key=lambda p: p.preprint):
        lines.append(f'    {p.key}["{p.name}<br/>{p.preprint_year} preprint<br/>{p.venue} {p.year}"]')
    for a, b, rel in LINEAGE:
        if a in chosen and b in chosen:
            lines.append(f"    {a} -->|{rel}| {b}")
    return "\n".join(lines)


def bibliography_markdown() -> str:
    """The bibliography as a Markdown table, ordered by first preprint."""
    rows = ["| method | paper | authors | venue | first preprint |", "|---|---|---|---|---|"]
    for p in sorted(PAPERS, key=lambda p: p.preprint):
        rows.append(f"| {p.name} | *{p.title}* | {p.authors} | {p.venue} {p.year} | {p.preprint} |")
    return "\n".join(rows)


def corrections_markdown() -> str:
    """What the source notes got wrong, and the checked fact, as a Markdown table."""
    rows = ["| the notes say | checked |", "|---|---|"]
    for p in PAPERS:
        if p.notes_said:
            rows.append(f"| {p.name}: {p.notes_said} | {p.name}: {p.venue} {p.year}, first preprint {p.preprint} |")
    for claim, fact in CORRECTIONS:
        rows.append(f"| {claim} | {fact} |")
    return "\n".join(rows)
