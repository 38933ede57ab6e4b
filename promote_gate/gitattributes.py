"""Git attributes of paths in a commit's tree, from the commit's own ``.gitattributes`` files.

:class:`Attributes` answers what ``git check-attr`` answers on a checkout of the commit, reading
only the committed ``.gitattributes`` files (never ``$GIT_DIR/info/attributes``, the system file
or ``core.attributesFile``). It is pure: the bytes come from a :data:`Reader` the caller supplies,
so this module never touches git or the disk.

It is a port of git's ``attr.c`` (parsing, the attribute stack, macros) and of ``wildmatch.c``
and ``dir.c``'s ``match_basename``/``match_pathname`` (matching) as git 2.39 has them, and is
tested against real ``git check-attr`` in ``tests/test_gitattributes.py``.

Why matching is hand-rolled rather than ``pathspec``: pathspec's ``GitWildMatchPattern`` turns a
pattern into a Python regular expression. That regex reads ``[[:alpha:]]`` as a plain bracket
expression, rejects a trailing backslash that git accepts, matches characters where git matches
bytes (``caf?`` does not match ``café`` in git), applies a directory pattern to the files below
it, and backtracks exponentially (``*a*a*a…*b`` against a long name takes seconds). A
line-by-line port keeps git's exact results, and its early exits (``WM_ABORT_ALL``,
``WM_ABORT_TO_STARSTAR``).

Decisions, each checked against git:

* Matching is on bytes (paths and patterns encoded as UTF-8 with ``surrogateescape``) and
  case-sensitive, as git is with ``core.ignoreCase=false``. That is git's default on a
  case-sensitive filesystem, and we never read the repository's config.
* A pattern only matches the path itself: ``publish`` does not apply to ``publish/v1/x``, and
  ``publish/`` matches only a path given with a trailing slash (a directory).
* ``[attr]`` macro definitions count only in the top-level file, and the last one wins. A macro
  expands only when it is *set*: ``-binary`` and ``binary=x`` set nothing else.
* Lines git drops are dropped: invalid attribute names (the whole line), negative patterns,
  macros outside the root, and lines of 2048 bytes or more (git 2.39.1+ ignores those too).
* git stops reading a line at a NUL byte, strips a UTF-8 BOM from line 1 and a CR before an LF.

Where the result can differ from a checkout: git reads a checked-out ``.gitattributes`` after
its own checkout conversion, and we read the committed blob. These are the same unless the
file's own attributes rewrite it (``working-tree-encoding``, an ``ident`` ``$Id$`` inside a
pattern, a configured filter). When they differ we give git's ``check-attr --cached`` answer.

Hostile input is bounded, and the ``ValueError`` names the file. A file may be at most
100 KiB and 10,000 lines, a pattern may have 64 ``*`` runs (matching recurses once per run),
and a path may be 4096 bytes. git's matcher, like ours, is still polynomial with a degree the
pattern picks: ``*a*b*c*d*e*z`` against a 400-byte name keeps git itself busy for seconds. So
each lookup also gets a work budget of ``MAX_MATCH_STEPS`` (bytes scanned plus loop steps,
about half a second at most). Legitimate patterns use tens of steps per rule. Going over the
budget raises the error, naming the file and line of the pattern.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Reader = Callable[[str], bytes | None]
"""Repository-relative POSIX path -> the bytes of that blob in the commit, or None if absent.

