"""The Trace JSON codec: the round-trip law on random traces, versioning, and damaged input."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drillbook.trace import (
    TRACE_FORMAT_VERSION,
    Direction,
    Failure,
    FailureKind,
    Outcome,
    PacketRecord,
    Step,
    StepKind,
    SyscallRecord,
    TcpOptionRecord,
    Trace,
)
from drillbook.trace.codec import (
    TraceFormatError,
    from_jsonable,
    to_jsonable,
    trace_from_json,
    trace_to_json,
)

SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    int: st.integers(-(2**64), 2**64),
    float: st.floats(allow_nan=False, allow_infinity=False),
    str: st.text(max_size=20),
    bool: st.booleans(),
    bytes: st.binary(max_size=40),
}


def strategy_for(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for any type the trace model uses, read from the annotations themselves."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of(*(strategy_for(arm) for arm in typing.get_args(annotation)))
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
        return st.tuples(*(strategy_for(arg) for arg in args))
    if annotation is type(None):
        return st.none()
    if dataclasses.is_dataclass(annotation):
        hints = typing.get_type_hints(annotation)
        fields = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(annotation)}
        return st.builds(annotation, **fields)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(annotation)
    return SCALARS[annotation]


# A trace of another version is refused by design (tested below), so the law holds for ours.
traces = strategy_for(Trace).map(lambda t: dataclasses.replace(t, version=TRACE_FORMAT_VERSION))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces)
def test_from_json_of_to_json_is_identity(trace: Trace) -> None:
    assert trace_from_json(trace_to_json(trace)) == trace


def example_trace() -> Trace:
    syn = PacketRecord(
        direction=Direction.INBOUND,
        time_us=0,
        protocol="tcp",
        summary="S 0:0(0) win 1000 <mss 1000,sackOK,nop,nop>",
        flags="S",
        window=1000,
        options=(TcpOptionRecord("mss", "mss 1000"), TcpOptionRecord("sackOK", "sackOK")),
        raw=b"\x45\x00",
    )
    return Trace(
        script_path="x.pkt",
        script_text="0 < S 0:0(0) win 1000\n",
        ip_mode="ipv4",
        steps=(
            Step(0, 1, StepKind.INBOUND, "0 < S 0:0(0) win 1000", Outcome.OK, 0, 10, actual=syn),
            Step(
                1,
                2,
                StepKind.SYSCALL,
                "+0 accept(3, ..., ...) = 4",
                Outcome.FAILED,
                syscall=SyscallRecord("accept", "accept(3, ..., ...) = 4", 4, -1, 11, "EAGAIN"),
            ),
        ),
        packets=(syn,),
        failure=Failure(FailureKind.SYSCALL, 2, 4, "Expected result 4 but got -1", ("a", "b")),
        started_at=1764000000.123456,
    )


def test_document_shape() -> None:
    document = json.loads(trace_to_json(example_trace()))
    assert next(iter(document)) == "version" and document["version"] == 2
    assert document["packets"][0]["raw"] == "4500"
    assert document["packets"][0]["direction"] == "<"
    assert document["steps"][1]["kind"] == "syscall"
    assert document["failure"]["details"] == ["a", "b"]
    assert trace_from_json(trace_to_json(example_trace())) == example_trace()


def test_indent_is_only_layout() -> None:
    trace = example_trace()
    assert trace_from_json(trace_to_json(trace, indent=2)) == trace
    assert "\n" in trace_to_json(trace, indent=2) and "\n" not in trace_to_json(trace)


def test_a_version_1_document_still_reads() -> None:
    """Format 1 had no kernel evidence: it reads with those fields empty."""
    document = json.loads(trace_to_json(example_trace()))
    for name in ("started_monotonic_ns", "sockets", "counter_samples", "kernel_events",
                 "explanations", "sources"):
        del document[name]
    document["version"] = 1
    trace = trace_from_json(json.dumps(document))
    assert trace == example_trace() and trace.version == TRACE_FORMAT_VERSION == 2


@pytest.mark.parametrize("version", [0, 3, "1", None])
def test_unknown_versions_are_refused(version: object) -> None:
    document = json.loads(trace_to_json(example_trace()))
    document["version"] = version
    with pytest.raises(TraceFormatError, match="unsupported trace format version"):
        trace_from_json(json.dumps(document))


def damaged(edit: Any) -> str:
    document = json.loads(trace_to_json(example_trace()))
    edit(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["packets"][0].update(raw="xyz"), r"Trace.packets\[0\].raw: expected a hex"),
        (lambda d: d["packets"][0].update(direction="<>"), "'<>' is not a Direction"),
        (lambda d: d["steps"][0].update(line="3"), r"Trace.steps\[0\].line: expected int"),
        (lambda d: d["steps"][0].update(line=True), "expected int, got bool"),
        (lambda d: d.update(packets={}), "Trace.packets: expected an array"),
        (lambda d: d.update(colour="red"), "unknown field 'colour'"),
        (lambda d: d.pop("script_path"), "script_path"),
        (lambda d: d["packets"][0].update(sack_blocks=[[1]]), "expected 2 items, got 1"),
        (lambda d: d.update(failure=[]), "Trace.failure"),
    ],
)
def test_damaged_documents_name_the_bad_value(edit: Any, message: str) -> None:
    with pytest.raises(TraceFormatError, match=message):
        trace_from_json(damaged(edit))


def test_not_json_or_not_an_object() -> None:
    with pytest.raises(TraceFormatError, match="not valid JSON"):
        trace_from_json("{")
    with pytest.raises(TraceFormatError, match="must be an object"):
        trace_from_json("[]")


@dataclasses.dataclass(frozen=True)
class Inner:
    blob: bytes
    kind: Direction | None = None


@dataclasses.dataclass(frozen=True)
class Outer:
    items: tuple[Inner, ...]
    pair: tuple[int, str]
    ratio: float = 0.5


def test_generic_mechanism_on_any_dataclass() -> None:
    value = Outer((Inner(b"\x01", Direction.OUTBOUND), Inner(b"")), (3, "x"), 2)
    data = to_jsonable(value)
    assert data == {
        "items": [{"blob": "01", "kind": ">"}, {"blob": "", "kind": None}],
        "pair": [3, "x"],
        "ratio": 2,
    }
    assert from_jsonable(Outer, json.loads(json.dumps(data))) == value
    with pytest.raises(TypeError, match="cannot represent set"):
        to_jsonable(Inner(b"", {1}))  # type: ignore[arg-type]
