"""A small time-conditioned U-Net (lessons 02–04).

Residual blocks with GroupNorm; the timestep embedding (lesson 03) enters every block either as
**scale/shift** of the normalised features, Eq. 03.3: h ← GN(h) · (1 + s(e)) + b(e), or **added**
to them, Eq. 03.4: h ← h + W e; optional self-attention at the lowest resolution.

A condition y enters in one of two ways (lesson 04):

* ``conditioning="concat"`` (SR3), Eq. 04.2: the input is [x_t, y↑] on the channel axis; ``in_channels``
  counts x_t's and y's channels, and ``cond`` must have x_t's height and width.
* ``conditioning="encoder"`` (SRDiff-style), Eq. 04.3: a small convolutional encoder E reads y at its own
  (low) resolution; at every level ℓ of the way down, h_ℓ ← h_ℓ + P_ℓ(resize(E(y), size of h_ℓ)) with a
  zero-initialised 1 × 1 convolution P_ℓ. ``in_channels`` counts x_t's channels only.

Shapes: ``forward(x (B, C_x, H, W), t (B,), cond) → (B, C_out, H, W)`` with ``cond`` ``(B, C_cond, H, W)``
(concat), ``(B, C_cond, h, w)`` of any size (encoder) or ``None`` (unconditional); H and W divisible by
2^(len(channel_mults) − 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_int
from ..embeddings import make_time_embedding

__all__ = ["UNet", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class ResBlock(nn.Module):
    """GN → SiLU → conv → GN → (time: scale/shift, Eq. 03.3, or add, Eq. 03.4) → SiLU → dropout → conv, plus a skip.

    ``forward(x (B, cin, H, W), temb (B, tdim) or None) → (B, cout, H, W)``; the last conv starts at zero, so a new
    block starts as its skip connection."""

    def __init__(self, cin: int, cout: int, tdim: int | None, injection: str, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(min(groups, cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.injection = injection
        self.time = None if tdim is None else nn.Linear(tdim, 2 * cout if injection == "scale_shift" else cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.norm2(h)
        if self.time is not None and temb is not None:
            e = self.time(F.silu(temb))[:, :, None, None]
            if self.injection == "scale_shift":
                scale, shift = e.chunk(2, dim=1)
                h = h * (1 + scale) + shift  # Eq. 03.3
            else:
                h = h + e  # Eq. 03.4
        h = self.conv2(self.dropout(F.silu(h)))
        return h + self.skip(x)


class Attention(nn.Module):
    """Multi-head self-attention over the H·W positions (used at the lowest resolution only)."""

    def __init__(self, ch: int, groups: int, heads: int = 4):
        super().__init__()
        if ch % heads:
            raise ValueError(f"attention needs channels divisible by heads={heads}, got {ch}")
        self.heads = heads
        self.norm = nn.GroupNorm(min(groups, ch), ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, self.heads, C // self.heads, H * W).transpose(-1, -2).unbind(1)
        h = F.scaled_dot_product_attention(q, k, v)  # (B, heads, HW, C / heads)
        return x + self.proj(h.transpose(-1, -2).reshape(B, C, H, W))


class LREncoder(nn.Module):
    """E(y) of Eq. 04.3: a 3 × 3 convolution and ``blocks`` residual blocks at the LR resolution.

    ``forward(y (B, C_cond, h, w)) → (B, width, h, w)``; no timestep: y does not change during sampling,
    so E(y) could be computed once per image.
    """

    def __init__(self, cond_channels: int, width: int = 32, blocks: int = 2, groups: int = 8):
        super().__init__()
        self.inc = nn.Conv2d(cond_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(ResBlock(width, width, None, "add", groups, 0.0) for _ in range(blocks))
        # the zero-initialised conv2 of ResBlock would make E(y) = inc(y) at first; that is fine

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h = self.inc(y)
        for block in self.blocks:
            h = block(h, None)
        return h


class UNet(nn.Module):
    """ε_θ(x_t, t, y) for images.

    Args:
        in_channels: channels of the first convolution's input: x_t plus a concatenated condition
            (``"concat"``), x_t only (``"encoder"``).
        out_channels: channels predicted (default: x_t's channels).
        cond_channels: channels of ``cond`` (0: unconditional).
        conditioning: ``"concat"`` (Eq. 04.2) or ``"encoder"`` (Eq. 04.3).
        encoder_channels, encoder_blocks: width and depth of the LR encoder (``"encoder"`` only).
        base_channels, channel_mults: widths per resolution level.
        num_res_blocks: residual blocks per level on the way down.
        attention: self-attention at the lowest resolution.
        time_embedding: ``"sinusoidal"``, ``"learned"``, ``"mlp"`` or ``"none"`` (lesson 03).
        time_injection: ``"scale_shift"`` (Eq. 03.3) or ``"add"`` (Eq. 03.4).
        T: number of timesteps (for the table and MLP embeddings).
        num_classes: > 0 for a class-conditional network: a learned embedding of the label (one more row, index
            ``num_classes``, for "no label": classifier-free guidance's unconditional branch) added to the
            timestep's, as in Ho & Salimans' class-conditional models; 0 (default) for none.
        aug_level_embedding: embed a second level, the conditioning-augmentation level s of a cascade's SR stage
            (lesson 07, Eq. 07.3), exactly as t is embedded (its own embedding and MLP) and add it to the timestep's;
            ``forward`` then needs ``aug_level``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int | None = None,
        cond_channels: int = 0,
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        num_res_blocks: int = 1,
        attention: bool = True,
        time_embedding: str = "sinusoidal",
        time_injection: str = "scale_shift",
        T: int = 1000,
        groups: int = 8,
        dropout: float = 0.0,
        conditioning: str = "concat",
        encoder_channels: int = 32,
        encoder_blocks: int = 2,
        num_classes: int = 0,
        aug_level_embedding: bool = False,
    ):
        super().__init__()
        check_int(num_classes, "num_classes", low=0)
        if time_injection not in ("scale_shift", "add"):
            raise ValueError(f"time_injection must be 'scale_shift' or 'add', got {time_injection!r}")
        if conditioning not in ("concat", "encoder"):
            raise ValueError(f"conditioning must be 'concat' or 'encoder', got {conditioning!r}")
        if conditioning == "concat" and not 0 <= cond_channels < in_channels:
            raise ValueError(
                f"cond_channels must be in 0 … in_channels − 1, got {cond_channels} with in_channels={in_channels}"
            )
        if conditioning == "encoder" and cond_channels < 1:
            raise ValueError(f"conditioning='encoder' needs cond_channels >= 1, got {cond_channels}")
        self.config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            cond_channels=cond_channels,
            base_channels=base_channels,
            channel_mults=tuple(channel_mults),
            num_res_blocks=num_res_blocks,
            attention=attention,
            time_embedding=time_embedding,
            time_injection=time_injection,
            T=T,
            groups=groups,
            dropout=dropout,
            conditioning=conditioning,
            encoder_channels=encoder_channels,
            encoder_blocks=encoder_blocks,
            num_classes=num_classes,
            aug_level_embedding=bool(aug_level_embedding),
        )
        self.cond_channels = cond_channels
        self.conditioning = conditioning
        concat = cond_channels if conditioning == "concat" else 0
        self.x_channels = in_channels - concat
        out_channels = out_channels or self.x_channels
        self.levels = len(channel_mults)
        tdim = base_channels * 4
        emb = make_time_embedding(time_embedding, base_channels, T)
        self.time_mlp = (
            None
            if emb is None
            else nn.Sequential(emb, nn.Linear(base_channels, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        )
        tdim_or_none = None if emb is None else tdim
        if num_classes and emb is None:
            raise ValueError("num_classes needs a time embedding to add the label's to (time_embedding='none' given)")
        self.num_classes = num_classes
        # row num_classes is the null label ("no class"), trained by label dropout
        self.label_emb = nn.Embedding(num_classes + 1, tdim) if num_classes else None
        if aug_level_embedding and emb is None:
            raise ValueError(
                "aug_level_embedding needs a time embedding to add the level's to (time_embedding='none' given)"
            )
        # s is embedded like t (Eq. 07.3): its own copy of the time embedding and MLP, the result added to t's
        self.aug_mlp = None
        if aug_level_embedding:
            self.aug_mlp = nn.Sequential(
                make_time_embedding(time_embedding, base_channels, T),
                nn.Linear(base_channels, tdim),
                nn.SiLU(),
                nn.Linear(tdim, tdim),
            )

        def block(cin: int, cout: int) -> ResBlock:
            return ResBlock(cin, cout, tdim_or_none, time_injection, groups, dropout)

        self.inc = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        self.down = nn.ModuleList()
        skips = [base_channels]
        ch = base_channels
        for i, m in enumerate(channel_mults):
            for _ in range(num_res_blocks):
                self.down.append(block(ch, base_channels * m))
                ch = base_channels * m
                skips.append(ch)
            if i < self.levels - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.encoder = self.inject = None
        if conditioning == "encoder":
            self.encoder = LREncoder(cond_channels, encoder_channels, encoder_blocks, groups)
            widths = [base_channels] + [
                base_channels * m for m in channel_mults[:-1]
            ]  # h after inc, after each downsampling
            self.inject = nn.ModuleList(nn.Conv2d(encoder_channels, w_, 1) for w_ in widths)
            for conv in self.inject:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
        self.mid1 = block(ch, ch)
        self.mid_attn = Attention(ch, groups) if attention else nn.Identity()
        self.mid2 = block(ch, ch)
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(channel_mults))):
            for _ in range(num_res_blocks + 1):
                self.up.append(block(ch + skips.pop(), base_channels * m))
                ch = base_channels * m
            if i > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.out = nn.Sequential(
            nn.GroupNorm(min(groups, ch), ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1)
        )
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)
        # channels-last convolutions are about 30 % faster on CPUs (oneDNN) and suit tensor cores on GPUs
        self.to(memory_format=torch.channels_last)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor | None = None,
        label: torch.Tensor | None = None,
        aug_level: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.x_channels:
            raise ValueError(f"x must have shape (B, {self.x_channels}, H, W), got {tuple(x.shape)}")
        features = None
        if self.conditioning == "encoder":
            if cond is None or cond.dim() != 4 or cond.shape[0] != x.shape[0] or cond.shape[1] != self.cond_channels:
                raise ValueError(
                    f"this UNet expects cond of shape ({x.shape[0]}, {self.cond_channels}, h, w), "
                    f"got {None if cond is None else tuple(cond.shape)}"
                )
            features = self.encoder(cond.contiguous(memory_format=torch.channels_last))
        elif self.cond_channels:
            if cond is None or cond.shape[1] != self.cond_channels or cond.shape[-2:] != x.shape[-2:]:
                raise ValueError(
                    f"this UNet expects cond of shape (B, {self.cond_channels}, {x.shape[-2]}, {x.shape[-1]}), "
                    f"got {None if cond is None else tuple(cond.shape)}"
                )
            x = torch.cat([x, cond], dim=1)
        factor = 2 ** (self.levels - 1)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"H and W must be divisible by {factor}, got {tuple(x.shape[-2:])}")
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must have shape ({x.shape[0]},), got {tuple(t.shape)}")
        temb = None if self.time_mlp is None else self.time_mlp(t)
        if self.label_emb is not None:
            temb = temb + self.label_emb(self._labels(label, x.shape[0], x.device))
        elif label is not None:
            raise ValueError(
                "label: this UNet is not class-conditional (num_classes=0); pass num_classes > 0 to build one"
            )
        if self.aug_mlp is not None:
            if not isinstance(aug_level, torch.Tensor) or aug_level.shape != (x.shape[0],):
                got = tuple(aug_level.shape) if isinstance(aug_level, torch.Tensor) else type(aug_level).__name__
                raise ValueError(
                    f"aug_level: this UNet embeds the conditioning-augmentation level s; expected a ({x.shape[0]},) "
                    f"integer tensor, got {got}"
                )
            temb = temb + self.aug_mlp(aug_level)  # Eq. 07.3
        elif aug_level is not None:
            raise ValueError("aug_level: this UNet does not embed an augmentation level (aug_level_embedding=False)")
        h = self.inc(x.contiguous(memory_format=torch.channels_last))
        level = 0
        if features is not None:
            h = h + self._injected(features, 0, h)  # Eq. 04.3 at level 0
        hs = [h]
        for layer in self.down:
            if isinstance(layer, ResBlock):
                h = layer(h, temb)
            else:
                h = layer(h)
                level += 1
                if features is not None:
                    h = h + self._injected(features, level, h)  # Eq. 04.3 at level ℓ
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), temb)
            else:
                h = layer(h)
        return self.out(h).contiguous()

    def _labels(self, label: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        """``label`` checked, ``None`` → the null label (the unconditional branch) for every image."""
        if label is None:
            return torch.full((batch,), self.num_classes, dtype=torch.long, device=device)
        if (
            not isinstance(label, torch.Tensor)
            or label.shape != (batch,)
            or label.dtype not in (torch.int64, torch.int32)
        ):
            got = f"{tuple(label.shape)} {label.dtype}" if isinstance(label, torch.Tensor) else type(label).__name__
            raise ValueError(f"label must be an integer tensor of shape ({batch},), got {got}")
        if int(label.min()) < 0 or int(label.max()) > self.num_classes:
            raise ValueError(
                f"label must be in 0 … {self.num_classes} ({self.num_classes} = no label), got "
                f"{int(label.min())} … {int(label.max())}"
            )
        return label.long()

    def steered(
        self,
        x: torch.Tensor,
        t: torch.Tensor | None,
        after_down=None,
        skips=None,
        mid=None,
        emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The U-Net's pass on x_t alone with additions from outside (a ControlNet's, SRDiff's encoder's):
        ``after_down(i, h) -> h`` after down layer i, then ``skips[k]`` added to the k-th skip feature and ``mid`` to
        the
        middle feature (each ``None``: nothing added). ``emb`` ``(B, 4·base_channels)``: the vector every ResBlock's
        scale and shift are read from, in place of the time embedding of ``t`` (DiffIR's prior, lesson 09)."""
        if emb is not None:
            if emb.dim() != 2 or emb.shape[0] != x.shape[0]:
                raise ValueError(f"emb must have shape ({x.shape[0]}, D), got {tuple(emb.shape)}")
            temb = emb
        else:
            temb = None if self.time_mlp is None else self.time_mlp(t)
        h = self.inc(x.contiguous(memory_format=torch.channels_last))
        if after_down is not None:
            h = after_down(-1, h)
        hs = [h]
        for i, layer in enumerate(self.down):
            h = layer(h, temb) if isinstance(layer, ResBlock) else layer(h)
            if after_down is not None:
                h = after_down(i, h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        if mid is not None:
            h = h + mid
        if skips is not None:
            hs = [h_ + r for h_, r in zip(hs, skips)]
        for layer in self.up:
            h = layer(torch.cat([h, hs.pop()], dim=1), temb) if isinstance(layer, ResBlock) else layer(h)
        return self.out(h).contiguous()

    def _injected(self, features: torch.Tensor, level: int, like: torch.Tensor) -> torch.Tensor:
        if features.shape[-2:] != like.shape[-2:]:
            features = F.interpolate(features, size=like.shape[-2:], mode="bilinear", align_corners=False)
        return self.inject[level](features)