For a symlink, return the blob (its target text): git on a checkout refuses to follow an
in-tree ``.gitattributes`` symlink and falls back to the index blob, which is that text.
"""

BYTE_CHANGING = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")

MAX_FILE_BYTES = 100 * 1024
MAX_LINES = 10_000
MAX_STAR_RUNS = 64
MAX_PATH_BYTES = 4096
MAX_MATCH_STEPS = 1_000_000
_MAX_LINE_LENGTH = 2048  # git's ATTR_MAX_LINE_LENGTH: longer lines are ignored with a warning

_GITATTRIBUTES = ".gitattributes"
_MACRO_PREFIX = b"[attr]"
_BUILTIN = (b"[attr]binary -diff -merge -text",)
_BLANK = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_GLOB_SPECIAL = b"*?[\\"
_ATTR_NAME = re.compile(r"[A-Za-z0-9_.][-A-Za-z0-9_.]*\Z")
_STAR_RUN = re.compile(rb"\*+")


class _State(enum.Enum):
    SET = "set"
    UNSET = "unset"
    UNSPECIFIED = "unspecified"  # "!name": known, so shallower lines cannot set it


_Value = _State | str
_Assignments = tuple[tuple[str, _Value], ...]


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A pattern as ``dir.c``'s ``parse_path_pattern`` leaves it (no "!", no trailing "/")."""

    text: bytes
    nowildcardlen: int
    must_be_dir: bool
    no_dir: bool
    ends_with: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: _Pattern
    assignments: _Assignments
    source: str
    lineno: int


@dataclass(frozen=True, slots=True)
class _File:
    rules: tuple[_Rule, ...]
    macros: tuple[tuple[str, _Assignments], ...]


class Attributes:
    """Git attributes of paths in one commit, read lazily through ``read``."""

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._files: dict[str, _File] = {}
        self._macros: dict[str, _Assignments] | None = None

    def lookup(self, path: str, names: Iterable[str] = BYTE_CHANGING) -> dict[str, str]:
        """The effective value of each attribute for ``path``, as `git check-attr` prints it:
        'set', 'unset', 'unspecified', or the value string (e.g. 'crlf', 'auto', 'lfs')."""
        if isinstance(names, str):
            raise TypeError("names must be an iterable of attribute names, not one string")
        wanted = tuple(names)
        for name in wanted:
            if not _ATTR_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid attribute name")
        raw = _encode_path(path)
        # git's collect_some_attrs: a trailing slash (a directory) is not a separator
        last_slash = raw.rfind(b"/", 0, len(raw) - 1)
        basename_offset = last_slash + 1
        bases = [b""]
        if last_slash > 0:
            parts = raw[:last_slash].split(b"/")
            bases += [b"/".join(parts[: depth + 1]) for depth in range(len(parts))]
        macros = self._macro_table()
        values: dict[str, _Value] = {}
        budget = _Budget(MAX_MATCH_STEPS)
        for base in reversed(bases):  # deeper files first: the first value found wins
            directory = base.decode("utf-8", "surrogateescape")
            for rule in reversed(self._file(directory).rules):
                try:
                    matched = _path_matches(raw, basename_offset, rule.pattern, base, budget)
                except _OverBudgetError:
                    raise ValueError(
                        f"{rule.source}:{rule.lineno}: matching {path!r} took over {MAX_MATCH_STEPS} steps; "
                        "refusing .gitattributes patterns this expensive"
                    ) from None
                if matched:
                    _fill(values, rule.assignments, macros)
        return {name: _show(values.get(name, _State.UNSPECIFIED)) for name in wanted}

    def _file(self, directory: str) -> _File:
        cached = self._files.get(directory)
        if cached is None:
            source = f"{directory}/{_GITATTRIBUTES}" if directory else _GITATTRIBUTES
            data = self._read(source)
            cached = _File((), ()) if data is None else _parse_file(source, data, not directory)
            self._files[directory] = cached
        return cached

    def _macro_table(self) -> dict[str, _Assignments]:
        # determine_macros: built-in first, then the root file; a later definition wins
        if self._macros is None:
            builtin = _parse_lines("[builtin]", _BUILTIN, macro_ok=True)
            self._macros = dict(builtin.macros + self._file("").macros)
        return self._macros


def _show(value: _Value) -> str:
    return value.value if isinstance(value, _State) else value


def _encode_path(path: str) -> bytes:
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise ValueError(f"path {path!r} cannot be encoded as UTF-8") from exc
    if len(raw) > MAX_PATH_BYTES:
        raise ValueError(f"path {path[:80]!r}... is longer than {MAX_PATH_BYTES} bytes")
    parts = raw.split(b"/")
    if parts[-1] == b"" and len(parts) > 1:
        parts.pop()  # "dir/" asks about a directory, as git check-attr allows
    if b"\0" in raw or any(part in (b"", b".", b"..") for part in parts):
        raise ValueError(f"{path!r} is not a normalised repository-relative path")
    return raw


