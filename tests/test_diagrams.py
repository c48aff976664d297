"""The diagrams are drawn from the code they picture: the U-Net's boxes carry the widths and sizes of the network's own
config, the places where t and y enter match what UNet.forward does, and bad arguments are refused by name."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib.teaching import diagrams  # noqa: E402
from course_lib.models import UNet  # noqa: E402


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_unet_boxes_are_the_networks_levels():
    net = UNet(in_channels=1, base_channels=16, channel_mults=(1, 2, 4), num_res_blocks=2, attention=False)
    texts = _texts(diagrams.unet_figure(net.config, image_size=32))
    for size, ch in ((32, 16), (16, 32), (8, 64)):
        assert f"2× ResBlock\n{size}×{size}×{ch}" in texts  # down: num_res_blocks
        assert f"3× ResBlock\n{size}×{size}×{ch}" in texts  # up: num_res_blocks + 1, as UNet builds it
    mid = [t for t in texts if t.startswith("ResBlock\n")]
    assert mid == ["ResBlock\nResBlock\n8×8×64"]  # no attention in this config
    assert not any("encoder" in t or "U(y)" in t for t in texts)  # unconditional: y enters nowhere
    assert any("scale/shift, Eq. 03.3" in t for t in texts)
    # the time embedding reaches every ResBlock: 3 down + 3 up + the middle = 7 orange arrows
    ax = plt.gcf().axes[0]
    orange = [
        a
        for a in ax.texts
        if getattr(a, "arrow_patch", None) is not None
        and a.arrow_patch.get_edgecolor()[:3] == matplotlib.colors.to_rgb(diagrams.TIME)
    ]
    assert len(orange) == 7


def test_unet_figure_reads_conditioning_and_injection_from_the_config():
    concat = UNet(in_channels=2, cond_channels=1, channel_mults=(1, 2), time_injection="add").config
    texts = _texts(diagrams.unet_figure(concat, image_size=16, scale=2))
    assert any(t.startswith("$U(y)$\n16×16×1") for t in texts) and any("Eq. 04.2" in t for t in texts)
    assert any(t.startswith("$x_t$\n16×16×1") for t in texts)  # x_t's own channels, not x_t + y
    assert any("added, Eq. 03.4" in t for t in texts)
    encoder = UNet(in_channels=1, cond_channels=1, conditioning="encoder", channel_mults=(1, 2)).config
    texts = _texts(diagrams.unet_figure(encoder, image_size=16, scale=2))
    assert any("encoder $E$" in t for t in texts) and any("Eq. 04.3" in t for t in texts)
    assert any(t.startswith("$y$  8×8") for t in texts)


def test_conditioning_figure_has_both_panels():
    c = UNet(in_channels=2, cond_channels=1, base_channels=16, channel_mults=(1, 2, 4)).config
    e = UNet(in_channels=1, cond_channels=1, conditioning="encoder", base_channels=16, channel_mults=(1, 2, 4)).config
    fig = diagrams.conditioning_figure(c, e)
    assert len(fig.axes) == 2
    assert "Concatenation" in fig.axes[0].get_title() and "Encoder" in fig.axes[1].get_title()


def test_chain_figure_nodes_and_thumbnails():
    fig = diagrams.ddpm_chain_figure()
    texts = _texts(fig)
    for name in ("$x_T$", "$x_t$", "$x_{t-1}$", "$x_1$", "$x_0$"):
        assert name in texts
    assert any("Eq. 02.1" in t for t in texts) and any("Eq. 02.5" in t for t in texts)
    imgs = [torch.zeros(1, 8, 8)] * 5
    fig = diagrams.ddpm_chain_figure(imgs, t_shown=[999, 400, 399, 0, "data"])
    assert len(fig.axes[0].images) == 5
    assert {"t = 999", "t = 0", "data"} <= set(_texts(fig))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: diagrams.unet_figure(condition="cross-attention"), "condition must be"),
        (lambda: diagrams.unet_figure({"channel_mults": [1, 2, 2]}, image_size=30), "image_size must be divisible"),
        (lambda: diagrams.unet_figure({"channel_mults": []}), "channel_mults"),
        (lambda: diagrams.ddpm_chain_figure([torch.zeros(1, 8, 8)] * 3), "images must hold 5"),
        (lambda: diagrams.ddpm_chain_figure(t_shown=[1, 2, 3, 4, 5]), "t_shown needs images"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_markdown_tables_escape_a_bar_inside_a_cell():
    """|1 − HF| in a header or a cell must not split its column (lesson 06's tables have it)."""
    from course_lib.teaching.plotting import markdown_table

    table = markdown_table(["row", "Δ |1 − HF| ↓"], [["a", 0.125], ["b", "already \\| escaped"]], ".3f")
    lines = table.splitlines()
    assert lines[0] == "| row | Δ \\|1 − HF\\| ↓ |" and lines[2] == "| a | 0.125 |"
    assert lines[3] == "| b | already \\| escaped |"
    assert all(len([c for c in line.replace("\\|", "").split("|")]) == 4 for line in lines)


def test_a_cached_verdict_prints_as_the_lessons_show_it():
    from course_lib import stats
    from course_lib.teaching.plotting import interval_text, verdict_text

    v = stats.compare_values([1.0, 2.0, 3.0, 4.0], [0.0, 1.1, 1.9, 3.2], True)
    iv = v["interval"]
    assert interval_text(v, 2) == f"{iv['estimate']:+.2f} [{iv['low']:+.2f}, {iv['high']:+.2f}]"
    assert verdict_text(v, 2) == interval_text(v, 2) + " " + v["verdict"] and v["verdict"] == "better"
    assert verdict_text(v, 2, bold=True).endswith("**better**")
