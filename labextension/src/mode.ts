/**
 * packetdrill as a CodeMirror 6 stream language: the same kinds of token as drillbook's
 * Pygments lexer (drillbook/highlight/pygments_lexer.py), from the same vocabulary
 * (src/vocabulary.json, written by `python -m drillbook.highlight.vocabulary`).
 *
 * A stream tokenizer sees one line at a time, so the state carries what spans lines: the
 * magic line of a cell, an open syscall's parentheses, a `%{ }%` block (its Python goes to
 * CodeMirror's legacy Python mode), a backquoted command, a C comment.
 */
import { StreamLanguage, StreamParser, StringStream } from '@codemirror/language';
import { python } from '@codemirror/legacy-modes/mode/python';

import vocabulary from './vocabulary.json';

const PACKET_WORDS = new Set<string>(vocabulary.packetWords);
const TCP_OPTION_WORDS = new Set<string>(vocabulary.tcpOptionWords);
const STRUCT_WORDS = new Set<string>(vocabulary.structWords);

/** Where in a statement the tokenizer is. */
type Place =
  | 'start' // a new statement: a time, an option line, a comment ...
  | 'event' // after a time: a direction, a syscall, a command or a code block
  | 'packet-head' // after a direction: IP info, encapsulation, then the flags
  | 'packet' // the packet's fields
  | 'tcp-options' // inside the packet's < ... >
  | 'arguments' // inside a syscall's parentheses
  | 'result' // after a syscall's ): = value, errno, note
  | 'code' // inside %{ }%
  | 'shell' // inside ` `
  | 'c-comment'; // inside /* */

export interface IDrillState {
  place: Place;
  depth: number; // open parentheses of a syscall's arguments
  ipInfo: boolean; // inside a packet's (tos ...) or [ect0]
  firstLine: boolean; // the cell's first line, which may be the %%drill magic line
  lineStart: boolean; // nothing but spaces read yet on this line
  magicLine: boolean; // on the %%drill line
  after: Place; // where to go back after a C comment
  python: unknown; // the legacy Python mode's state inside %{ }%
}

const NUMBER = /^-?(?:\d+\.(?!\.)\d*|\.\d+|\d+)/;
const TIME = /^(?:\*|\+?(?:\d+\.\d+|\d+\.(?!\.)|\.\d+|\d+)(?:\s*~\s*\+?(?:\d+\.\d+|\d+\.(?!\.)|\.\d+|\d+))?)(?=\s|\.\.\.|$)/;
const IPV4 = /^\d+\.\d+\.\d+\.\d+\b/;
const IPV6 = /^[0-9a-fA-F]*::?[0-9a-fA-F:.]*(?=[\s,)\]>])/;

function value(stream: StringStream): string | null {
  if (stream.match('...')) {
    return 'punctuation';
  }
  if (stream.match(/^"(?:\\.|[^"\\])*"?/)) {
    return 'string';
  }
  if (stream.match(/^0x[0-9a-fA-F]+\b/) || stream.match(IPV4) || stream.match(IPV6)) {
    return 'number';
  }
  if (stream.match(NUMBER)) {
    return 'number';
  }
  return null;
}

function comment(stream: StringStream, state: IDrillState): string | null {
  if (stream.match('//')) {
    stream.skipToEnd();
    return 'comment';
  }
  if (stream.match('/*')) {
    state.after = state.place;
    state.place = 'c-comment';
    return cComment(stream, state);
  }
  return null;
}

function cComment(stream: StringStream, state: IDrillState): string {
  if (stream.skipTo('*/')) {
    stream.match('*/');
    state.place = state.after;
  } else {
    stream.skipToEnd();
  }
  return 'comment';
}

function word(stream: StringStream): string {
  const match = stream.match(/^\w+/) as RegExpMatchArray | null;
  return match ? match[0] : '';
}

