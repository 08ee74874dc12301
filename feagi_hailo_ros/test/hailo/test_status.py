"""hailo_status table and HailoRTError (values from hailort.h, see status.py for the tags)."""

from __future__ import annotations

import pickle

import pytest

from feagi_hailo_ros.hailo import status
from feagi_hailo_ros.hailo.status import (
    INTRODUCED_IN,
    NAMES_BEFORE_4_20,
    STATUS_NAMES,
    HailoRTError,
    check,
    status_name,
)


def test_table_is_contiguous_and_unique() -> None:
    """Codes 0..97 all named, each name unique and spelled HAILO_*."""
    assert sorted(STATUS_NAMES) == list(range(98))
    names = list(STATUS_NAMES.values())
    assert len(set(names)) == len(names)
    assert all(n.startswith("HAILO_") and n == n.upper() for n in names)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0, "HAILO_SUCCESS"),
        (2, "HAILO_INVALID_ARGUMENT"),
        (4, "HAILO_TIMEOUT"),
        (5, "HAILO_INSUFFICIENT_BUFFER"),
        (6, "HAILO_INVALID_OPERATION"),
        (13, "HAILO_OPEN_FILE_FAILURE"),
        (26, "HAILO_INVALID_HEF"),
        (61, "HAILO_NOT_FOUND"),
        (63, "HAILO_STREAM_ABORT"),
        (64, "HAILO_DRIVER_NOT_INSTALLED"),
        (74, "HAILO_OUT_OF_PHYSICAL_DEVICES"),
        (79, "HAILO_NOT_SUPPORTED"),
        (84, "HAILO_CANT_MEET_BUFFER_REQUIREMENTS"),
        (85, "HAILO_DRIVER_INVALID_RESPONSE"),
        (90, "HAILO_DRIVER_WAIT_CANCELED"),
        (91, "HAILO_HEF_FILE_CORRUPTED"),
        (92, "HAILO_HEF_NOT_SUPPORTED"),
        (93, "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE"),
    ],
)
def test_header_values(code: int, name: str) -> None:
    """Spot checks of the table against hailort.h, including the codes the binding names."""
    assert STATUS_NAMES[code] == name
    assert status_name(code) == name


def test_module_constants_match_table() -> None:
    """Every HAILO_* int constant of status.py is the table's code for that name."""
    for attr in dir(status):
        if attr.startswith("HAILO_") and isinstance(getattr(status, attr), int):
            assert STATUS_NAMES[getattr(status, attr)] == attr


def test_names_follow_the_library_version() -> None:
    """Codes 36 and 64 keep their pre-4.20 names for a 4.17-4.19 library."""
    # 4.20 renamed 36 and 64; a 4.19 library's errors use the names of its own header
    assert status_name(36, (4, 19)) == "HAILO_DRIVER_FAIL"
    assert status_name(64, (4, 17)) == "HAILO_PCIE_DRIVER_NOT_INSTALLED"
    assert status_name(36, (4, 20)) == "HAILO_DRIVER_OPERATION_FAILED"
    assert status_name(64, (4, 23)) == "HAILO_DRIVER_NOT_INSTALLED"
    assert set(NAMES_BEFORE_4_20) == {36, 64}
    assert status_name(74, (4, 19)) == "HAILO_OUT_OF_PHYSICAL_DEVICES"


def test_code_62_has_its_4_17_name() -> None:
    """v4.17.0's header calls 62 HAILO_RESERVED_STATUS; from v4.18.0 it is COMMUNICATION_CLOSED."""
    assert status_name(62, (4, 17)) == "HAILO_RESERVED_STATUS"
    assert status_name(62, (4, 18)) == "HAILO_COMMUNICATION_CLOSED"
    assert status_name(62) == "HAILO_COMMUNICATION_CLOSED"


def test_introduced_in_covers_only_codes_after_84() -> None:
    """INTRODUCED_IN lists exactly the codes 85..97 (4.20, 4.21, 5.x)."""
    assert min(INTRODUCED_IN) == 85 and max(INTRODUCED_IN) == 97
    assert INTRODUCED_IN[85] == (4, 20) and INTRODUCED_IN[92] == (4, 21)


def test_unknown_code_still_has_a_name() -> None:
    """A code beyond the table gets HAILO_UNKNOWN_STATUS_<code>, not a KeyError."""
    assert status_name(1234) == "HAILO_UNKNOWN_STATUS_1234"


def test_error_carries_code_name_call_and_a_hint() -> None:
    """HailoRTError keeps code/name/call, starts its message with them and adds the bring-up hint."""
    err = HailoRTError(74, "HAILO_OUT_OF_PHYSICAL_DEVICES", "hailo_create_vdevice")
    assert (err.code, err.name, err.call) == (74, "HAILO_OUT_OF_PHYSICAL_DEVICES", "hailo_create_vdevice")
    text = str(err)
    assert text.startswith("hailo_create_vdevice failed: 74 HAILO_OUT_OF_PHYSICAL_DEVICES")
    assert "lspci" in text  # what to check at the robot
    assert isinstance(err, RuntimeError)


def test_error_detail_and_pickle() -> None:
    """The detail is in the message, and a pickled error comes back with every attribute."""
    err = HailoRTError(13, "HAILO_OPEN_FILE_FAILURE", "hailo_create_hef_file", "/no/such.hef")
    assert "/no/such.hef" in str(err)
    back = pickle.loads(pickle.dumps(err))
    assert (back.code, back.name, back.call, back.detail) == (13, err.name, err.call, err.detail)
    assert str(back) == str(err)


def test_check() -> None:
    """check() passes HAILO_SUCCESS, raises with the version's name for anything else."""
    check(0, "hailo_anything")
    with pytest.raises(HailoRTError) as info:
        check(92, "hailo_create_hef_buffer")
    assert info.value.code == 92 and info.value.name == "HAILO_HEF_NOT_SUPPORTED"
    with pytest.raises(HailoRTError) as info:
        check(36, "hailo_x", (4, 19))
    assert info.value.name == "HAILO_DRIVER_FAIL"


def test_hints_for_the_file_codes_say_what_each_means() -> None:
    """14 (empty file, directory) gets a hint; 92 says any wrong magic (not a HEF at all) as well
    as a too-new HEF, not only a compiler version (DESIGN section 6, hef.cpp at v4.23.0)."""
    fourteen = str(HailoRTError(14, status_name(14), "hailo_create_hef_file", "/x.hef"))
    assert "empty, a directory" in fourteen
    ninety_two = str(HailoRTError(92, status_name(92), "hailo_create_hef_file", "/x.onnx"))
    assert "not a HEF at all" in ninety_two and "newer than the installed HailoRT" in ninety_two
    assert "--hw-arch" in str(HailoRTError(93, status_name(93), "hailo_configure_vdevice"))