def _fill(
    values: dict[str, _Value], assignments: _Assignments, macros: dict[str, _Assignments]
) -> None:
    """attr.c's fill_one: the first value found wins; a macro that gets set expands in place.

    Iterative, because a chain of macros in a hostile file may be thousands deep."""
    stack = [iter(reversed(assignments))]
    while stack:
        for name, value in stack[-1]:
            if name in values:
                continue
            values[name] = value
            expansion = macros.get(name) if value is _State.SET else None
            if expansion is not None:
                stack.append(iter(reversed(expansion)))
                break
        else:
            stack.pop()


# --- parsing (attr.c) ---------------------------------------------------------------------------


def _parse_file(source: str, data: bytes, macro_ok: bool) -> _File:
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(
            f"{source} is {len(data)} bytes; a .gitattributes file may be at most {MAX_FILE_BYTES} bytes"
        )
    lines = data.split(b"\n")
    ends_in_lf = lines[-1] == b""
    if ends_in_lf:
        lines.pop()  # strbuf_getline: a final LF does not start another line
    if len(lines) > MAX_LINES:
        raise ValueError(
            f"{source} has {len(lines)} lines; a .gitattributes file may have at most {MAX_LINES}"
        )
    for index in range(len(lines)):
        if index < len(lines) - 1 or ends_in_lf:
            lines[index] = lines[index].removesuffix(b"\r")  # strbuf_getline strips CR before LF
    if lines and lines[0].startswith(_BOM):
        lines[0] = lines[0][len(_BOM) :]
    return _parse_lines(source, lines, macro_ok=macro_ok)


def _parse_lines(source: str, lines: Iterable[bytes], *, macro_ok: bool) -> _File:
    rules: list[_Rule] = []
    macros: list[tuple[str, _Assignments]] = []
    for lineno, whole in enumerate(lines, 1):
        line = whole.split(b"\0", 1)[0]  # git handles each line as a C string
        if len(line) >= _MAX_LINE_LENGTH:
            continue
        parsed = _parse_line(line, macro_ok=macro_ok)
        if parsed is None:
            continue
        target, assignments = parsed
        if isinstance(target, str):
            macros.append((target, assignments))
            continue
        runs = len(_STAR_RUN.findall(target))
        if runs > MAX_STAR_RUNS:
            raise ValueError(
                f"{source}:{lineno}: a pattern with {runs} '*' wildcards; at most {MAX_STAR_RUNS} are allowed"
            )
        pattern = _parse_pattern(target)
        if pattern is not None:
            rules.append(_Rule(pattern, assignments, source, lineno))
    return _File(tuple(rules), tuple(macros))


def _span(data: bytes, start: int, chars: bytes) -> int:
    """strspn from ``start``: the index of the first byte not in ``chars``."""
    end = start
    while end < len(data) and data[end] in chars:
        end += 1
    return end


def _cspan(data: bytes, start: int, chars: bytes) -> int:
    """strcspn from ``start``: the index of the first byte in ``chars``."""
    end = start
    while end < len(data) and data[end] not in chars:
        end += 1
    return end


