"""Syscall arguments: resolving symbols, then reading typed values with packetdrill's checks.

packetdrill evaluates a call's whole argument list before it runs anything (``script.c``):
symbols become integers (``unknown symbol: 'X'`` otherwise), ``A|B`` becomes one integer, and
structs and lists are evaluated member by member. Then each syscall handler reads the shapes it
expects and words mismatches exactly as ``run_system_call.c`` does ("Expected 3 args but got 2",
"Bad type; actual: string expected: integer", "Expected ... or NULL for buffer").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drillbook.script.model import (
    BinaryOrExpr,
    CallExpr,
    EllipsisExpr,
    Expr,
    FieldExpr,
    IntExpr,
    ListExpr,
    OpaqueExpr,
    StringExpr,
    StructExpr,
    SymbolExpr,
)
from drillbook.script.symbols import lookup

INT_MIN = -(2**31)
UINT_MAX = 2**32 - 1


class SyscallFailure(Exception):
    """A runtime error of one syscall; ``str()`` is packetdrill's message after ``call: ``."""


def _symbol(name: str) -> int:
    value = lookup(name)
    if value is None:
        raise SyscallFailure(f"unknown symbol: '{name}'")
    return value


def evaluate(expr: Expr) -> Expr:
    """``expr`` with every symbol and ``|`` resolved to an IntExpr (packetdrill's evaluate())."""
    if isinstance(expr, SymbolExpr):
        return IntExpr(_symbol(expr.name), span=expr.span)
    if isinstance(expr, BinaryOrExpr):
        left, right = evaluate(expr.left), evaluate(expr.right)
        if not isinstance(left, IntExpr):
            raise SyscallFailure("left hand side of | not an integer")
        if not isinstance(right, IntExpr):
            raise SyscallFailure("right hand side of | not an integer")
        return IntExpr(left.value | right.value, span=expr.span)
    if isinstance(expr, ListExpr):
        return ListExpr(tuple(evaluate(item) for item in expr.items), span=expr.span)
    if isinstance(expr, StructExpr):
        return StructExpr(tuple(_evaluate_field(f) for f in expr.fields), span=expr.span)
    if isinstance(expr, CallExpr):
        return CallExpr(expr.function, tuple(evaluate(a) for a in expr.args), span=expr.span)
    return expr


def _evaluate_field(member: FieldExpr) -> FieldExpr:
    size = None if member.size is None else evaluate(member.size)
    return FieldExpr(member.name, evaluate(member.value), size, span=member.span)


# Struct kinds are told apart by their first member's name, as the grammar's keywords do.
_STRUCT_KINDS = {
    "msg_name": "msghdr",
    "cmsg_level": "cmsg",
    "fd": "pollfd",
    "events": "epollev",
    "onoff": "linger",
    "ee_errno": "sock_extended_err",
    "scm_sec": "scm_timestamping",
    "sa_family": "sockaddr_in",
}


def struct_kind(expr: StructExpr) -> str:
    """packetdrill's expression type name for a ``{...}`` value ("iovec", "msghdr", "list"...)."""
    if not expr.fields:
        return "list"
    first = expr.fields[0].name
    if first is None:
        return "iovec" if len(expr.fields) == 2 and isinstance(
            expr.fields[0].value, EllipsisExpr) else "list"
    return _STRUCT_KINDS.get(first, "list")


def type_name(expr: Expr) -> str:
    """The name packetdrill's ``Bad type`` messages use for this kind of value."""
    if isinstance(expr, EllipsisExpr):
        return "ellipsis"
    if isinstance(expr, IntExpr):
        return "integer"
    if isinstance(expr, SymbolExpr):
        return "word"
    if isinstance(expr, StringExpr):
        return "string"
    if isinstance(expr, BinaryOrExpr):
        return "binary_expression"
    if isinstance(expr, ListExpr):
        return "list"
    if isinstance(expr, StructExpr):
        return struct_kind(expr)
    if isinstance(expr, CallExpr):
        return "in6_addr" if expr.function == "inet6_addr" else "integer"
    if isinstance(expr, OpaqueExpr):
        return "mpls_stack" if expr.kind == "mpls" else expr.kind
    return "unknown"


