"""The Trace as versioned JSON: how a worker process hands its run back, and how runs are saved.

The mapping is generic, driven by each dataclass's type hints rather than written per class:
dataclass -> object (one key per field), enum -> its value, bytes -> hex string, tuple -> array,
``X | None`` -> null or X, and int/float/str/bool as themselves. Decoding checks every value
against its annotation, so a damaged file fails with the path of the bad value instead of
yielding a Trace that breaks later. The document carries ``version``; versions other than
:data:`READABLE_FORMAT_VERSIONS` are refused (an older one reads with the newer fields empty).

Both directions compile a converter per type once per call (no module-level cache), so a trace
of thousands of packets costs a dictionary lookup per value rather than a type analysis.
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
from drillbook.trace.model import READABLE_FORMAT_VERSIONS, TRACE_FORMAT_VERSION, Trace

T = TypeVar("T")
Converter = Callable[[Any], Any]


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
    if version not in READABLE_FORMAT_VERSIONS:
        readable = ", ".join(map(str, READABLE_FORMAT_VERSIONS))
        raise TraceFormatError(
            f"unsupported trace format version {version!r}: this drillbook reads versions "
            f"{readable}"
        )
    # An older document lacks the newer fields (their defaults apply); it reads as current.
    return from_jsonable(Trace, {**data, "version": TRACE_FORMAT_VERSION})


# -- encoding ----------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """A JSON-ready form of a dataclass tree (see the module docstring for the mapping)."""
    return _Encoder().encode(value)


_PLAIN = (str, int, float, bool, type(None))


class _Encoder:
    """One encoding pass; remembers each dataclass's field names while it runs."""

    def __init__(self) -> None:
        self._fields: dict[type, tuple[str, ...]] = {}

    def encode(self, value: Any) -> Any:
        cls = type(value)
        if cls in _PLAIN:
            return value
        if cls is tuple or cls is list:
            return [self.encode(item) for item in value]
        if cls is bytes or cls is bytearray:
            return value.hex()
        if isinstance(value, enum.Enum):
            return value.value
        names = self._fields.get(cls)
        if names is None:
            if not dataclasses.is_dataclass(value) or isinstance(value, type):
                raise TypeError(f"cannot represent {cls.__name__} in a trace: {value!r}")
            names = self._fields[cls] = tuple(f.name for f in dataclasses.fields(value))
        return {name: self.encode(getattr(value, name)) for name in names}


# -- decoding ----------------------------------------------------------------------------------


def from_jsonable(cls: type[T], data: Any) -> T:
    """Rebuild a ``cls`` dataclass tree from :func:`to_jsonable`'s output, checking types."""
    try:
        return typing.cast(T, _Decoder().converter(cls)(data))
    except _Bad as bad:
        path = cls.__name__ + "".join(reversed(bad.path))
        raise TraceFormatError(f"{path}: {bad.message}") from None


