"""DiffBIR's stage 2 at toy scale (course_lib/models/controlnet.py, course_lib/methods/diffbir.py): at initialisation
the controlled U-Net equals the frozen one exactly; training moves the control only; the strength knob; the blind
degradation pipeline (course_lib.operators.BlindDegradation)."""

import pytest
import torch

from course_lib.models import ControlledUNet, ControlNet, UNet
from course_lib.operators import BlindDegradation

ARGS = dict(in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention=True, groups=4, T=100)


def _base(seed=0):
    torch.manual_seed(seed)
    base = UNet(**ARGS)
    with torch.no_grad():  # a "trained" base: the output layer is not zero as at initialisation
        for p in base.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return base.eval()


def test_at_initialisation_the_pipeline_is_the_frozen_model_exactly():
    base = _base()
    controlled = ControlledUNet(base, cond_channels=1).eval()
    g = torch.Generator().manual_seed(1)
    x, c = torch.randn(3, 1, 16, 16, generator=g), torch.randn(3, 1, 16, 16, generator=g)
    t = torch.tensor([5, 50, 99])
    with torch.no_grad():
        want = base(x, t)
        assert want.abs().max() > 0
        assert torch.equal(controlled(x, t, c), want)  # bit for bit
        controlled.strength = 3.0
        assert torch.equal(controlled(x, t, c), want)  # zero convolutions: any strength, still the base


def test_training_moves_the_control_only_and_the_control_can_change_the_output():
    base = _base()
    frozen = {k: v.clone() for k, v in base.state_dict().items()}
    controlled = ControlledUNet(base, cond_channels=1)
    trainable = [p for p in controlled.parameters() if p.requires_grad]
    assert trainable and all(not p.requires_grad for p in controlled.base.parameters())
    # the whole copy trains, not only its zero convolutions (a deepcopy of the frozen base would be frozen too)
    assert all(p.requires_grad for p in controlled.control.parameters())
    copy_before = {k: v.clone() for k, v in controlled.control.down.state_dict().items()}
    opt = torch.optim.Adam(trainable, lr=1e-2)
    g = torch.Generator().manual_seed(2)
    x, c, target = (torch.randn(4, 1, 16, 16, generator=g) for _ in range(3))
    t = torch.tensor([1, 10, 40, 90])
    losses = []
    for _ in range(5):
        controlled.train()
        loss = ((controlled(x, t, c) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(torch.equal(frozen[k], v) for k, v in controlled.base.state_dict().items())
    # the encoder copy moved (from the second step on: the zero convolutions pass no gradient back at first)
    assert any(not torch.equal(copy_before[k], v) for k, v in controlled.control.down.state_dict().items())
    assert controlled.base.training is False  # the frozen base stays in eval mode
    with torch.no_grad():
        controlled.eval()
        moved = controlled(x, t, c)
        controlled.strength = 0.0
        assert torch.equal(controlled(x, t, c), base(x, t))  # strength 0: the unconditional model
        assert not torch.equal(moved, base(x, t))


def test_the_control_starts_as_a_copy_of_the_encoder_with_zeroed_new_channels():
    base = _base()
    net = ControlNet(base, cond_channels=2)
    assert torch.equal(net.inc.weight[:, :1], base.inc.weight) and torch.equal(
        net.inc.weight[:, 1:], torch.zeros_like(net.inc.weight[:, 1:])
    )
    assert all(torch.equal(a, b) for a, b in zip(net.down.state_dict().values(), base.down.state_dict().values()))
    assert all(z.weight.abs().sum() == 0 and z.bias.abs().sum() == 0 for z in net.zero_skips)
    with pytest.raises(ValueError, match="expected an unconditional UNet"):
        ControlNet(UNet(in_channels=2, cond_channels=1, base_channels=8, channel_mults=(1, 2), groups=4))
    with pytest.raises(ValueError, match=r"cond: expected shape \(1, 2, 16, 16\)"):
        net(torch.zeros(1, 1, 16, 16), torch.tensor([3]), torch.zeros(1, 1, 16, 16))


def test_the_blind_degradation_is_seeded_per_image_and_degrades():
    from course_lib.datasets import DigitsSR
    from course_lib.metrics import psnr

    hr, _ = DigitsSR("test", scale=4).tensors(range(6))
    d = BlindDegradation()
    a, params = d.apply(hr, [10, 11, 12, 13, 14, 15])
    b, _ = d.apply(hr[2:4], [12, 13])
    assert torch.equal(a[2:4], b)  # image by image: the batch does not matter
    assert a.shape == hr.shape and a.min() >= -1 and a.max() <= 1
    assert all(0.1 <= p["blur"] <= 2 and 1 <= p["scale"] <= 4 and 40 <= p["jpeg"] <= 95 for p in params)
    assert psnr(a, hr).max() < 35  # every image visibly degraded
    # a degradation the restorer never sees: stronger blur, harsher JPEG
    unseen = BlindDegradation(blur=(3.0, 3.0), scale=(2.0, 2.0), noise=(0.0, 0.0), jpeg=(10, 10))
    c, p = unseen.apply(hr, range(6))
    assert all(q["jpeg"] == 10 and q["blur"] == 3.0 for q in p) and psnr(c, hr).mean() < psnr(a, hr).mean()
    with pytest.raises(ValueError, match=r"jpeg: expected a range \(low, high\) with 1 <= low <= high <= 100"):
        BlindDegradation(jpeg=(50, 120))
