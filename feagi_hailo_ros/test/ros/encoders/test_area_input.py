"""Raw injections: AreaInput fields validated as they are (encoders/area_input.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from injection_checks import as_set, check_shape

from feagi_hailo_ros.ros.encoders import SensorInputError, encode_raw


def test_raw_injection_validation() -> None:
    inj = encode_raw([[0, 1, 2], [3, 0, 0]], [5.0, 6.0], (4, 2, 3))
    check_shape(inj, 2)
    assert inj[1].tolist() == [5.0, 6.0]
    assert as_set(encode_raw([1, 1, 1, 2, 0, 0], 3.0, (4, 2, 3))) == {(1, 1, 1), (2, 0, 0)}
    assert as_set(encode_raw(np.array([[1.0, 0.0, 2.0]]), 1.0, (4, 2, 3))) == {(1, 0, 2)}
    check_shape(encode_raw([], 1.0, (4, 2, 3)), 0)
    for voxels, pots, reason in [
        ([[4, 0, 0]], 1.0, "outside"),
        ([[0, -1, 0]], 1.0, "outside"),
        ([[0.5, 0, 0]], 1.0, "integers"),
        ([[0, 0]], 1.0, r"\(n, 3\)"),
        ([[0, 0, 0]], [1.0, 2.0], "potentials"),
        ([[0, 0, 0]], math.nan, "finite"),
    ]:
        with pytest.raises(SensorInputError, match=reason):
            encode_raw(voxels, pots, (4, 2, 3))
