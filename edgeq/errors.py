"""The one error hierarchy of edgeq: every failure a user can fix carries a hint and an exit code.

Exit codes (documented in the README):

====  ===========================================================
0     success
1     unexpected internal error (a bug: please report it with --traceback)
2     usage error (bad flags / arguments)
3     input error: model, data, profile or recipe file is missing or invalid
4     conversion or evaluation failed
5     device error: unreachable, command failed, runtime/delegate missing
6     output error: refusing to overwrite, cannot write
7     partial result: job finished but some variants/devices failed
130   cancelled (Ctrl-C)
====  ===========================================================
"""

from __future__ import annotations

from typing import Any


class ExitStatus:
    OK = 0
    ERROR = 1
    USAGE = 2
    INPUT = 3
    FAILED = 4
    DEVICE = 5
    OUTPUT = 6
    PARTIAL = 7
    CANCELLED = 130


class EdgeqError(Exception):
    """Base of every error a user can act on.

    Args:
        message: what went wrong, one line.
        hint: what to do about it (names the flag, command or file to fix).
    """

    exit_code = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str = "", **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.data = data

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class UsageError(EdgeqError):
    exit_code = ExitStatus.USAGE


class InputError(EdgeqError):
    exit_code = ExitStatus.INPUT


class ModelLoadError(InputError):
    pass


class UnsafeModelError(ModelLoadError):
    pass


class CalibrationDataError(InputError):
    pass


class DatasetError(InputError):
    pass


class ProfileInvalid(InputError):
    pass


class RecipeInvalid(InputError):
    pass


class ResultsFolderError(InputError):
    pass


class ConversionError(EdgeqError):
    exit_code = ExitStatus.FAILED


class EvaluationError(EdgeqError):
    exit_code = ExitStatus.FAILED


class DeviceError(EdgeqError):
    exit_code = ExitStatus.DEVICE


class DeviceUnreachable(DeviceError):
    pass


class DeviceCommandFailed(DeviceError):
    def __init__(self, message: str, *, result: Any = None, hint: str = "", **data: Any) -> None:
        super().__init__(message, hint=hint, **data)
        self.result = result


class RuntimeMissing(DeviceError):
    pass


class DelegateMissing(DeviceError):
    pass


class OutputExists(EdgeqError):
    exit_code = ExitStatus.OUTPUT


class OutputError(EdgeqError):
    exit_code = ExitStatus.OUTPUT


class PartialFailure(EdgeqError):
    """The job produced results but some parts failed; the results are kept."""

    exit_code = ExitStatus.PARTIAL


class Cancelled(EdgeqError):
    exit_code = ExitStatus.CANCELLED

    def __init__(self, message: str = "cancelled", **data: Any) -> None:
        super().__init__(message, hint="", **data)
