"""packetdrill's flags (``config.c``): the command line and script header lines -> RunConfig.

packetdrill reads a script's own ``--name[=value]`` lines first, then applies the command line
on top (command line wins), and only then parses the script body with the final
configuration. Names, argument rules and error wording follow ``config.c``; numbers are read
the way C's ``atoi``/``atof`` read them (``"12abc"`` is 12).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from drillbook.config import IpMode, RunConfig
from drillbook.errors import ScriptSemanticError, UsageError
from drillbook.script.model import HeaderOption
from drillbook.source import Source

COMMAND_LINE = "Command Line"


@dataclass(frozen=True)
class ArgvFlags:
    """A parsed command line: the flags in order (as name/value pairs) and the script paths."""

    flags: tuple[HeaderOption, ...] = ()
    scripts: tuple[str, ...] = ()
    help: bool = False


class _Bad(Exception):
    """A flag value packetdrill refuses; the caller words the message."""


def _atoi(text: str) -> int:
    match = re.match(r"[ \t\n\r\f\v]*([+-]?[0-9]+)", text)
    return int(match.group(1)) if match else 0


def _atof(text: str) -> float:
    match = re.match(r"[ \t\n\r\f\v]*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)", text)
    return float(match.group(1)) if match else 0.0


def _port(text: str) -> int:
    port = _atoi(text)
    if not 0 < port <= 0xFFFF:
        raise _Bad
    return port


def _ip_version(text: str) -> IpMode:
    try:
        return IpMode(text)
    except ValueError:
        raise _Bad from None


def _positive(text: str) -> int:
    value = _atoi(text)
    if value <= 0:
        raise _Bad
    return value


def _non_negative(text: str) -> int:
    value = _atoi(text)
    if value < 0:
        raise _Bad
    return value


def _speed(text: str) -> int:
    if not re.fullmatch(r"[ \t]*\+?[0-9]+", text) or int(text) >= 2**32:
        raise _Bad
    return int(text)


def _percent(text: str) -> float:
    value = _atof(text)
    if not 0.0 <= value <= 100.0:
        raise _Bad
    return value


def _tick(text: str) -> int:
    value = _atoi(text)
    if not 0 <= value <= 1_000_000:
        raise _Bad
    return value


def _non_fatal(config: RunConfig, text: str) -> dict[str, Any]:
    words = set(re.split(r"[, ]+", text))
    return {
        "non_fatal_packet": config.non_fatal_packet or "packet" in words,
        "non_fatal_syscall": config.non_fatal_syscall or "syscall" in words,
    }


def _define(config: RunConfig, text: str) -> dict[str, Any]:
    symbol, equals, value = text.partition("=")
    if not equals or not symbol:
        raise _Bad
    defines = tuple((k, v) for k, v in config.defines if k != symbol) + ((symbol, value),)
    return {"defines": defines}


def _extra(name: str) -> Callable[[RunConfig, str], dict[str, Any]]:
    def apply(config: RunConfig, text: str) -> dict[str, Any]:
        extra = tuple((k, v) for k, v in config.extra if k != name) + ((name, text),)
        changes: dict[str, Any] = {"extra": extra}
        if name in ("wire_server_ip", "wire_server_at"):
            changes["wire_client"] = True
        return changes

    return apply


Applier = Callable[[RunConfig, str], dict[str, Any]]


def _field(name: str, convert: Callable[[str], Any] = str) -> Applier:
    return lambda config, text: {name: convert(text)}


def _switch(**changes: Any) -> Callable[[RunConfig, str], dict[str, Any]]:
    return lambda config, text: dict(changes)


# name -> (takes an argument, how it changes the configuration): config.c's option table.
FLAGS: dict[str, tuple[bool, Applier]] = {
    "ip_version": (True, _field("ip_mode", _ip_version)),
    "bind_port": (True, _field("bind_port", _port)),
    "code_command": (True, _field("code_command")),
    "code_format": (True, _field("code_format")),
    "code_sockopt": (True, _field("code_sockopt")),
    "connect_port": (True, _field("connect_port", _port)),
    "remote_ip": (True, _field("remote_ip")),
    "local_ip": (True, _field("local_ip")),
    "gateway_ip": (True, _field("gateway_ip")),
    "netmask_ip": (True, _field("netmask_ip")),
    "speed": (True, _field("speed", _speed)),
    "mss": (True, _field("mss", _positive)),
    "mtu": (True, _field("mtu", _non_negative)),
    "init_scripts": (True, _field("init_scripts", lambda t: tuple(t.split(",")))),
    "tolerance_usecs": (True, _field("tolerance_usecs", _positive)),
    "tolerance_percent": (True, _field("tolerance_percent", _percent)),
    "wire_client": (False, _switch(wire_client=True, wire_server=False)),
    "wire_server": (False, _switch(wire_server=True, wire_client=False)),
    "wire_server_ip": (True, _extra("wire_server_ip")),
    "wire_server_at": (True, _extra("wire_server_at")),
    "wire_server_port": (True, _extra("wire_server_port")),
    "wire_client_dev": (True, _extra("wire_client_dev")),
    "wire_server_dev": (True, _extra("wire_server_dev")),
    "so_filename": (True, _extra("so_filename")),
    "so_flags": (True, _extra("so_flags")),
    "tcp_ts_ecr_scaled": (False, _switch(tcp_ts_ecr_scaled=True)),
    "tcp_ts_tick_usecs": (True, _field("tcp_ts_tick_usecs", _tick)),
    "strict_segments": (False, _switch(strict_segments=True)),
    "non_fatal": (True, _non_fatal),
    "dry_run": (False, _switch(dry_run=True)),
    "is_anyip": (False, _switch(is_anyip=True)),
    "send_omit_free": (False, _switch(send_omit_free=True)),
    "psp_udp_port": (True, _field("psp_udp_port", _port)),
    "debug": (False, lambda config, text: {"debug": config.debug + 1}),
    "define": (True, _define),
    "verbose": (False, _switch(verbose=True)),
}
_SHORT = {"D": "define", "v": "verbose"}
_PORT_CHECKED = {"wire_server_port"}


def _check_extra(name: str, value: str) -> None:
    if name in _PORT_CHECKED:
        _port(value)


def apply_flag(config: RunConfig, name: str, value: str | None, where: str) -> RunConfig:
    """``config`` with one flag applied; UsageError in packetdrill's words if it is bad."""
    takes_arg, apply = FLAGS[name]
    try:
        _check_extra(name, value or "")
        return config.with_changes(**apply(config, value if takes_arg and value else ""))
    except _Bad:
        if name == "define":
            raise UsageError(f"{where}: bad definition: {value}") from None
        raise UsageError(f"{where}: bad --{name}: {value}") from None