def bad_type(expr: Expr, expected: str) -> SyscallFailure:
    return SyscallFailure(f"Bad type; actual: {type_name(expr)} expected: {expected}")


def get_int(expr: Expr) -> int:
    """An integer of any width (packetdrill's get_s64)."""
    if not isinstance(expr, IntExpr):
        raise bad_type(expr, "integer")
    return expr.value


def get_s32(expr: Expr) -> int:
    """An integer that fits in s32 or u32, as packetdrill's get_s32 checks."""
    value = get_int(expr)
    if value > UINT_MAX or value < INT_MIN:
        raise SyscallFailure(f"Value out of range for 32-bit integer: {value}")
    return value


def get_s8(expr: Expr) -> int:
    value = get_int(expr)
    if value > 255 or value < -128:
        raise SyscallFailure(f"Value out of range for 8-bit integer: {value}")
    return value


def to_c_int(value: int) -> int:
    """A u32/s32 value as the C ``int`` it becomes when stored in one."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


@dataclass(frozen=True)
class Args:
    """An evaluated argument list with packetdrill's typed accessors."""

    items: tuple[Expr, ...]
    # Each argument as a C int when it is an in-range integer, else None: the common case
    # of s32() without re-checking (an Args is built once per spec and reused).
    _ints: tuple[int | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ints = tuple(
            to_c_int(item.value)
            if isinstance(item, IntExpr) and INT_MIN <= item.value <= UINT_MAX else None
            for item in self.items
        )
        object.__setattr__(self, "_ints", ints)

    def count(self, expected: int) -> None:
        if len(self.items) != expected:
            raise SyscallFailure(f"Expected {expected} args but got {len(self.items)}")

    def get(self, index: int) -> Expr:
        if index >= len(self.items):
            raise SyscallFailure("Argument list too short")
        return self.items[index]

    def s32(self, index: int) -> int:
        if index < len(self._ints):
            value = self._ints[index]
            if value is not None:
                return value
        return to_c_int(get_s32(self.get(index)))

    def s64(self, index: int) -> int:
        return get_int(self.get(index))

    def is_ellipsis(self, index: int) -> bool:
        return isinstance(self.get(index), EllipsisExpr)

    def ellipsis(self, index: int) -> None:
        expr = self.get(index)
        if not isinstance(expr, EllipsisExpr):
            raise bad_type(expr, "ellipsis")

    def buffer_is_null(self, index: int) -> bool:
        """``...`` (False: a real buffer) or ``0``/``NULL`` (True); anything else is an error."""
        expr = self.items[index] if index < len(self.items) else None
        if isinstance(expr, EllipsisExpr):
            return False
        if isinstance(expr, IntExpr) and expr.value == 0:
            return True
        raise SyscallFailure("Expected ... or NULL for buffer")

    def bracketed(self, index: int) -> Expr:
        expr = self.get(index)
        if not isinstance(expr, ListExpr):
            raise bad_type(expr, "list")
        if len(expr.items) != 1:
            raise SyscallFailure("Expected [<element>] but got multiple elements")
        return expr.items[0]

    def bracketed_s32(self, index: int) -> int:
        return to_c_int(get_s32(self.bracketed(index)))

    def bracketed_s64(self, index: int) -> int:
        return get_int(self.bracketed(index))


def positional(expr: StructExpr) -> tuple[Expr, ...]:
    """The values of a struct's members in order (for ``{..., len}`` iovecs)."""
    return tuple(member.value for member in expr.fields)


__all__ = [
    "Args",
    "SyscallFailure",
    "bad_type",
    "evaluate",
    "get_int",
    "get_s8",
    "get_s32",
    "positional",
    "struct_kind",
    "to_c_int",
    "type_name",
]