def _parse_line(line: bytes, *, macro_ok: bool) -> tuple[bytes | str, _Assignments] | None:
    """parse_attr_line: (pattern bytes or macro name, assignments), or None for a dropped line."""
    start = _span(line, 0, _BLANK)
    if start == len(line) or line[start] == ord("#"):
        return None
    unquoted = _unquote_c_style(line, start) if line[start] == ord('"') else None
    if unquoted is not None:
        name, states = unquoted
    else:
        states = _cspan(line, start, _BLANK)
        name = line[start:states]
    macro: str | None = None
    if len(name) > len(_MACRO_PREFIX) and name.startswith(_MACRO_PREFIX):
        if not macro_ok:
            return None  # "[attr]x not allowed" outside the top-level file
        rest = name[len(_MACRO_PREFIX) :].split(b"\0", 1)[0]
        begin = _span(rest, 0, _BLANK)
        macro = rest[begin : _cspan(rest, begin, _BLANK)].decode("ascii", "replace")
        if not _ATTR_NAME.match(macro):
            return None
    assignments: list[tuple[str, _Value]] = []
    cursor = _span(line, states, _BLANK)
    while cursor < len(line):
        end = _cspan(line, cursor, _BLANK)
        token = line[cursor:end]
        key, equals, setto = token.partition(b"=")
        value: _Value
        if key[:1] in (b"-", b"!"):
            value = _State.UNSET if key[:1] == b"-" else _State.UNSPECIFIED
            key = key[1:]
        elif not equals:
            value = _State.SET
        else:
            value = setto.decode("utf-8", "surrogateescape")
        attr = key.decode("ascii", "replace")
        if not _ATTR_NAME.match(attr):
            return None  # git drops the whole line
        assignments.append((attr, value))
        cursor = _span(line, end, _BLANK)
    if macro is not None:
        return macro, tuple(assignments)
    return name.split(b"\0", 1)[0], tuple(assignments)


_ESCAPES = {
    ord("a"): 7,
    ord("b"): 8,
    ord("f"): 12,
    ord("n"): 10,
    ord("r"): 13,
    ord("t"): 9,
    ord("v"): 11,
    ord("\\"): ord("\\"),
    ord('"'): ord('"'),
}


def _unquote_c_style(line: bytes, start: int) -> tuple[bytes, int] | None:
    """quote.c's unquote_c_style from the opening quote: (text, index after the closing quote)."""
    out = bytearray()
    pos = start + 1
    while pos < len(line):
        ch = line[pos]
        pos += 1
        if ch == ord('"'):
            return bytes(out), pos
        if ch != ord("\\"):
            out.append(ch)
            continue
        if pos >= len(line):
            return None
        esc = line[pos]
        pos += 1
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
        elif ord("0") <= esc <= ord("3"):
            digits = line[pos : pos + 2]
            if len(digits) < 2 or not all(ord("0") <= d <= ord("7") for d in digits):
                return None
            out.append(((esc - 48) << 6) | ((digits[0] - 48) << 3) | (digits[1] - 48))
            pos += 2
        else:
            return None
    return None


def _simple_length(pattern: bytes) -> int:
    for index, ch in enumerate(pattern):
        if ch in _GLOB_SPECIAL:
            return index
    return len(pattern)


def _parse_pattern(pattern: bytes) -> _Pattern | None:
    """dir.c's parse_path_pattern; None for a negative pattern, which git ignores."""
    if pattern.startswith(b"!"):
        return None
    length = len(pattern)
    must_be_dir = length > 0 and pattern[-1] == ord("/")
    if must_be_dir:
        length -= 1
    text = pattern[:length]
    return _Pattern(
        text=text,
        nowildcardlen=min(_simple_length(pattern), length),
        must_be_dir=must_be_dir,
        no_dir=b"/" not in text,
        ends_with=pattern[:1] == b"*" and _simple_length(pattern[1:]) == len(pattern) - 1,
    )


# --- matching (attr.c path_matches, dir.c match_basename/match_pathname) ------------------------


def _path_matches(
    path: bytes, basename_offset: int, pat: _Pattern, base: bytes, budget: _Budget
) -> bool:
    isdir = path.endswith(b"/")
    if pat.must_be_dir and not isdir:
        return False
    end = len(path) - isdir
    if pat.no_dir:
        return _match_basename(path[basename_offset:end], pat, budget)
    return _match_pathname(path[:end], base, pat, budget)


def _match_basename(basename: bytes, pat: _Pattern, budget: _Budget) -> bool:
    text = pat.text
    if pat.nowildcardlen == len(text):
        return basename == text
    if pat.ends_with:
        return basename.endswith(text[1:])
    return _dowild(text, 0, basename, 0, False, budget) == _MATCH


