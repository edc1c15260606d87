"""Ground textures for the sample image: colour tables and noise-driven fills.

Every fill is computed for a pixel window from three shared noise fields
(``low`` ~40 m blotches, ``mid`` ~3.6 m tree-crown sized speckle, ``fine``
per-pixel grain) so that neighbouring areas of the same kind blend
seamlessly, and the result depends only on the seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from .geo import PIXEL_M


@dataclass(frozen=True)
class Fill:
    """A ground cover: base colour modulated in brightness by the noise fields.

    ``low``/``mid``/``fine`` are relative brightness amplitudes of the ~40 m,
    ~3.6 m and per-pixel noise.
    """

    base: tuple[float, float, float]
    low: float
    mid: float
    fine: float
    z: int = 0  # paint order: higher draws later


FILLS: dict[str, Fill] = {
    "meadow": Fill((112, 122, 78), 0.10, 0.08, 0.05),
    "residential": Fill((100, 124, 72), 0.08, 0.12, 0.06),
    "park": Fill((96, 134, 68), 0.07, 0.08, 0.04),
    "school": Fill((106, 134, 74), 0.07, 0.07, 0.04),
    "commercial": Fill((116, 128, 88), 0.08, 0.06, 0.05),
    "industrial": Fill((136, 132, 122), 0.11, 0.06, 0.06),
    "forest": Fill((50, 74, 42), 0.08, 0.0, 0.08),
    "farmland": Fill((120, 140, 80), 0.07, 0.03, 0.04),
    "farmyard": Fill((146, 134, 108), 0.06, 0.08, 0.07, z=1),
    "parking": Fill((84, 86, 88), 0.05, 0.03, 0.06, z=1),
    "pitch": Fill((88, 142, 64), 0.04, 0.03, 0.03, z=1),
    "water": Fill((36, 60, 76), 0.07, 0.02, 0.04, z=2),
}

_CENTRED = (np.arange(256, dtype=np.float64) - 128.0) / 128.0  # uint8 noise -> [-1, 1)
_GAIN_ONE = 128  # texture gains are fixed point: 128 = base colour


@cache
def _gain_luts(style: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int16 look-up tables turning each uint8 noise field into a brightness offset."""
    fill = FILLS[style]
    if style == "forest":  # bright crowns, dark gaps between them
        crown = np.clip(0.5 + 0.8 * _CENTRED, 0.0, 1.0)
        mid = 0.45 + 1.1 * crown * crown - 1.0
    else:
        mid = fill.mid * _CENTRED
    return tuple(np.round(_GAIN_ONE * lut).astype(np.int16)
                 for lut in (fill.low * _CENTRED, mid, fill.fine * _CENTRED))


def _colour_table(base) -> np.ndarray:
    """(256, 3) uint8: the base colour scaled by every fixed-point gain."""
    gains = np.arange(256, dtype=np.float64)[:, None] / _GAIN_ONE
    return np.clip(np.round(gains * np.asarray(base, dtype=np.float64)[None, :]), 0, 255
                   ).astype(np.uint8)


class Noise:
    """Shared noise fields over the whole canvas (uint8, centred on 128)."""

    def __init__(self, rng: np.random.Generator, height: int, width: int):
        # ~38 m blotches with ~10 m detail: two octaves mixed at quarter resolution,
        # then one smooth upsampling to full size
        qh, qw = height // 4 + 1, width // 4 + 1
        coarse = self._smooth(rng, qh, qw, 16).astype(np.uint16)
        detail = self._smooth(rng, qh, qw, 4).astype(np.uint16)
        quarter = ((coarse * 170 + detail * 86) >> 8).astype(np.uint8)
        self.low = self._upsample(quarter, height, width, 4)
        self.mid = self._smooth(rng, height, width, 6)
        self.fine = rng.integers(0, 256, size=(height, width), dtype=np.uint8)

    @staticmethod
    def _upsample(small: np.ndarray, height: int, width: int, cell: int) -> np.ndarray:
        img = Image.fromarray(small).resize(
            (small.shape[1] * cell, small.shape[0] * cell), Image.Resampling.BICUBIC)
        return np.asarray(img)[:height, :width]

    @classmethod
    def _smooth(cls, rng, height: int, width: int, cell: int) -> np.ndarray:
        small = rng.integers(0, 256, size=(height // cell + 2, width // cell + 2), dtype=np.uint8)
        return cls._upsample(small, height, width, cell)


def texture(style: str, params: dict, noise: Noise, r0: int, r1: int, c0: int, c1: int,
            x_left: float, y_top: float) -> np.ndarray:
    """RGB uint8 texture of ``style`` for canvas rows r0:r1, columns c0:c1.

    ``x_left``/``y_top`` are the local metre coordinates of the canvas's
    top-left corner, used for patterns fixed to the ground (crop rows,
    parking stalls, mowing stripes).
    """
    fill = FILLS[style]
    lut_low, lut_mid, lut_fine = _gain_luts(style)
    gain = lut_fine[noise.fine[r0:r1, c0:c1]]
    gain += lut_low[noise.low[r0:r1, c0:c1]]
    gain += lut_mid[noise.mid[r0:r1, c0:c1]]
    xs = x_left + (np.arange(c0, c1, dtype=np.float64) + 0.5) * PIXEL_M
    ys = y_top - (np.arange(r0, r1, dtype=np.float64) + 0.5) * PIXEL_M
    if style == "farmland":  # crop rows
        a = np.radians(params.get("angle", 0.0))
        d = np.cos(a) * xs[None, :] + np.sin(a) * ys[:, None]
        gain += np.round(10.0 * np.sin(2 * np.pi * d / params.get("period", 4.0))).astype(np.int16)
    elif style == "pitch":  # mowing stripes
        gain += (np.floor(xs / 6.0) % 2 * 16 - 8).astype(np.int16)[None, :]
    gain += _GAIN_ONE
    np.clip(gain, 0, 255, out=gain)
    rgb = np.take(_colour_table(params.get("color", fill.base)), gain, axis=0)
    if style == "parking":  # painted stalls in double rows, aisles between them
        vertical = bool(params.get("vertical"))
        along, across = (xs, ys) if vertical else (ys, xs)
        stall = (along % 2.7) < 0.35
        in_row = ((across % 18.0) < 5.5) | ((across % 18.0) > 12.5)
        lines = stall[None, :] & in_row[:, None] if vertical else stall[:, None] & in_row[None, :]
        rgb[lines] = (196, 196, 190)
    return rgb
