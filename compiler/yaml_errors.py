"""YAML syntax errors in words: what is wrong, on which line, and what to do about it.

The parsers' own words (``did not find expected key``) follow in parentheses. libyaml and
PyYAML's pure-Python parser word the same mistake differently; both are recognised.
"""

from __future__ import annotations

import yaml

from .yaml_values import MAX_DEPTH

TABS = "YAML does not allow tabs for indentation; use spaces"


def explain(exc: yaml.YAMLError, text: str, data: bytes | None,
            innermost: int | None = None) -> tuple[int, str]:
    """(line, message) for a parser error. ``data`` is the UTF-8 the C parser read (its
    offsets count bytes), or None for the pure-Python parser (offsets count characters);
    ``innermost`` is the line of the innermost mapping or sequence still open."""
    if isinstance(exc, yaml.reader.ReaderError):
        offset = exc.position
        line = (data.count(b"\n", 0, offset) if data is not None
                else text.count("\n", 0, offset)) + 1
        return line, (f"YAML error: the character #x{exc.character:04x} is not allowed in "
                      "YAML (control characters are not text: is this a binary file?)")
    if not isinstance(exc, yaml.MarkedYAMLError):
        return 1, f"YAML syntax error: {exc}"
    context = exc.context or ""
    problem = exc.problem or ""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    started = exc.context_mark.line + 1 if exc.context_mark else line
    lines = text.splitlines()
    here = lines[line - 1] if 0 < line <= len(lines) else ""
    column = mark.column if mark else 0
    char = here[column] if column < len(here) else ""
    raw = ", ".join(part for part in (context, problem) if part)
    if "nesting depth" in problem:  # libyaml's own limit, met while scanning ahead
        return line, f"YAML limit: nested deeper than {MAX_DEPTH} levels (parser: {raw})"
    hint, line = _hint(context, problem, here, char, line, started, text, exc, innermost)
    return line, f"YAML syntax error: {hint} (parser: {raw})"


def _hint(context: str, problem: str, here: str, char: str, line: int, started: int,
          text: str, exc: yaml.MarkedYAMLError, innermost: int | None) -> tuple[str, int]:
    """The explanation, and the line it is about."""
    indentation = here[:len(here) - len(here.lstrip(" \t"))]
    if "\t" in indentation or "tab" in problem or char == "\t":
        return TABS, line
    if "quoted scalar" in context and ("end of stream" in problem
                                       or "document" in problem):
        quote = _char_at(text, exc.context_mark) or "quote"
        return (f"unclosed quote: the string that starts on this line with {quote} is "
                f"never closed; add the closing {quote}", started)
    if "unknown escape" in problem:
        return ("in double quotes a backslash starts an escape (\\n, \\t, \\\\, \\u00e9); "
                "write regular expressions and other text with backslashes in single "
                "quotes ('\\d+')"), line
    if "Unicode character escape" in problem:
        return ("\\ud800-\\udfff escapes are halves of UTF-16 surrogate pairs, not "
                "characters; write the character itself (or \\U0001f600 for characters "
                "beyond \\uffff)"), line
    if "mapping values are not allowed" in problem:
        missing = _missing_colon(text, line, indentation)
        if missing:
            return missing
        return ("a ': ' where no key can start: if this line is a new key, indent it like "
                "the keys above it; if the ': ' is part of a value, put the value in quotes"
                ), line
    if "could not find expected ':'" in problem:
        return ("this line is neither 'key: value' nor a list item: is a ':' missing after "
                "the key, or does a value that spans lines need quotes?"), started
    if "flow sequence" in context or "flow mapping" in context:
        opening, closing = ("[", "]") if "sequence" in context else ("{", "}")
        return (f"the '{opening}' opened on line {started} is not closed with "
                f"'{closing}', or a ',' is missing between its items"), line
    if "flow node" in context:
        where = f" on line {innermost}" if innermost else ""
        return (f"the '[' or '{{' opened{where} is not closed, or a value is missing after "
                "a ','"), line
    if "block mapping" in context:
        if here.lstrip().startswith("- "):
            return (f"bad indentation: a list item where the mapping of line {started} "
                    "expects a key; indent a key's list items under the key"), line
        return (f"bad indentation, or text after a quoted value: this line does not line "
                f"up with the keys of the mapping that starts on line {started}"), line
    if "block collection" in context or "block sequence" in context:
        return (f"bad indentation: every item of the list that starts on line {started} "
                "starts with '-' at the same indentation"), line
    if "cannot start any token" in problem or "node content" in problem:
        if char in ("@", "`"):
            return (f"'{char}' is reserved in YAML and cannot start a value; put the value "
                    "in quotes"), line
        return f"{char!r} cannot start a value here; put the value in quotes", line
    if "anchor" in context or "alias" in context:
        return ("'&' and '*' start anchors and aliases in YAML; put a value that starts "
                "with them in quotes"), line
    if "tag" in context:
        return "'!' starts a tag in YAML; put a value that starts with '!' in quotes", line
    if "directive" in context or "directive" in problem:
        return ("'%' at the start of a line is a YAML directive; put a value that starts "
                "with '%' in quotes"), line
    if "document start" in problem:
        return ("more content after the document's top-level value; separate documents "
                "with '---'"), line
    return "the YAML is malformed here", line


def _missing_colon(text: str, line: int, indentation: str) -> tuple[str, int] | None:
    """``enforcement block`` followed by ``scope: all``: the parser trips on the second
    line (the first reads as a value running on), but the ':' is missing on the first."""
    lines = text.splitlines()
    previous = line - 2
    while previous >= 0 and (not lines[previous].strip()
                             or lines[previous].lstrip().startswith("#")):
        previous -= 1
    if previous < 0:
        return None
    before = lines[previous]
    stripped = before.strip()
    if (before[:len(before) - len(before.lstrip(" "))] != indentation or ":" in stripped
            or stripped.startswith(("-", "'", '"', "[", "{")) or " " not in stripped):
        return None
    key, _, value = stripped.partition(" ")
    return (f"a ':' is missing after the key on this line: did you mean "
            f"'{key}: {value.strip()}'?"), previous + 1


def _char_at(text: str, mark: yaml.Mark | None) -> str:
    if mark is None:
        return ""
    lines = text.splitlines()
    if mark.line >= len(lines) or mark.column >= len(lines[mark.line]):
        return ""
    return lines[mark.line][mark.column]