class _Bad(Exception):
    """A value that does not fit; containers add their path segment as it propagates."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


class _Decoder:
    """One decoding pass; compiles one converter per annotation and reuses it."""

    def __init__(self) -> None:
        self._converters: dict[Any, Converter] = {}

    def converter(self, annotation: Any) -> Converter:
        found = self._converters.get(annotation)
        if found is None:
            found = self._converters[annotation] = self._compile(annotation)
        return found

    def _compile(self, annotation: Any) -> Converter:
        origin = typing.get_origin(annotation)
        if origin is typing.Union or origin is types.UnionType:
            return self._union(typing.get_args(annotation))
        if origin is tuple:
            return self._tuple(typing.get_args(annotation))
        if isinstance(annotation, type):
            if dataclasses.is_dataclass(annotation):
                return self._dataclass(annotation)
            if issubclass(annotation, enum.Enum):
                return _enum(annotation)
            scalar = _SCALARS.get(annotation)
            if scalar is not None:
                return scalar
        raise TypeError(f"the trace codec cannot decode values of type {annotation!r}")

    def _dataclass(self, cls: type) -> Converter:
        fields: dict[str, Converter] = {}  # filled on first use: dataclasses may nest

        def convert(data: Any) -> Any:
            if type(data) is not dict:
                raise _Bad(f"expected an object, got {_kind(data)}")
            if not fields:
                hints = typing.get_type_hints(cls)
                for f in dataclasses.fields(cls):
                    if f.init:
                        fields[f.name] = self.converter(hints[f.name])
            kwargs = {}
            for name, value in data.items():
                field_converter = fields.get(name)
                if field_converter is None:
                    raise _Bad(f"unknown field {name!r} in {cls.__name__}")
                try:
                    kwargs[name] = field_converter(value)
                except _Bad as bad:
                    bad.path.append(f".{name}")
                    raise
            try:
                return cls(**kwargs)
            except TypeError as exc:  # a required field is missing
                raise _Bad(str(exc)) from None

        return convert

    def _union(self, arms: tuple[Any, ...]) -> Converter:
        nullable = type(None) in arms
        converters = [self.converter(arm) for arm in arms if arm is not type(None)]

        def convert(data: Any) -> Any:
            if data is None and nullable:
                return None
            failures: list[_Bad] = []
            for arm in converters:
                try:
                    return arm(data)
                except _Bad as bad:
                    failures.append(bad)
            if len(failures) == 1:
                raise failures[0]
            raise _Bad(f"no type fits {_kind(data)}")

        return convert

    def _tuple(self, args: tuple[Any, ...]) -> Converter:
        if len(args) == 2 and args[1] is Ellipsis:
            item = self.converter(args[0])

            def convert_all(data: Any) -> tuple[Any, ...]:
                if type(data) is not list:
                    raise _Bad(f"expected an array, got {_kind(data)}")
                return tuple(_indexed(item, i, value) for i, value in enumerate(data))

            return convert_all
        items = [self.converter(arg) for arg in args]

        def convert_fixed(data: Any) -> tuple[Any, ...]:
            if type(data) is not list:
                raise _Bad(f"expected an array, got {_kind(data)}")
            if len(data) != len(items):
                raise _Bad(f"expected {len(items)} items, got {len(data)}")
            return tuple(
                _indexed(c, i, v) for i, (c, v) in enumerate(zip(items, data, strict=True))
            )

        return convert_fixed


def _indexed(convert: Converter, index: int, value: Any) -> Any:
    try:
        return convert(value)
    except _Bad as bad:
        bad.path.append(f"[{index}]")
        raise


def _enum(cls: type[enum.Enum]) -> Converter:
    def convert(data: Any) -> Any:
        try:
            return cls(data)
        except ValueError:
            raise _Bad(f"{data!r} is not a {cls.__name__}") from None

    return convert


def _bytes(data: Any) -> bytes:
    if type(data) is str:
        try:
            return bytes.fromhex(data)
        except ValueError:
            pass
    raise _Bad(f"expected a hex string, got {_kind(data)}")


def _int(data: Any) -> int:
    if type(data) is not int:  # not bool either: JSON true is no count
        raise _Bad(f"expected int, got {_kind(data)}")
    return data


def _float(data: Any) -> float:
    # JSON has one number type: an integral value is a fine float, a bool is not.
    if type(data) is not float and type(data) is not int:
        raise _Bad(f"expected float, got {_kind(data)}")
    return float(data)


def _plain(cls: type) -> Converter:
    def convert(data: Any) -> Any:
        if type(data) is not cls:
            raise _Bad(f"expected {cls.__name__}, got {_kind(data)}")
        return data

    return convert


_SCALARS: dict[type, Converter] = {
    bytes: _bytes,
    int: _int,
    float: _float,
    str: _plain(str),
    bool: _plain(bool),
}


def _kind(data: Any) -> str:
    return "null" if data is None else f"{type(data).__name__} {data!r}"[:80]
