"""HailoRT status codes (`hailo_status`) and the exception every failing call raises.

Source: the HAILO_STATUS_VARIABLES list in hailort/libhailort/include/hailo/hailort.h of
hailo-ai/hailort. Codes are append-only across releases and are never reused:

- 0..84 at v4.18.0 (01e4c7f5) and v4.19.0 (3d673252);
- 85..90 added at v4.20.0 (f4c45c48), which also renamed 36 (HAILO_DRIVER_FAIL ->
  HAILO_DRIVER_OPERATION_FAILED) and 64 (HAILO_PCIE_DRIVER_NOT_INSTALLED ->
  HAILO_DRIVER_NOT_INSTALLED), keeping the old names as deprecated macros;
- 91..93 added at v4.21.0 (0df636dc); v4.22.0 (8445792b) and v4.23.0 (08f088d3) end at 93;
- 94..97 from the 5.x line (94 at v5.0.0, 9c5ee4ff; 95..97 in later 5.x commits bbf41f26,
  19b04439); no 4.x library returns them.

v4.17.0 names 62 HAILO_RESERVED_STATUS; v4.18.0 gave it its current name.
"""

from __future__ import annotations

# Newest name for every code. Written from the header facts above.
_NAMES = (
    "HAILO_SUCCESS",  # 0
    "HAILO_UNINITIALIZED",
    "HAILO_INVALID_ARGUMENT",
    "HAILO_OUT_OF_HOST_MEMORY",
    "HAILO_TIMEOUT",
    "HAILO_INSUFFICIENT_BUFFER",  # 5
    "HAILO_INVALID_OPERATION",
    "HAILO_NOT_IMPLEMENTED",
    "HAILO_INTERNAL_FAILURE",
    "HAILO_DATA_ALIGNMENT_FAILURE",
    "HAILO_CHUNK_TOO_LARGE",  # 10
    "HAILO_INVALID_LOGGER_LEVEL",
    "HAILO_CLOSE_FAILURE",
    "HAILO_OPEN_FILE_FAILURE",
    "HAILO_FILE_OPERATION_FAILURE",
    "HAILO_UNSUPPORTED_CONTROL_PROTOCOL_VERSION",  # 15
    "HAILO_UNSUPPORTED_FW_VERSION",
    "HAILO_INVALID_CONTROL_RESPONSE",
    "HAILO_FW_CONTROL_FAILURE",
    "HAILO_ETH_FAILURE",
    "HAILO_ETH_INTERFACE_NOT_FOUND",  # 20
    "HAILO_ETH_RECV_FAILURE",
    "HAILO_ETH_SEND_FAILURE",
    "HAILO_INVALID_FIRMWARE",
    "HAILO_INVALID_CONTEXT_COUNT",
    "HAILO_INVALID_FRAME",  # 25
    "HAILO_INVALID_HEF",
    "HAILO_PCIE_NOT_SUPPORTED_ON_PLATFORM",
    "HAILO_INTERRUPTED_BY_SIGNAL",
    "HAILO_START_VDMA_CHANNEL_FAIL",
    "HAILO_SYNC_VDMA_BUFFER_FAIL",  # 30
    "HAILO_STOP_VDMA_CHANNEL_FAIL",
    "HAILO_CLOSE_VDMA_CHANNEL_FAIL",
    "HAILO_ATR_TABLES_CONF_VALIDATION_FAIL",
    "HAILO_EVENT_CREATE_FAIL",
    "HAILO_READ_EVENT_FAIL",  # 35
    "HAILO_DRIVER_OPERATION_FAILED",
    "HAILO_INVALID_FIRMWARE_MAGIC",
    "HAILO_INVALID_FIRMWARE_CODE_SIZE",
    "HAILO_INVALID_KEY_CERTIFICATE_SIZE",
    "HAILO_INVALID_CONTENT_CERTIFICATE_SIZE",  # 40
    "HAILO_MISMATCHING_FIRMWARE_BUFFER_SIZES",
    "HAILO_INVALID_FIRMWARE_CPU_ID",
    "HAILO_CONTROL_RESPONSE_MD5_MISMATCH",
    "HAILO_GET_CONTROL_RESPONSE_FAIL",
    "HAILO_GET_D2H_EVENT_MESSAGE_FAIL",  # 45
    "HAILO_MUTEX_INIT_FAIL",
    "HAILO_OUT_OF_DESCRIPTORS",
    "HAILO_UNSUPPORTED_OPCODE",
    "HAILO_USER_MODE_RATE_LIMITER_NOT_SUPPORTED",
    "HAILO_RATE_LIMIT_MAXIMUM_BANDWIDTH_EXCEEDED",  # 50
    "HAILO_ANSI_TO_UTF16_CONVERSION_FAILED",
    "HAILO_UTF16_TO_ANSI_CONVERSION_FAILED",
    "HAILO_UNEXPECTED_INTERFACE_INFO_FAILURE",
    "HAILO_UNEXPECTED_ARP_TABLE_FAILURE",
    "HAILO_MAC_ADDRESS_NOT_FOUND",  # 55
    "HAILO_NO_IPV4_INTERFACES_FOUND",
    "HAILO_SHUTDOWN_EVENT_SIGNALED",
    "HAILO_THREAD_ALREADY_ACTIVATED",
    "HAILO_THREAD_NOT_ACTIVATED",
    "HAILO_THREAD_NOT_JOINABLE",  # 60
    "HAILO_NOT_FOUND",
    "HAILO_COMMUNICATION_CLOSED",
    "HAILO_STREAM_ABORT",
    "HAILO_DRIVER_NOT_INSTALLED",
    "HAILO_NOT_AVAILABLE",  # 65
    "HAILO_TRAFFIC_CONTROL_FAILURE",
    "HAILO_INVALID_SECOND_STAGE",
    "HAILO_INVALID_PIPELINE",
    "HAILO_NETWORK_GROUP_NOT_ACTIVATED",
    "HAILO_VSTREAM_PIPELINE_NOT_ACTIVATED",  # 70
    "HAILO_OUT_OF_FW_MEMORY",
    "HAILO_STREAM_NOT_ACTIVATED",
    "HAILO_DEVICE_IN_USE",
    "HAILO_OUT_OF_PHYSICAL_DEVICES",
    "HAILO_INVALID_DEVICE_ARCHITECTURE",  # 75
    "HAILO_INVALID_DRIVER_VERSION",
    "HAILO_RPC_FAILED",
    "HAILO_INVALID_SERVICE_VERSION",
    "HAILO_NOT_SUPPORTED",
    "HAILO_NMS_BURST_INVALID_DATA",  # 80
    "HAILO_OUT_OF_HOST_CMA_MEMORY",
    "HAILO_QUEUE_IS_FULL",
    "HAILO_DMA_MAPPING_ALREADY_EXISTS",
    "HAILO_CANT_MEET_BUFFER_REQUIREMENTS",
    "HAILO_DRIVER_INVALID_RESPONSE",  # 85, new in 4.20
    "HAILO_DRIVER_INVALID_IOCTL",
    "HAILO_DRIVER_TIMEOUT",
    "HAILO_DRIVER_INTERRUPTED",
    "HAILO_CONNECTION_REFUSED",
    "HAILO_DRIVER_WAIT_CANCELED",  # 90
    "HAILO_HEF_FILE_CORRUPTED",  # 91, new in 4.21
    "HAILO_HEF_NOT_SUPPORTED",
    "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE",
    "HAILO_INVALID_HEF_USE",  # 94, 5.x header
    "HAILO_OPERATION_ABORTED",
    "HAILO_DEVICE_NOT_CONNECTED",
    "HAILO_DEVICE_TEMPORARILY_UNAVAILABLE",  # 97
)

