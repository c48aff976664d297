"""Interactive widgets of the lessons (teaching layer).

Each widget is a small class over a pure function that computes what it shows: the pure
function is tested without a browser, the widget by setting its controls.
"""

from .attention import AttentionWidget, attention_frame, attention_view, render_attention
from .cascade import CascadeExplorer, cascade_view, render_cascade
from .compare import ComparerWidget, comparer_view, render_comparer_view
from .denoising import DenoisingWidget, trajectory_strip, trajectory_view
from .embedding import EmbeddingExplorer, embedding_view
from .field import LandscapeWidget, field_view, render_field_view
from .flow import FlowPathWidget, path_frame, render_path
from .noising import NoisingWidget, noising_strip, noising_view
from .race import RaceWidget, race_view, render_race_view
from .residual import GenerationWidget, generation_frame, generation_view, render_generation
from .sr import SRWidget, render_sr_view, sr_view
from .video import ClipWidget, clip_frame, render_clip

__all__ = [
    "LandscapeWidget",
    "field_view",
    "render_field_view",
    "ClipWidget",
    "clip_frame",
    "render_clip",
    "FlowPathWidget",
    "path_frame",
    "render_path",
    "AttentionWidget",
    "attention_view",
    "attention_frame",
    "render_attention",
    "NoisingWidget",
    "noising_view",
    "noising_strip",
    "DenoisingWidget",
    "trajectory_view",
    "trajectory_strip",
    "EmbeddingExplorer",
    "embedding_view",
    "SRWidget",
    "sr_view",
    "render_sr_view",
    "ComparerWidget",
    "comparer_view",
    "render_comparer_view",
    "RaceWidget",
    "race_view",
    "render_race_view",
    "GenerationWidget",
    "generation_view",
    "generation_frame",
    "render_generation",
    "CascadeExplorer",
    "cascade_view",
    "render_cascade",
]