def _match_pathname(path: bytes, base: bytes, pat: _Pattern, budget: _Budget) -> bool:
    pattern = pat.text
    prefix = pat.nowildcardlen
    if pattern.startswith(b"/"):
        pattern = pattern[1:]
        prefix -= 1
    if len(path) < len(base) + 1 or (base and path[len(base)] != ord("/")):
        return False
    if not path.startswith(base):
        return False
    name = path[len(base) + 1 :] if base else path
    if prefix:
        if prefix > len(name) or pattern[:prefix] != name[:prefix]:
            return False
        pattern = pattern[prefix:]
        name = name[prefix:]
        if not pattern and not name:
            return True
    return _dowild(pattern, 0, name, 0, True, budget) == _MATCH


# --- wildmatch.c --------------------------------------------------------------------------------

_MATCH = 0
_NOMATCH = 1
_ABORT_ALL = -1
_ABORT_TO_STARSTAR = -2

_STAR, _QUESTION, _BRACKET, _BACKSLASH, _SLASH = b"*?[\\/"
_CLOSE, _COLON, _BANG, _CARET, _DASH = b"]:!^-"


class _OverBudgetError(Exception):
    pass


class _Budget:
    """Work left for one lookup: git's matcher is polynomial of a degree the pattern chooses."""

    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise _OverBudgetError


def _at(data: bytes, index: int) -> int:
    """``data[index]``, or 0 past the end (the C string's NUL)."""
    return data[index] if index < len(data) else 0


def _in_class(name: bytes, ch: int) -> bool | None:
    """A POSIX class by git's ASCII-only ctype; None for an unknown class name."""
    c = chr(ch) if ch < 128 else ""
    alpha = c.isascii() and c.isalpha()
    digit = "0" <= c <= "9"
    classes = {
        b"alnum": alpha or digit,
        b"alpha": alpha,
        b"blank": c in (" ", "\t"),
        b"cntrl": ch < 32 or ch == 127,
        b"digit": digit,
        b"graph": 0x21 <= ch <= 0x7E,
        b"lower": "a" <= c <= "z",
        b"print": 0x20 <= ch <= 0x7E,
        b"punct": 0x21 <= ch <= 0x7E and not alpha and not digit,
        b"space": c in (" ", "\t", "\n", "\r"),  # git's isspace: no \v, no \f
        b"upper": "A" <= c <= "Z",
        b"xdigit": digit or "a" <= c.lower() <= "f",
    }
    return classes.get(name)


def _dowild(pat: bytes, p: int, text: bytes, t: int, pathname: bool, budget: _Budget) -> int:
    """wildmatch.c's dowild (without WM_CASEFOLD); indices stand for its pointers."""
    start = p
    while (p_ch := _at(pat, p)) != 0:
        budget.spend(1)
        t_ch = _at(text, t)
        if t_ch == 0 and p_ch != _STAR:
            return _ABORT_ALL
        if p_ch == _BACKSLASH:
            p += 1
            if t_ch != _at(pat, p):
                return _NOMATCH
        elif p_ch == _QUESTION:
            if pathname and t_ch == _SLASH:
                return _NOMATCH
        elif p_ch == _STAR:
            p += 1
            if _at(pat, p) == _STAR:
                prev_p = p - 2
                while _at(pat, p) == _STAR:
                    p += 1
                nxt = _at(pat, p)
                if not pathname:
                    match_slash = True
                elif (prev_p < start or pat[prev_p] == _SLASH) and (
                    nxt in (0, _SLASH) or (nxt == _BACKSLASH and _at(pat, p + 1) == _SLASH)
                ):
                    # "**/" may match no directory at all: "a/**/b" matches "a/b"
                    if nxt == _SLASH and _dowild(pat, p + 1, text, t, pathname, budget) == _MATCH:
                        return _MATCH
                    match_slash = True
                else:
                    match_slash = False
            else:
                match_slash = not pathname
            nxt = _at(pat, p)
            if nxt == 0:
                # a trailing "**" matches everything, a trailing "*" only up to a slash
                budget.spend(len(text) - t)
                return _NOMATCH if not match_slash and text.find(b"/", t) >= 0 else _MATCH
            if not match_slash and nxt == _SLASH:
                slash = text.find(b"/", t)
                budget.spend((slash if slash >= 0 else len(text)) - t)
                if slash < 0:
                    return _NOMATCH
                t = slash  # the slash is consumed with the pattern's below
            else:
                return _star_loop(pat, p, text, t, pathname, budget, match_slash)
        elif p_ch == _BRACKET:
            result, end = _bracket(pat, p, t_ch)
            budget.spend(end - p)
            if result != _MATCH:
                return result
            if pathname and t_ch == _SLASH:
                return _NOMATCH
            p = end
        elif t_ch != p_ch:
            return _NOMATCH
        t += 1
        p += 1
    return _NOMATCH if t < len(text) else _MATCH