#: code -> newest name, 0..97
STATUS_NAMES: dict[int, str] = dict(enumerate(_NAMES))

#: names these codes had up to and including 4.19 (renamed in 4.20)
NAMES_BEFORE_4_20: dict[int, str] = {36: "HAILO_DRIVER_FAIL", 64: "HAILO_PCIE_DRIVER_NOT_INSTALLED"}

#: names these codes had in 4.17 (renamed in 4.18)
NAMES_IN_4_17: dict[int, str] = {62: "HAILO_RESERVED_STATUS"}

#: first (major, minor) whose header defines a code, for codes newer than 4.17
INTRODUCED_IN: dict[int, tuple[int, int]] = {
    **{c: (4, 20) for c in range(85, 91)},
    **{c: (4, 21) for c in range(91, 94)},
    **{c: (5, 0) for c in range(94, 98)},  # 5.x only: the 4.22 and 4.23 headers end at 93
}

HAILO_SUCCESS = 0
HAILO_INVALID_ARGUMENT = 2
HAILO_TIMEOUT = 4
HAILO_INSUFFICIENT_BUFFER = 5
HAILO_INVALID_OPERATION = 6
HAILO_OPEN_FILE_FAILURE = 13
HAILO_FILE_OPERATION_FAILURE = 14
HAILO_INVALID_HEF = 26
HAILO_NOT_FOUND = 61
HAILO_STREAM_ABORT = 63
HAILO_DRIVER_NOT_INSTALLED = 64
HAILO_OUT_OF_PHYSICAL_DEVICES = 74
HAILO_HEF_FILE_CORRUPTED = 91
HAILO_HEF_NOT_SUPPORTED = 92
HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE = 93

