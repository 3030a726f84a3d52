"""Tokenizer and parser for HBase-shell command lines (never eval; see docs/cli.md).

Accepted grammar (the subset of Ruby the HBase shell's everyday commands use):

    line     := [command] {";" [command]}     # several commands, as Ruby's ";"
                # a command may go on over several lines, as Ruby reads it (unfinished())
    command  := [NAME "="] [NAME "."] NAME [arg {"," arg}]
                # t = get_table 't1' (a table reference), then t.put 'r1', 'cf:q', 'v'

    arg      := value | pairs                 # bare `KEY => v, KEY => v` is one hash
    value    := string | number | true | false | nil | hash | array | NAME
    hash     := "{" [pair {"," pair}] "}"      pair := (NAME | string) "=>" value
    array    := "[" [value {"," value}] "]"

Strings: 'single' (Ruby: only \\' and \\\\ are escapes, so '\\x00' is four characters, exactly as
in HBase's shell) and "double" (\\xHH, \\n, \\t, \\r, \\\\, \\", \\e, octal \\N to \\NNN,
\\uHHHH and \\u{H ...} as UTF-8; as in Ruby, a backslash before any other character is
dropped, "\\q" is "q", and one before a line break drops both). Numbers are
integers (optionally negative, underscores allowed) or decimals. Hash keys that are bare NAMEs
(STARTROW, VERSIONS...) are upper-cased constants as in HBase. Strings come out as `bytes`
(so binary rows round-trip); the command layer decodes names where it needs text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple


class ShellSyntaxError(ValueError):
    """The line is not valid shell syntax; the message points at the column. `at_end`: the
    text ran out where more was expected (the command may go on on the next line)."""

    def __init__(self, message: str, at_end: bool = False):
        super().__init__(message)
        self.at_end = at_end


class Token(NamedTuple):
    kind: str  # STR NUM NAME SYM EOF
    value: object
    pos: int


@dataclass(frozen=True)
class Const:
    """A bare name used as a value (HBase constants such as VERSIONS, or Ruby symbols)."""

    name: str


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_?!]*")
_NUMBER = re.compile(r"-?(?:\d[\d_]*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LINE_END = re.compile(r"\r?(?:\n|$)")
_UNICODE_ESCAPE = re.compile(r"([0-9A-Fa-f]{4})|\{ *((?:[0-9A-Fa-f]{1,6} *)+)\}")
_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39, "e": 27,
                   "a": 7, "b": 8, "f": 12, "v": 11, "s": 32}


def tokenize(line: str, first_line: int = 1) -> list[Token]:
    """The tokens of one command's text, which may span lines (`first_line` numbers them in
    messages)."""
    tokens, cut = _tokenize(line, first_line)
    if isinstance(cut, ShellSyntaxError):
        raise cut
    return tokens


def _tokenize(line: str, first_line: int = 1) -> tuple[list[Token], object]:
    """(tokens, where the text is cut off: None, "\\" when it ends in a backslash, or the
    error of a string it ends inside, whose tokens stop at the string's start) -- Ruby's
    "goes on on the next line"."""
    tokens, i, n = [], 0, len(line)
    cut = None
    while i < n:
        ch = line[i]
        if ch.isspace():
            i += 1
        elif ch == "#":  # a comment, to the end of its line
            end = line.find("\n", i)
            i = n if end < 0 else end
        elif ch == "\\" and _LINE_END.match(line, i + 1):  # Ruby: the line goes on
            i = _LINE_END.match(line, i + 1).end()
            cut = "\\" if i == n else None
        elif ch in "'\"":
            try:
                value, i = _string(line, i, first_line)
            except ShellSyntaxError as exc:
                if not exc.at_end:
                    raise
                cut, n = exc, i  # as in Ruby, the string may go on on the next line
                break
            tokens.append(Token("STR", value, i))
        elif line.startswith("=>", i):
            tokens.append(Token("SYM", "=>", i))
            i += 2
        elif ch in ",{}[]();=.":
            tokens.append(Token("SYM", ch, i))
            i += 1
        elif ch == ":" and i + 1 < n and (line[i + 1].isalpha() or line[i + 1] == "_"):
            m = _NAME.match(line, i + 1)  # Ruby symbol :name -> Const
            tokens.append(Token("NAME", m.group(), i))
            i = m.end()
        elif ch.isdigit() or (ch == "-" and i + 1 < n and line[i + 1].isdigit()):
            m = _NUMBER.match(line, i)
            text = m.group().replace("_", "")
            value = float(text) if any(c in text for c in ".eE") else int(text)
            tokens.append(Token("NUM", value, i))
            i = m.end()
        elif ch.isalpha() or ch == "_":
            m = _NAME.match(line, i)
            tokens.append(Token("NAME", m.group(), i))
            i = m.end()
        else:
            raise ShellSyntaxError(f"unexpected character {ch!r} at {_where(line, i, first_line)}")
    tokens.append(Token("EOF", None, n))
    return tokens, cut


def _where(text: str, pos: int, first_line: int = 1) -> str:
    """Where offset `pos` of a command's text is, for messages: "column 7" in a one-line
    command, "line 3, column 7" in one that spans lines (numbered from `first_line`)."""
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    if "\n" not in text.rstrip("\r\n"):
        return f"column {column}"
    return f"line {first_line + text.count(chr(10), 0, pos)}, column {column}"


def _string(line: str, i: int, first_line: int) -> tuple[bytes, int]:
    quote, start = line[i], i
    out = bytearray()
    i += 1
    n = len(line)
    while i < n:
        ch = line[i]
        if ch == quote:
            return bytes(out), i + 1
        if ch == "\\" and i + 1 < n:
            nxt = line[i + 1]
            if quote == "'":
                if nxt in "'\\":
                    out.append(ord(nxt))
                    i += 2
                    continue
            elif nxt in "xX":
                m = re.match(r"[0-9A-Fa-f]{1,2}", line[i + 2:i + 4])
                if not m:
                    raise ShellSyntaxError(
                        f"bad \\x escape at {_where(line, i, first_line)}: need hex digits")
                out.append(int(m.group(), 16))
                i += 2 + len(m.group())
                continue
            elif nxt in "01234567":  # Ruby's octal: one to three digits ("\1" is \x01)
                digits = re.match(r"[0-7]{1,3}", line[i + 1:i + 4]).group()
                out.append(int(digits, 8) & 0xFF)
                i += 1 + len(digits)
                continue
            elif nxt == "u":  # Ruby's "\u00e9" or "\u{e9 20ac}": the characters' UTF-8
                m = _UNICODE_ESCAPE.match(line, i + 2)
                if not m:
                    raise ShellSyntaxError(
                        f"bad \\u escape at {_where(line, i, first_line)}: need 4 hex digits "
                        "or {hex ...}")
                for code in (m.group(1) or m.group(2)).split():
                    try:
                        out += chr(int(code, 16)).encode("utf-8")
                    except (ValueError, UnicodeEncodeError):
                        raise ShellSyntaxError(
                            f"bad \\u escape at {_where(line, i, first_line)}: {code} is not a "
                            "Unicode character") from None
                i = m.end()
                continue
            elif nxt in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[nxt])
                i += 2
                continue
            elif nxt in "cCM":  # Ruby's control and meta characters: \cx, \C-x, \M-x
                raise ShellSyntaxError(
                    f"unsupported escape \\{nxt} at {_where(line, i, first_line)}: write the "
                    "byte as \\xHH")
            else:  # Ruby: "\q" is "q"; a backslash ending a line joins it to the next
                end = _LINE_END.match(line, i + 1)
                i = end.end() if end and end.end() > i + 1 else i + 1
                continue
        out += ch.encode()
        i += 1
    raise ShellSyntaxError(
        f"unterminated string starting at {_where(line, start, first_line)}", at_end=True)


class Command(NamedTuple):
    name: str
    args: list
    assign: str | None = None  # `t = get_table 't1'`: the variable named
    target: str | None = None  # `t.put ...`: the variable the command is called on


class _Parser:
    def __init__(self, tokens: list[Token], text: str = "", first_line: int = 1):
        self.tokens = tokens
        self.i = 0
        self.text, self.first_line = text, first_line

    def error(self, message: str, tok: Token) -> ShellSyntaxError:
        return ShellSyntaxError(message, at_end=tok.kind == "EOF")

    def where(self, tok: Token) -> str:
        return _where(self.text, tok.pos, self.first_line)

    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, sym: str) -> None:
        tok = self.take()
        if tok.kind != "SYM" or tok.value != sym:
            raise self.error(f"expected {sym!r} at {self.where(tok)}, got {_show(tok)}", tok)

    def at(self, sym: str) -> bool:
        tok = self.peek()
        return tok.kind == "SYM" and tok.value == sym

    def command(self) -> Command | None:
        tok = self.take()
        if tok.kind == "EOF" or (tok.kind == "SYM" and tok.value == ";"):
            return None
        assign = target = None
        if tok.kind == "NAME" and self.at("="):
            self.take()
            assign, tok = tok.value, self.take()
        if tok.kind == "NAME" and self.at("."):
            self.take()
            target, tok = tok.value, self.take()
        if tok.kind != "NAME":
            raise self.error(f"a command must start with a command name, got {_show(tok)}",
                             tok)
        args = []
        paren = self.at("(")
        if paren:
            self.take()
        while not (self.peek().kind == "EOF" or self.at(";") or (paren and self.at(")"))):
            if args:
                self.expect(",")
            args.append(self.arg())
        if paren:
            self.expect(")")
        if self.at(";"):
            self.take()
        elif self.peek().kind != "EOF":
            raise self.error(f"unexpected {_show(self.peek())} at {self.where(self.peek())}",
                             self.peek())
        return Command(tok.value, args, assign, target)

    def commands(self) -> list[Command]:
        out = []
        while self.peek().kind != "EOF":
            cmd = self.command()
            if cmd is not None:
                out.append(cmd)
        return out

    def _pair_ahead(self) -> bool:
        return self.peek(1).kind == "SYM" and self.peek(1).value == "=>" and \
            self.peek().kind in ("NAME", "STR", "NUM")

    def arg(self):
        if self._pair_ahead():  # bare hash: KEY => v, KEY => v (Ruby's trailing hash)
            out = {}
            while True:
                key, value = self.pair()
                out[key] = value
                if self.at(",") and self.peek(1).kind != "EOF" and self._pair_ahead_after_comma():
                    self.take()
                    continue
                return out
        return self.value()

    def _pair_ahead_after_comma(self) -> bool:
        return self.peek(2).kind == "SYM" and self.peek(2).value == "=>"

    def pair(self):
        tok = self.take()
        if tok.kind == "NAME":
            key = tok.value.upper()
        elif tok.kind == "STR":
            key = tok.value.decode(errors="replace")
        elif tok.kind == "NUM":
            key = tok.value
        else:
            raise self.error(f"expected a hash key at {self.where(tok)}, got {_show(tok)}", tok)
        self.expect("=>")
        return key, self.value()

    def value(self):
        tok = self.take()
        if tok.kind in ("STR", "NUM"):
            return tok.value
        if tok.kind == "NAME":
            low = tok.value.lower()
            if low == "true":
                return True
            if low == "false":
                return False
            if low == "nil":
                return None
            return Const(tok.value)
        if tok.kind == "SYM" and tok.value == "{":
            out = {}
            while not self.at("}"):
                if out:
                    self.expect(",")
                    if self.at("}"):
                        break
                key, value = self.pair()
                out[key] = value
            self.expect("}")
            return out
        if tok.kind == "SYM" and tok.value == "[":
            items = []
            while not self.at("]"):
                if items:
                    self.expect(",")
                    if self.at("]"):
                        break
                items.append(self.value())
            self.expect("]")
            return items
        raise self.error(f"expected a value at {self.where(tok)}, got {_show(tok)}", tok)


def _show(tok: Token) -> str:
    if tok.kind == "EOF":
        return "end of line"
    if tok.kind == "STR":
        return f"string {shell_text(tok.value)}"
    return repr(tok.value)


def shell_text(value) -> str:
    """A parsed value written back in shell syntax, for messages: 'x', VERSIONS, true, [1]."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
        if text.isprintable() and "\ufffd" not in text:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02x}"
                             for b in value) + '"'
    if isinstance(value, Const):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, list):
        return "[" + ", ".join(shell_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} => {shell_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def parse(line: str) -> Command | None:
    """A line of one command -> Command(name, args), or None for a blank/comment line."""
    found = parse_line(line)
    if len(found) > 1:
        raise ShellSyntaxError(f"one command expected, got {len(found)}")
    return found[0] if found else None


def parse_line(line: str, first_line: int = 1) -> list[Command]:
    """Every command of a line (separated by ";"), all parsed before any runs. The "line"
    may be a command continued over several lines (`first_line` numbers them in messages)."""
    return _Parser(tokenize(line, first_line), line, first_line).commands()


def unfinished(text: str) -> bool:
    """Whether `text` is a command that goes on on the next line, as Ruby (so HBase's shell)
    reads it: cut off inside a string (which then holds the line break, as HBase's
    `count 't1', FILTER => "` help example has it) or an open {, [ or (, after a ',', '=>'
    or '=', or by a backslash ending the line. Text with an error before its end is
    finished: the error is reported at once, not after the lines that follow were
    swallowed too."""
    try:
        tokens, cut = _tokenize(text)
        _Parser(tokens, text).commands()
    except ShellSyntaxError as exc:
        return exc.at_end
    return cut is not None
