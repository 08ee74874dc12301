"""The compiled motor decoders equal the NumPy decoders (decoders.py) bit for bit, on random
areas and spikes (Hypothesis); the lazy per-area split equals two searchsorteds per area."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feagi_hailo_ros.engine.core.connectome import AreaSpec
from feagi_hailo_ros.ros.decoders import (
    DiffDriveSettings,
    decode_percentages,
    decode_servo_positions,
    decode_signed_percentages,
    motor_voxels_to_twist,
)
from feagi_hailo_ros.ros.fired import AreaBounds
from feagi_hailo_ros.ros.motor_kernels import AreaDecoder, ServoDecoder, TwistDecoder


def _area(dims: tuple[int, int, int], npv: int, first: int = 0, cid: str = "o__mot",
          index: int = 0) -> AreaSpec:
    return AreaSpec(index=index, cortical_id=cid, name=cid, group="OPU", dims=dims,
                    neurons_per_voxel=npv, position=(0, 0, 0), first_neuron=first,
                    fire_threshold=1.0, threshold_increment=(0.0, 0.0, 0.0),
                    threshold_limit=float("inf"), leak=0.0, refractory=0,
                    consecutive_fire_limit=0, excitability=1.0, mp_acc=False, mp_psp=False,
                    psp=1.0, psp_uniform=True)


@st.composite
def area_and_spikes(draw: st.DrawFn) -> tuple[AreaSpec, np.ndarray]:
    """A small area (y up to 3, so stray rows y > 0 occur) and ascending fired local ids."""
    dims = (draw(st.integers(1, 9)), draw(st.integers(1, 3)), draw(st.integers(1, 7)))
    npv = draw(st.integers(1, 3))
    area = _area(dims, npv)
    fired = draw(st.sets(st.integers(0, area.neuron_count - 1), max_size=area.neuron_count))
    return area, np.array(sorted(fired), dtype=np.int64)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaN where NaN, the sign of zero included)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=300, deadline=None)
@given(area_and_spikes(), st.booleans(), st.data())
def test_area_decoder_equals_numpy_decoders(case, signed: bool, data: st.DataObject) -> None:
    area, local = case
    width = area.dims[0] // 2 if signed else area.dims[0]
    channels = data.draw(st.integers(0, width))
    got = AreaDecoder(area, channels, signed)(local)
    voxels = area.voxel_of(local)
    decode = decode_signed_percentages if signed else decode_percentages
    want = decode(voxels, area.dims, channels)
    assert _same(got.values, want.values), (got.values, want.values)
    assert _same(got.active, want.active)


@settings(max_examples=200, deadline=None)
@given(area_and_spikes(), st.data())
def test_twist_decoder_equals_motor_voxels_to_twist(case, data: st.DataObject) -> None:
    area, local = case
    channels = area.dims[0] // 2
    if channels < 2:
        with pytest.raises(ValueError, match="columns"):
            TwistDecoder(area, DiffDriveSettings(left_channel=0, right_channel=1))
        return
    left, right = data.draw(st.lists(st.integers(0, channels - 1), min_size=2, max_size=2,
                                     unique=True))
    drive = DiffDriveSettings(left_channel=left, right_channel=right,
                              linear_gain=data.draw(st.floats(-3, 3)),
                              max_wheel_speed=data.draw(st.floats(0.01, 2.0)))
    got = TwistDecoder(area, drive)(local, drive)
    want = motor_voxels_to_twist(area.voxel_of(local), area.dims, drive)
    assert np.array(got).tobytes() == np.array(want).tobytes(), (got, want)


@settings(max_examples=150, deadline=None)
@given(area_and_spikes(), st.data())
def test_servo_decoder_equals_decode_servo_positions(case, data: st.DataObject) -> None:
    area, local = case
    joints = data.draw(st.integers(1, area.dims[0]))
    lower = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=joints, max_size=joints)))
    upper = lower + np.array(data.draw(st.lists(st.floats(0.01, 5), min_size=joints,
                                                max_size=joints)))
    got = ServoDecoder(area, lower, upper)(local)
    want = decode_servo_positions(area.voxel_of(local), area.dims, lower, upper)
    assert _same(got.values, want.values) and _same(got.active, want.active)


def test_twist_decoder_follows_a_live_channel_change() -> None:
    area = _area((6, 1, 4), 1)
    first = DiffDriveSettings(left_channel=0, right_channel=1)
    decode = TwistDecoder(area, first)
    local = np.array([0, 9, 16], np.int64)  # columns 0, 2 (z 1), 4: channels 0, 1, 2
    later = DiffDriveSettings(left_channel=2, right_channel=0)
    assert decode(local, later) == motor_voxels_to_twist(area.voxel_of(local), area.dims, later)
    assert decode(local, later) != decode(local, first)


def test_decoder_refuses_more_channels_than_columns() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        AreaDecoder(_area((4, 1, 2), 1), 3, signed=True)


class _Conn:
    """The part of a Connectome AreaBounds reads."""

    def __init__(self, areas: list[AreaSpec]) -> None:
        self.areas = areas


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
                min_size=1, max_size=6), st.data())
def test_split_equals_per_area_searchsorted(shapes, data: st.DataObject) -> None:
    areas, first = [], 0
    for k, dims in enumerate(shapes):
        areas.append(_area(dims, 1, first, cid=f"a{k}", index=k))
        first += areas[-1].neuron_count
    g = np.array(sorted(data.draw(st.sets(st.integers(0, first - 1)))), np.int64)
    fired = AreaBounds(_Conn(areas)).split(g)
    assert list(fired) == [a.cortical_id for a in areas] and len(fired) == len(areas)
    for a in areas:
        lo, hi = np.searchsorted(g, [a.first_neuron, a.first_neuron + a.neuron_count])
        want = g[lo:hi] - a.first_neuron
        assert fired[a.cortical_id].dtype == np.int64
        assert fired[a.cortical_id].tolist() == want.tolist()
    assert "nope" not in fired
    with pytest.raises(KeyError):
        fired["nope"]


def test_split_arrays_are_read_only() -> None:
    """A hand-off to another thread shares the burst's arrays: nobody may change them."""
    area = _area((2, 1, 2), 1, cid="a0")
    g = np.array([1, 3], np.int64)
    fired = AreaBounds(_Conn([area])).split(g)
    with pytest.raises(ValueError, match="read-only"):
        g[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        fired["a0"][0] = 0
