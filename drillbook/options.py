"""packetdrill's flags (``config.c``): the command line and script header lines -> RunConfig.

packetdrill reads a script's own ``--name[=value]`` lines first, then applies the command line
on top (command line wins), and only then parses the script body with the final
configuration. Names, argument rules and error wording follow ``config.c``; numbers are read
the way C's ``atoi``/``atof`` read them (``"12abc"`` is 12).
"""

from __future__ import annotations

import re
import textwrap
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


@dataclass(frozen=True)
class Flag:
    """One of packetdrill's flags: whether it takes a value, how it changes the configuration,
    and how the command line's help and a ``%%drill`` cell offer it."""

    takes_value: bool
    apply: Applier
    help: str
    metavar: str = "N"  # the value's placeholder in --help
    cell_type: type | None = None  # a %%drill option of this type (switches: bool); None: not


UNUSED = ""  # the help of a flag drillbook accepts for packetdrill's command line, unused


def _value(apply: Applier, help: str, metavar: str = "N", cell: type | None = None) -> Flag:
    return Flag(True, apply, help, metavar, cell)


def _flag(apply: Applier, help: str, cell: bool = False) -> Flag:
    return Flag(False, apply, help, "", bool if cell else None)


# config.c's option table, in its order: the one list of packetdrill's flags (the command line,
# script header lines, drillbook run --help and the %%drill options all read it).
FLAGS: dict[str, Flag] = {
    "ip_version": _value(_field("ip_mode", _ip_version), "the IP mode",
                         "ipv4|ipv4-mapped-ipv6|ipv6"),
    "bind_port": _value(_field("bind_port", _port), "the port the socket binds (default 8080)",
                        cell=int),
    "code_command": _value(_field("code_command"), "the interpreter of %{ }% blocks", "CMD"),
    "code_format": _value(_field("code_format"), "the language of %{ }% blocks", "FMT"),
    "code_sockopt": _value(_field("code_sockopt"), "the socket option %{ }% blocks read",
                           "OPT"),
    "connect_port": _value(_field("connect_port", _port),
                           "the port the socket connects to (default 8080)", cell=int),
    "remote_ip": _value(_field("remote_ip"), "the remote peer's address (default 192.0.2.1)",
                        "A[/len]", str),
    "local_ip": _value(_field("local_ip"),
                       "the kernel's address (default 192.168.0.1, or the ipv6 one)", "A", str),
    "gateway_ip": _value(_field("gateway_ip"), "the gateway address", "A", str),
    "netmask_ip": _value(_field("netmask_ip"), "the netmask (default 255.255.0.0)", "M", str),
    "speed": _value(_field("speed", _speed), "the TUN device's speed in Mbit/s", cell=int),
    "mss": _value(_field("mss", _positive), "MSS hint for GSO inbound packets", cell=int),
    "mtu": _value(_field("mtu", _non_negative), "MTU of the TUN device (default 1500)",
                  cell=int),
    "init_scripts": _value(_field("init_scripts", lambda t: tuple(t.split(","))),
                           "comma-separated shell scripts to run before the script",
                           "CMD[,CMD]", str),
    "tolerance_usecs": _value(_field("tolerance_usecs", _positive),
                              "timing tolerance in microseconds (default 4000)", cell=int),
    "tolerance_percent": _value(_field("tolerance_percent", _percent),
                                "timing tolerance as a percentage of the gap (default 12.5)",
                                "P", float),
    "wire_client": _flag(_switch(wire_client=True, wire_server=False),
                         UNUSED),
    "wire_server": _flag(_switch(wire_server=True, wire_client=False),
                         UNUSED),
    "wire_server_ip": _value(_extra("wire_server_ip"), UNUSED, "H"),
    "wire_server_at": _value(_extra("wire_server_at"), UNUSED, "H"),
    "wire_server_port": _value(_extra("wire_server_port"), UNUSED),
    "wire_client_dev": _value(_extra("wire_client_dev"), UNUSED, "DEV"),
    "wire_server_dev": _value(_extra("wire_server_dev"), UNUSED, "DEV"),
    "so_filename": _value(_extra("so_filename"), UNUSED, "F"),
    "so_flags": _value(_extra("so_flags"), UNUSED, "S"),
    "tcp_ts_ecr_scaled": _flag(_switch(tcp_ts_ecr_scaled=True),
                               "TS ecr values are scaled like TS val", cell=True),
    "tcp_ts_tick_usecs": _value(_field("tcp_ts_tick_usecs", _tick),
                                "the kernel's TS clock tick, to check TS values", cell=int),
    "strict_segments": _flag(_switch(strict_segments=True),
                             "do not aggregate outbound segments (match them one by one)",
                             cell=True),
    "non_fatal": _value(_non_fatal,
                        "report these mismatches as warnings and go on", "packet[,syscall]",
                        str),
    "dry_run": _flag(_switch(dry_run=True), "parse and check, do not run", cell=True),
    "is_anyip": _flag(_switch(is_anyip=True), "the local address is an any-IP route"),
    "send_omit_free": _flag(_switch(send_omit_free=True),
                            "pass MSG_ZEROCOPY buffers without freeing them", cell=True),
    "psp_udp_port": _value(_field("psp_udp_port", _port), "the UDP port of PSP packets"),
    "debug": _flag(lambda config, text: {"debug": config.debug + 1}, "more output"),
    "define": _value(_define, "define a symbol for the script (-D)", "NAME=VALUE"),
    "verbose": _flag(_switch(verbose=True), "print every packet and syscall (-v)", cell=True),
}
_SHORT = {"D": "define", "v": "verbose"}
_PORT_CHECKED = {"wire_server_port"}


def _check_extra(name: str, value: str) -> None:
    if name in _PORT_CHECKED:
        _port(value)


def apply_flag(config: RunConfig, name: str, value: str | None, where: str) -> RunConfig:
    """``config`` with one flag applied; UsageError in packetdrill's words if it is bad."""
    flag = FLAGS[name]
    text = value if flag.takes_value and value else ""
    try:
        _check_extra(name, value or "")
        return config.with_changes(**flag.apply(config, text))
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
            takes_arg = FLAGS[name].takes_value
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
        takes_arg = FLAGS[option.name].takes_value
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


def flags_help() -> str:
    """The flag lines of ``drillbook run --help``, from the table."""
    lines, unused = [], []
    for name, flag in FLAGS.items():
        spelled = f"--{name}={flag.metavar}" if flag.takes_value else f"--{name}"
        if flag.help is UNUSED:
            unused.append(spelled)
        else:
            lines.append(f"  {spelled:<26} {flag.help}")
    lines.append(textwrap.fill("  ".join(unused), 92, initial_indent="  accepted, not used: ",
                               subsequent_indent="    ", break_on_hyphens=False))
    return "\n".join(lines) + "\n"


__all__ = [
    "ArgvFlags",
    "COMMAND_LINE",
    "FLAGS",
    "Flag",
    "flags_help",
    "apply_flag",
    "apply_header",
    "build_config",
    "parse_argv",
]
