"""The notes' §3 era table, measured (lesson 13) · 时代对比表: the Transformer era's rows and the §3 questions.

Lesson 13 trains a SwinIR-style regressor (:mod:`course_lib.methods.swinir`) with the pixel loss and with the
perceptual loss; :data:`ROWS` are their rows of the one evaluation harness (registered by
:mod:`course_lib.experiments.landscape`). :data:`ERA` sets them beside the CNN rows of lesson 05 and SR3-style, with
the notes' words and the course's; :data:`ERA_PAIRS` are the questions :mod:`course_lib.experiments.field` judges
(fixed here before measuring). Kept apart from :mod:`.field`, which gathers every lesson's rows, so that the table's
registry (:mod:`.landscape`) can import these rows without a cycle.
"""

from __future__ import annotations

from ..engine.harness import Entry

__all__ = ["ROWS", "ERA", "ERA_PAIRS"]

#: lesson 13's harness rows: the SwinIR-style regressor with the pixel loss and with the perceptual loss (Eq. 13.2)
ROWS = (
    Entry("SwinIR-style (L1)", "digits_x4", "digits_swinir"),
    Entry("SwinIR-style (L1 + perceptual)", "digits_x4", "digits_swinir_perceptual"),
)

#: the notes' §3 table: era, its row, the notes' words (mechanism, objective, generation, best scenario), and what the
#: course's row does (mechanism, objective)
ERA = (
    ("CNN era", "SRCNN", "local convolution", "pixel MSE", "deterministic mapping", "real-time",
     "three convolutions (9-5-5)", "pixel MSE"),
    ("CNN era", "regression U-Net", "local convolution", "pixel MSE", "deterministic mapping", "real-time",
     "a U-Net: convolutions + one attention level", "pixel MSE"),
    ("Transformer era", "SwinIR-style (L1)", "global attention", "perceptual loss", "deterministic",
     "texture reconstruction", "attention in shifted 4 × 4 windows", "L1"),
    ("Transformer era", "SwinIR-style (L1 + perceptual)", "global attention", "perceptual loss", "deterministic",
     "texture reconstruction", "attention in shifted 4 × 4 windows", "L1 + feature loss (Eq. 13.2)"),
    ("diffusion era", "SR3 concat DDIM-50", "iterative denoising", "ELBO (L_simple)", "stochastic process",
     "high-fidelity generation", "iterative denoising (U-Net)", "x₀-MSE over noise levels"),
)  # fmt: skip

#: the §3 questions, A against B: does attention beat convolutions at pixel loss; does the perceptual loss buy
#: realism, and at what distortion; does diffusion still beat the Transformer's best realism
ERA_PAIRS = (
    ("SwinIR-style (L1)", "SRCNN"),
    ("SwinIR-style (L1)", "regression U-Net"),
    ("SwinIR-style (L1 + perceptual)", "SwinIR-style (L1)"),
    ("SR3 concat DDIM-50", "SwinIR-style (L1 + perceptual)"),
)