def _resolve_long(name: str) -> str:
    """getopt_long's rule: an exact name, or an unambiguous prefix of one."""
    if name in FLAGS:
        return name
    matches = [flag for flag in FLAGS if flag.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"option '--{name}' is ambiguous: {', '.join(sorted(matches))}")
    raise UsageError(f"unrecognized option '--{name}'")


def parse_argv(argv: list[str]) -> ArgvFlags:
    """Split a command line into flags and script paths (getopt_long rules, ``--`` ends flags).

    Both ``--flag=value`` and ``--flag value``; ``-D X=Y``, ``-DX=Y``, ``-v``; ``-h``/``--help``.
    """
    flags: list[HeaderOption] = []
    scripts: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            scripts.extend(argv[index:])
            break
        if arg in ("-h", "--help"):
            return ArgvFlags(tuple(flags), tuple(scripts), help=True)
        if arg.startswith("--"):
            name, equals, value = arg[2:].partition("=")
            name = _resolve_long(name)
            takes_arg = FLAGS[name][0]
            if takes_arg and not equals:
                if index >= len(argv):
                    raise UsageError(f"option '--{name}' requires an argument")
                value, index = argv[index], index + 1
            elif not takes_arg and equals:
                raise UsageError(f"option '--{name}' doesn't allow an argument")
            flags.append(HeaderOption(name, value if takes_arg else None))
        elif arg.startswith("-") and len(arg) > 1:
            index = _short_flags(arg, argv, index, flags)
        else:
            scripts.append(arg)
    return ArgvFlags(tuple(flags), tuple(scripts))


def _short_flags(arg: str, argv: list[str], index: int, flags: list[HeaderOption]) -> int:
    position = 1
    while position < len(arg):
        letter = arg[position]
        if letter not in _SHORT:
            raise UsageError(f"invalid option -- '{letter}'")
        if letter == "D":
            value = arg[position + 1 :]
            if not value:
                if index >= len(argv):
                    raise UsageError("option requires an argument -- 'D'")
                value, index = argv[index], index + 1
            flags.append(HeaderOption("define", value))
            return index
        flags.append(HeaderOption(_SHORT[letter]))
        position += 1
    return index


def _header_error(option: HeaderOption, message: str, source: Source | None) -> ScriptSemanticError:
    return ScriptSemanticError(message, option.span, source)


def apply_header(
    config: RunConfig, header: tuple[HeaderOption, ...], source: Source | None = None
) -> RunConfig:
    """Apply a script's ``--name[=value]`` lines (exact names, as packetdrill's strcmp)."""
    where = source.path if source else "<script>"
    for option in header:
        if option.name not in FLAGS:
            raise _header_error(option, f"option '{option.name}' unknown", source)
        takes_arg = FLAGS[option.name][0]
        if option.value is not None and not takes_arg:
            raise _header_error(option, f"option '{option.name}' forbids an argument", source)
        if option.value is None and takes_arg:
            raise _header_error(option, f"option '{option.name}' requires an argument", source)
        try:
            config = apply_flag(config, option.name, option.value, where)
        except UsageError as exc:
            raise _header_error(option, str(exc).removeprefix(f"{where}: "), source) from None
    return config


def build_config(
    header: Sequence[HeaderOption],
    argv_flags: ArgvFlags | Sequence[str] = ArgvFlags(),
    source: Source | None = None,
    base: RunConfig | None = None,
) -> RunConfig:
    """The effective configuration: script header lines first, then the command line wins.

    ``argv_flags`` is a parsed command line, or the raw flag strings (then parsed here; any
    script path among them is ignored).
    """
    if not isinstance(argv_flags, ArgvFlags):
        argv_flags = parse_argv(list(argv_flags))
    config = apply_header(base or RunConfig(), tuple(header), source)
    for flag in argv_flags.flags:
        config = apply_flag(config, flag.name, flag.value, COMMAND_LINE)
    return config


__all__ = [
    "ArgvFlags",
    "COMMAND_LINE",
    "FLAGS",
    "apply_flag",
    "apply_header",
    "build_config",
    "parse_argv",
]