# What an engineer at the robot should check first, for the codes a bring-up typically hits.
# The file codes follow what a real libhailort 4.23.0 answers (DESIGN section 6, hef.cpp at
# v4.23.0): 13 when the file cannot be opened, 14 when reading it fails (an empty file, a
# directory), 92 for *any* wrong magic (a file that is not a HEF at all, as well as a HEF of a
# newer format), 91 for a HEF whose content is cut short or damaged.
_HINTS: dict[int, str] = {
    HAILO_OUT_OF_PHYSICAL_DEVICES: "no free Hailo device: check `lspci | grep -i hailo`, that the "
    "hailo_pci driver is loaded (`lsmod | grep hailo`), and that no other process holds the device",
    HAILO_DRIVER_NOT_INSTALLED: "the Hailo PCIe driver is not loaded; install the hailort-pcie-driver "
    "package matching the HailoRT version (Raspberry Pi OS: `sudo apt install hailo-all`) and reboot",
    HAILO_OPEN_FILE_FAILURE: "the file cannot be opened: check the path and permissions",
    HAILO_FILE_OPERATION_FAILURE: "the file cannot be read: it is empty, a directory, or unreadable; "
    "copy the .hef again",
    HAILO_INVALID_HEF: "the HEF is invalid or was compiled for another HailoRT/DFC version",
    HAILO_HEF_FILE_CORRUPTED: "the HEF file is truncated or corrupted",
    HAILO_HEF_NOT_SUPPORTED: "the file is not a HEF this HailoRT can read: either not a HEF at all "
    "(wrong magic: check that the path names the compiled .hef, not the .onnx or .har) or one from "
    "a Dataflow Compiler newer than the installed HailoRT",
    HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE: "the HEF was compiled for another device (Hailo-8 vs "
    "Hailo-8L): compile it with the --hw-arch of this device",
    HAILO_TIMEOUT: "the device did not answer in time",
}


def status_name(code: int, version: tuple[int, int] | None = None) -> str:
    """Name of a `hailo_status` code as spelled by the header of `version` (newest names if None).

    Codes 36 and 64 get their pre-4.20 names for `version` < (4, 20), 62 its 4.17 name for
    `version` < (4, 18); an unknown code gives `HAILO_UNKNOWN_STATUS_<code>`.
    """
    if version is not None and version < (4, 18) and code in NAMES_IN_4_17:
        return NAMES_IN_4_17[code]
    if version is not None and version < (4, 20) and code in NAMES_BEFORE_4_20:
        return NAMES_BEFORE_4_20[code]
    return STATUS_NAMES.get(code, f"HAILO_UNKNOWN_STATUS_{code}")


class HailoRTError(RuntimeError):
    """A libhailort call returned a status other than HAILO_SUCCESS.

    Attributes: `code` (int), `name` (e.g. "HAILO_OUT_OF_PHYSICAL_DEVICES") and `call` (the C
    function, e.g. "hailo_create_vdevice"), so callers can branch on `code` and logs stay readable.
    """

    def __init__(self, code: int, name: str, call: str, detail: str = "") -> None:
        self.code = int(code)
        self.name = name
        self.call = call
        self.detail = detail
        message = f"{call} failed: {self.code} {name}"
        hint = _HINTS.get(self.code)
        if detail:
            message += f" ({detail})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)

    def __reduce__(self):  # keep the attributes when pickled across processes
        return (type(self), (self.code, self.name, self.call, self.detail))


def check(code: int, call: str, version: tuple[int, int] | None = None, detail: str = "") -> None:
    """Raise HailoRTError unless `code` is HAILO_SUCCESS.

    `call` is the C function's name, `version` the library's (major, minor) for the status name,
    `detail` extra context for the message (file name, vstream name).
    """
    if code != HAILO_SUCCESS:
        raise HailoRTError(code, status_name(code, version), call, detail)