function start(stream: StringStream, state: IDrillState): string | null {
  if (stream.match(/^--[\w-]+/)) {
    return 'option';
  }
  return event(stream, state);
}

function event(stream: StringStream, state: IDrillState): string | null {
  if (state.place === 'event' && stream.match(/^[<>](?=\s|$)/)) {
    state.place = 'packet-head';
    return 'direction';
  }
  if (stream.match(/^\.\.\.\s*\+?(?:\d+\.\d+|\d+\.(?!\.)|\.\d+|\d+)/)) {
    return 'time';
  }
  if (stream.match('%{')) {
    state.place = 'code';
    state.python = python.startState ? python.startState(stream.indentUnit) : null;
    return 'code';
  }
  if (stream.eat('`')) {
    state.place = 'shell';
    return 'shell';
  }
  if (stream.match(/^[A-Za-z_]\w*(?=\s*\()/)) {
    state.place = 'arguments';
    state.depth = 0;
    return 'syscall';
  }
  state.place = 'start';
  return value(stream) ?? other(stream);
}

function other(stream: StringStream): string | null {
  if (stream.match(/^[=|~+]/)) {
    return 'operator';
  }
  if (stream.match(/^[(),[\]{}:;]/)) {
    return 'punctuation';
  }
  if (word(stream)) {
    return null;
  }
  stream.next();
  return null;
}

function packetHead(stream: StringStream, state: IDrillState): string | null {
  if (stream.match(/^(?:udp|icmp)(?![\w.])/)) {
    state.place = 'packet';
    return 'field';
  }
  if (stream.match(/^(?:ipv4|ipv6|gre|GREv0|mpls|encap|psp|spi)(?![\w.])/)) {
    return 'field';
  }
  if (stream.match(/^\d+(?=>\d)/)) {
    return 'number';
  }
  if (stream.match(/^(?:[A-Za-z]+\.?|\.|-)(?=\s|$)/)) {
    state.place = 'packet';
    return 'flags';
  }
  return packet(stream, state);
}

function packet(stream: StringStream, state: IDrillState): string | null {
  if (stream.match(/^[([]/)) {
    state.ipInfo = true;
    return 'punctuation';
  }
  if (stream.match(/^[)\]]/)) {
    state.ipInfo = false;
    return 'punctuation';
  }
  if (!state.ipInfo && state.place === 'packet' && stream.eat('<')) {
    state.place = 'tcp-options';
    return 'punctuation';
  }
  if (stream.match(/^\d+(?=:\d+\()/)) {
    return 'number';
  }
  const name = word(stream);
  if (name) {
    return PACKET_WORDS.has(name) ? 'field' : /^\d+$/.test(name) ? 'number' : null;
  }
  if (stream.match(/^[=|>]/)) {
    return 'operator';
  }
  if (stream.match(/^[:,]/)) {
    return 'punctuation';
  }
  return value(stream) ?? (stream.next(), null);
}

function tcpOptions(stream: StringStream, state: IDrillState): string | null {
  if (stream.eat('>')) {
    state.place = 'packet';
    return 'punctuation';
  }
  if (stream.match(/^[,:]/)) {
    return 'punctuation';
  }
  const found = value(stream);
  if (found) {
    return found;
  }
  const name = word(stream);
  if (name) {
    return TCP_OPTION_WORDS.has(name) ? 'tcp-option' : null;
  }
  stream.next();
  return null;
}

function argumentsOf(stream: StringStream, state: IDrillState): string | null {
  if (stream.eat('(')) {
    state.depth += 1;
    return 'punctuation';
  }
  if (stream.eat(')')) {
    state.depth -= 1;
    if (state.depth <= 0) {
      state.place = 'result';
    }
    return 'punctuation';
  }
  if (stream.match(/^[A-Z][A-Z0-9_]*\b/)) {
    return 'constant';
  }
  const found = value(stream);
  if (found) {
    return found;
  }
  const name = word(stream);
  if (name) {
    return STRUCT_WORDS.has(name) ? 'struct' : null;
  }
  if (stream.match(/^[=|]/)) {
    return 'operator';
  }
  stream.next();
  return 'punctuation';
}

function result(stream: StringStream, state: IDrillState): string | null {
  if (stream.eat('=')) {
    return 'operator';
  }
  if (stream.match(/^E[A-Z0-9_]+\b/)) {
    return 'errno';
  }
  if (stream.match(/^\([^)]*\)/)) {
    return 'note';
  }
  if (stream.match(/^[A-Z][A-Z0-9_]*\b/)) {
    return 'constant';
  }
  const found = value(stream);
  if (found) {
    return found;
  }
  if (stream.match(/^[[\]{},|]/)) {
    return 'punctuation';
  }
  state.place = 'start';
  return start(stream, state);
}

function code(stream: StringStream, state: IDrillState): string | null {
  if (stream.match('}%')) {
    state.place = 'start';
    return 'code';
  }
  // The Python mode must not read past the block's end on this line.
  const end = stream.string.indexOf('}%', stream.pos);
  const line = stream.string;
  if (end >= 0) {
    stream.string = line.slice(0, end);
  }
  let style: string | null = null;
  try {
    style = python.token(stream, state.python as never);
  } finally {
    stream.string = line;
  }
  if (stream.pos === stream.start) {
    stream.next();
  }
  return style;
}

function shell(stream: StringStream, state: IDrillState): string {
  if (stream.eat('`')) {
    state.place = 'start';
  } else if (!stream.skipTo('`')) {
    stream.skipToEnd();
  }
  return 'shell';
}

function magic(stream: StringStream, state: IDrillState): string | null {
  if (stream.match(/^%%drill\b/)) {
    return 'magic';
  }
  if (stream.match(/^--?[\w-]+/)) {
    return 'option';
  }
  stream.next();
  return null;
}

export const packetdrillParser: StreamParser<IDrillState> = {
  name: 'packetdrill',
  startState: () => ({
    place: 'start',
    depth: 0,
    ipInfo: false,
    firstLine: true,
    lineStart: true,
    magicLine: false,
    after: 'start',
    python: null
  }),
  copyState: (state: IDrillState) => ({
    ...state,
    python:
      state.python && python.copyState
        ? python.copyState(state.python as never)
        : state.python
  }),
  token(stream: StringStream, state: IDrillState): string | null {
    if (stream.sol()) {
      state.magicLine = state.firstLine && /^\s*%%drill\b/.test(stream.string);
      state.firstLine = false;
      state.lineStart = true;
      if (state.place === 'packet-head' || state.place === 'packet' || state.place === 'tcp-options' || state.place === 'result' || state.place === 'event') {
        state.place = 'start';
        state.ipInfo = false;
      }
    }
    if (state.magicLine) {
      return stream.eatSpace() ? null : magic(stream, state);
    }
    switch (state.place) {
      case 'c-comment':
        return cComment(stream, state);
      case 'code':
        return code(stream, state);
      case 'shell':
        return shell(stream, state);
    }
    if (stream.eatSpace()) {
      return null;
    }
    const atLineStart = state.lineStart;
    state.lineStart = false;
    if (atLineStart && state.place === 'start' && stream.match(TIME)) {
      state.place = 'event';
      return 'time';
    }
    const found = comment(stream, state);
    if (found) {
      return found;
    }
    switch (state.place) {
      case 'packet-head':
        return packetHead(stream, state);
      case 'packet':
        return packet(stream, state);
      case 'tcp-options':
        return tcpOptions(stream, state);
      case 'arguments':
        return argumentsOf(stream, state);
      case 'result':
        return result(stream, state);
      case 'event':
        return event(stream, state);
      default:
        return start(stream, state);
    }
  },
  languageData: { commentTokens: { line: '//', block: { open: '/*', close: '*/' } } }
};

export const packetdrillLanguage = StreamLanguage.define(packetdrillParser);
