"""Spike and count quantization on a Hailo device: what a 0/1 spike is as a raw UINT8 input code,
and how raw UINT8/UINT16 outputs become exact integer counts (DESIGN §5: counts must be exact).

HailoRT dequantizes as ``(raw - qp_zp) * qp_scale`` in float32 (``hailort.h``,
``hailo_quant_info_t``); these rules are the one place the accelerator path applies it.
"""

from __future__ import annotations

import math

import numpy as np

from ...hailo import FormatType, VStreamInfo, dequantize

#: Manifest dtype -> HailoRT format type and largest raw value.
DTYPES: dict[str, tuple[FormatType, int]] = {
    "uint8": (FormatType.UINT8, 255),
    "uint16": (FormatType.UINT16, 65535),
}

class HailoResultError(RuntimeError):
    """A device result that cannot be an exact count (non-integral or negative)."""

    def __init__(self, partition: str, vstream: str, detail: str) -> None:
        self.partition = partition
        self.vstream = vstream
        self.name = "NON_INTEGRAL_COUNT"  # so warnings/diagnostics can print `.name` uniformly
        super().__init__(f"partition {partition!r}, vstream {vstream!r}: {detail}")


# Dequantization runs in float32 (HailoRT's rule); a count c comes out within a few ulps of c
# when qp_scale is not a power of two. Anything further off is not a count.
_REL_TOL = 8 * float(np.finfo(np.float32).eps)


class CountDecoder:
    """Raw UINT8/UINT16 output values -> exact int64 counts, ``(raw - qp_zp) * qp_scale``.

    Integral ``qp_scale``/``qp_zp`` (the normal case for a count layer) use integer arithmetic,
    exact by construction; others dequantize like HailoRT and must land on integers.
    """

    def __init__(self, partition: str, vstream: str, qp_scale: float, qp_zp: float) -> None:
        self.partition, self.vstream = partition, vstream
        self.qp_scale, self.qp_zp = float(qp_scale), float(qp_zp)
        self._integral = self.qp_scale.is_integer() and self.qp_zp.is_integer()
        self._identity = self._integral and self.qp_scale == 1.0 and self.qp_zp == 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self._identity:
            return raw.astype(np.int64)  # unsigned raw values: nothing can be negative
        if self._integral:
            y = (raw.astype(np.int64) - int(self.qp_zp)) * int(self.qp_scale)
        else:
            v = dequantize(raw, self.qp_scale, self.qp_zp)
            r = np.rint(v)
            off = np.abs(v - r) > _REL_TOL * np.maximum(np.abs(r), 1.0)
            if off.any():
                i = np.unravel_index(int(np.argmax(off)), off.shape)
                raise HailoResultError(
                    self.partition, self.vstream,
                    f"dequantized output {float(v[i])!r} (raw {int(raw[i])}, qp_scale "
                    f"{self.qp_scale:g}, qp_zp {self.qp_zp:g}) is not an integral count")
            y = r.astype(np.int64)
        if y.size and int(y.min()) < 0:
            raise HailoResultError(self.partition, self.vstream,
                                   f"negative count {int(y.min())} (qp_zp {self.qp_zp:g})")
        return y


def spike_codes(qp_scale: float, qp_zp: float) -> tuple[int, int]:
    """Raw UINT8 codes of 0 and of one spike (1.0) for an input quantized with (scale, zp)."""
    zero = round(float(qp_zp))
    one = round(1.0 / float(qp_scale) + float(qp_zp))
    return zero, one


def spike_codes_exact(qp_scale: float, qp_zp: float) -> bool:
    """True when 0 and one spike (1.0) are both exactly representable as UINT8 input codes."""
    if not (qp_scale > 0 and math.isfinite(qp_scale) and math.isfinite(qp_zp)):
        return False
    zero, one = spike_codes(qp_scale, qp_zp)
    return (0 <= zero < one <= 255
            and abs((zero - qp_zp) * qp_scale) < 1e-3
            and abs((one - qp_zp) * qp_scale - 1.0) < 1e-3)


def count_range(info: VStreamInfo, dtype: str) -> float:
    """Largest count an output can report: the dequantized largest raw value of ``dtype`` (a
    manifest output dtype, a key of :data:`DTYPES`: ``"uint8"`` or ``"uint16"``)."""
    return (DTYPES[dtype][1] - info.qp_zp) * info.qp_scale
