"""ctypes binding to HailoRT 4.x (libhailort): no FEAGI knowledge here.

Importing this package loads nothing; `HailoRT()` finds and dlopens libhailort (library.py).

Must not import: engine, ros, cli, genomes, rclpy
"""

from .hailort import (
    ConfiguredNetworkGroup,
    HailoRT,
    Hef,
    InputVStream,
    OutputVStream,
    VDevice,
    VStreamSet,
)
from .infos import NetworkGroupInfo, VStreamInfo, VStreamParams, dequantize
from .library import HailoRTNotFound, HailoRTUnavailable, HailoRTVersionError, Version
from .logpath import default_log_dir, ensure_logger_path
from .resource import HailoRTClosed
from .status import HailoRTError, status_name
from .structs import FormatOrder, FormatType, StreamDirection

__all__ = [
    "ConfiguredNetworkGroup",
    "FormatOrder",
    "FormatType",
    "HailoRT",
    "HailoRTClosed",
    "HailoRTError",
    "HailoRTNotFound",
    "HailoRTUnavailable",
    "HailoRTVersionError",
    "Hef",
    "InputVStream",
    "NetworkGroupInfo",
    "OutputVStream",
    "StreamDirection",
    "VDevice",
    "VStreamInfo",
    "VStreamParams",
    "VStreamSet",
    "Version",
    "default_log_dir",
    "dequantize",
    "ensure_logger_path",
    "status_name",
]