def _star_loop(
    pat: bytes, p: int, text: bytes, t: int, pathname: bool, budget: _Budget, match_slash: bool
) -> int:
    """The loop of dowild's "*" case: try the rest of the pattern at each place in the text."""
    literal = _at(pat, p)
    fast = literal not in _GLOB_SPECIAL
    while t < len(text):
        budget.spend(1)
        if fast:
            # Advance straight to the literal after the star: what lies before it is the star's.
            # A star that cannot match "/" stops at the next one.
            limit = len(text)
            if not match_slash:
                slash = text.find(b"/", t)
                limit = slash if slash >= 0 else limit
            found = text.find(bytes((literal,)), t, limit)
            budget.spend((found if found >= 0 else limit) - t)
            if found < 0:
                return _NOMATCH
            t = found
        matched = _dowild(pat, p, text, t, pathname, budget)
        if matched != _NOMATCH:
            if not match_slash or matched != _ABORT_TO_STARSTAR:
                return matched
        elif not match_slash and text[t] == _SLASH:
            return _ABORT_TO_STARSTAR
        t += 1
    return _ABORT_ALL


def _bracket(pat: bytes, p: int, t_ch: int) -> tuple[int, int]:
    """The "[" case of dowild from ``p`` at the "[": (_MATCH or a failure, index of the "]")."""
    p += 1
    p_ch = _at(pat, p)
    if p_ch == _CARET:
        p_ch = _BANG
    negated = p_ch == _BANG
    if negated:
        p += 1
        p_ch = _at(pat, p)
    prev_ch = 0
    matched = False
    while True:
        if not p_ch:
            return _ABORT_ALL, p
        if p_ch == _BACKSLASH:
            p += 1
            p_ch = _at(pat, p)
            if not p_ch:
                return _ABORT_ALL, p
            matched = matched or t_ch == p_ch
        elif p_ch == _DASH and prev_ch and _at(pat, p + 1) not in (0, _CLOSE):
            p += 1
            p_ch = _at(pat, p)
            if p_ch == _BACKSLASH:
                p += 1
                p_ch = _at(pat, p)
                if not p_ch:
                    return _ABORT_ALL, p
            matched = matched or prev_ch <= t_ch <= p_ch
            p_ch = 0  # so that prev_ch becomes 0
        elif p_ch == _BRACKET and _at(pat, p + 1) == _COLON:
            p += 2
            s = p
            while (p_ch := _at(pat, p)) != 0 and p_ch != _CLOSE:
                p += 1
            if not p_ch:
                return _ABORT_ALL, p
            if p - s - 1 < 0 or pat[p - 1] != _COLON:
                # no ":]": an ordinary "[" in the set
                p = s - 2
                p_ch = _BRACKET
                matched = matched or t_ch == p_ch
            else:
                inside = _in_class(pat[s : p - 1], t_ch)
                if inside is None:
                    return _ABORT_ALL, p  # malformed [:class:]
                matched = matched or inside
                p_ch = 0
        else:
            matched = matched or t_ch == p_ch
        prev_ch = p_ch
        p += 1
        p_ch = _at(pat, p)
        if p_ch == _CLOSE:
            break
    if matched == negated:
        return _NOMATCH, p
    return _MATCH, p
