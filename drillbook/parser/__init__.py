"""packetdrill script text -> :class:`~drillbook.script.model.Script`.

``parse_script`` is the whole front end: tokenise as packetdrill's lexer does (with ``-D``
defines), parse with the grammar in ``packetdrill.lark``, and make packetdrill's parse-time
semantic checks on the way. ``parse_header_options`` is the cheap pre-pass packetdrill makes
to read a script's own ``--flag`` lines before the command line overrides them.
"""

from __future__ import annotations

from collections.abc import Sequence

from drillbook.config import RunConfig
from drillbook.errors import ScriptSyntaxError
from drillbook.options import ArgvFlags, build_config
from drillbook.parser.context import span_of
from drillbook.parser.engine import run_parser
from drillbook.parser.lexer import Lexeme, Tokenizer
from drillbook.script.model import HeaderOption, Script
from drillbook.source import Source, Span

_VALUE_TYPES = {"INTEGER", "WORD", "STRING", "IPV4_ADDR", "IPV6_ADDR", "IPV4", "IPV6"}


def parse_script(text: str, path: str = "<script>", config: RunConfig | None = None) -> Script:
    """Parse a script for the effective ``config`` (its IP mode and ``-D`` defines matter).

    Raises ScriptSyntaxError or ScriptSemanticError (both carry a span, the source and maybe
    a hint); never anything else for any input text.
    """
    config = config or RunConfig()
    source = Source(path, text)
    try:
        return run_parser(
            source, config.ip_mode.wire_is_ipv6, config.define_map, config.psp_udp_port
        )
    except RecursionError:  # pragma: no cover - nesting is bounded; a last line of defence
        raise ScriptSyntaxError(
            "parse error: script nested too deeply", Span.point(1, 1), source
        ) from None


def _option_value(tokens: list[Lexeme]) -> str | None:
    if len(tokens) == 3 and tokens[0].type == "WORD" and tokens[1].type == "EQUAL":
        quote = {"STRING": '"', "BACK_QUOTED": "`"}.get(tokens[2].type, "")
        return f"{tokens[0].value}={quote}{tokens[2].value}{quote}"
    if len(tokens) == 1 and tokens[0].type in _VALUE_TYPES:
        return tokens[0].text if tokens[0].type == "INTEGER" else str(tokens[0].value)
    return None


def parse_header_options(text: str, path: str = "<script>") -> tuple[HeaderOption, ...]:
    """The ``--name[=value]`` lines at the top of a script (stops at the first other token).

    Malformed option lines are left for :func:`parse_script` to report.
    """
    del path  # errors, if any, are reported by the full parse
    tokens: list[Lexeme] = []
    for lexeme in Tokenizer(text):
        if lexeme.type not in ("OPTION", "EQUAL", "WORD", "STRING", "BACK_QUOTED", "INTEGER",
                               "IPV4_ADDR", "IPV6_ADDR", "IPV4", "IPV6"):
            break
        if lexeme.type != "OPTION" and not tokens:
            break
        tokens.append(lexeme)
    options: list[HeaderOption] = []
    index = 0
    while index < len(tokens) and tokens[index].type == "OPTION":
        name = tokens[index]
        end = index + 1
        value: str | None = None
        if end < len(tokens) and tokens[end].type == "EQUAL":
            for size in (3, 1):
                candidate = _option_value(tokens[end + 1 : end + 1 + size])
                if candidate is not None:
                    value, end = candidate, end + 1 + size
                    break
            else:
                break
        options.append(HeaderOption(str(name.value), value, span_of(*tokens[index:end])))
        index = end
    return tuple(options)


def parse_with_flags(
    text: str,
    path: str = "<script>",
    flags: ArgvFlags | Sequence[str] = (),
    base: RunConfig | None = None,
) -> tuple[Script, RunConfig]:
    """Parse as packetdrill does and return the script with its effective configuration.

    Order (packetdrill's): the script's own ``--flag`` lines, then the command line ``flags``
    on top (they win), then the body is parsed with the final configuration, so a header
    ``--define`` or ``--ip_version`` affects the body.
    """
    header = parse_header_options(text, path)
    config = build_config(header, flags, Source(path, text), base)
    return parse_script(text, path, config), config


__all__ = ["parse_header_options", "parse_script", "parse_with_flags"]
