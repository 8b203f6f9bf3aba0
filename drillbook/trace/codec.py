"""The Trace as versioned JSON: how a worker process hands its run back, and how runs are saved.

The mapping is generic, driven by each dataclass's type hints rather than written per class:
dataclass -> object (one key per field), enum -> its value, bytes -> hex string, tuple -> array,
``X | None`` -> null or X, and int/float/str/bool as themselves. Decoding checks every value
against its annotation, so a damaged file fails with the path of the bad value instead of
yielding a Trace that breaks later. The document carries ``version``; any other version than
:data:`TRACE_FORMAT_VERSION` is refused.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from drillbook.errors import DrillbookError
from drillbook.trace.model import TRACE_FORMAT_VERSION, Trace

T = TypeVar("T")


class TraceFormatError(DrillbookError, ValueError):
    """Text that is not a Trace document this version of drillbook can read."""


def trace_to_json(trace: Trace, *, indent: int | None = None) -> str:
    """The trace as a JSON document (``version`` first among its keys)."""
    data = to_jsonable(trace)
    document = {"version": data.pop("version"), **data}
    # ASCII-only output: the text crosses a pipe from the worker and any str (even a lone
    # surrogate from a decoded byte string) must survive the trip.
    return json.dumps(document, indent=indent)


def trace_from_json(text: str) -> Trace:
    """Read a document written by :func:`trace_to_json`; ``TraceFormatError`` if it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"trace is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TraceFormatError("trace JSON must be an object")
    version = data.get("version")
    if version != TRACE_FORMAT_VERSION:
        raise TraceFormatError(
            f"unsupported trace format version {version!r}: this drillbook reads version "
            f"{TRACE_FORMAT_VERSION}"
        )
    return from_jsonable(Trace, data)


# -- the generic mechanism ---------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """A JSON-ready form of a dataclass tree (see the module docstring for the mapping)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot represent {type(value).__name__} in a trace: {value!r}")


def from_jsonable(cls: type[T], data: Any) -> T:
    """Rebuild a ``cls`` dataclass tree from :func:`to_jsonable`'s output, checking types."""
    return typing.cast(T, _Decoder().decode(cls, data, cls.__name__))


class _Decoder:
    """One decoding pass; remembers each dataclass's resolved type hints while it runs."""

    def __init__(self) -> None:
        self._hints: dict[type, dict[str, Any]] = {}

    def decode(self, annotation: Any, data: Any, path: str) -> Any:
        origin = typing.get_origin(annotation)
        if origin is typing.Union or origin is types.UnionType:
            return self._union(annotation, data, path)
        if origin is tuple:
            return self._tuple(annotation, data, path)
        if isinstance(annotation, type):
            if dataclasses.is_dataclass(annotation):
                return self._dataclass(annotation, data, path)
            if issubclass(annotation, enum.Enum):
                return _enum(annotation, data, path)
            return _scalar(annotation, data, path)
        raise TraceFormatError(f"{path}: cannot decode a value of type {annotation!r}")

    def _dataclass(self, cls: type, data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            raise TraceFormatError(f"{path}: expected an object, got {_kind(data)}")
        hints = self._hints.get(cls)
        if hints is None:
            hints = self._hints[cls] = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - names)
        if unknown:
            raise TraceFormatError(f"{path}: unknown field {unknown[0]!r} in {cls.__name__}")
        kwargs = {
            name: self.decode(hints[name], value, f"{path}.{name}") for name, value in data.items()
        }
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise TraceFormatError(f"{path}: {exc}") from None

    def _union(self, annotation: Any, data: Any, path: str) -> Any:
        arms = typing.get_args(annotation)
        if data is None and type(None) in arms:
            return None
        errors = []
        for arm in arms:
            if arm is type(None):
                continue
            try:
                return self.decode(arm, data, path)
            except TraceFormatError as exc:
                errors.append(str(exc))
        raise TraceFormatError(errors[0] if len(errors) == 1 else f"{path}: no type fits {data!r}")

    def _tuple(self, annotation: Any, data: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(data, list):
            raise TraceFormatError(f"{path}: expected an array, got {_kind(data)}")
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(self.decode(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
        if len(args) != len(data):
            raise TraceFormatError(f"{path}: expected {len(args)} items, got {len(data)}")
        return tuple(
            self.decode(arg, item, f"{path}[{i}]")
            for i, (arg, item) in enumerate(zip(args, data, strict=True))
        )


def _enum(cls: type[enum.Enum], data: Any, path: str) -> enum.Enum:
    try:
        return cls(data)
    except ValueError:
        raise TraceFormatError(f"{path}: {data!r} is not a {cls.__name__}") from None


def _bytes(data: Any, path: str) -> bytes:
    if isinstance(data, str):
        try:
            return bytes.fromhex(data)
        except ValueError:
            pass
    raise TraceFormatError(f"{path}: expected a hex string, got {_kind(data)}")


def _number(cls: type, data: Any, path: str) -> Any:
    # JSON has one number type: accept an integral value for float, never a bool for either.
    ok = isinstance(data, int) if cls is int else isinstance(data, int | float)
    if not ok or isinstance(data, bool):
        raise TraceFormatError(f"{path}: expected {cls.__name__}, got {_kind(data)}")
    return cls(data)


def _plain(cls: type, data: Any, path: str) -> Any:
    if type(data) is not cls:
        raise TraceFormatError(f"{path}: expected {cls.__name__}, got {_kind(data)}")
    return data


_SCALARS: dict[type, Callable[[Any, str], Any]] = {
    bytes: _bytes,
    int: lambda data, path: _number(int, data, path),
    float: lambda data, path: _number(float, data, path),
    str: lambda data, path: _plain(str, data, path),
    bool: lambda data, path: _plain(bool, data, path),
}


def _scalar(cls: type, data: Any, path: str) -> Any:
    decode = _SCALARS.get(cls)
    if decode is None:
        raise TraceFormatError(f"{path}: cannot decode a value of type {cls.__name__}")
    return decode(data, path)


def _kind(data: Any) -> str:
    return "null" if data is None else f"{type(data).__name__} {data!r}"[:80]
