"""attachment: limits on the files an action carries (size, count, type)."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, Str
from . import WITH_ATTACHMENTS, CompileContext, Example, RuleType
from ._common import COUNT, NON_NEGATIVE

MIB = 1_048_576

# One extension, with or without its dot; "" (or ".") stands for "no extension". Only a
# name's last extension is compared, so a listed "tar.gz" can never match (write "gz").
EXTENSION = Str(label="an extension")


def extensions(values: list[str] | None) -> list[str] | None:
    return None if values is None else sorted({v.lower().removeprefix(".") for v in values})


def size_bytes(mib: float | None) -> float | None:
    """MiB in bytes; a whole number of bytes stays an integer."""
    if mib is None:
        return None
    size = mib * MIB
    return int(size) if size == int(size) else size


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    types = params.get("allowed_content_types")
    return {
        "max_size_bytes": size_bytes(params.get("max_size_mb")),
        "blocked_extensions": extensions(params.get("blocked_extensions")),
        "allowed_extensions": extensions(params.get("allowed_extensions")),
        "allowed_content_types": None if types is None else sorted(set(types)),
    }


def _files(*files: dict[str, Any]) -> dict[str, Any]:
    return {"action": {"type": "send_email", "attachments": list(files)}}


RULE_TYPE = RuleType(
    name="attachment",
    fires_on=lambda rule: WITH_ATTACHMENTS,  # it judges the action's `attachments` list
    summary="Limit the files an action carries: size, number, extensions and content types.",
    violated_when=(
        "the action's `attachments` break a limit: more than `max_count` of them, or one "
        "over `max_size_mb` (exactly the limit is allowed), with a blocked extension, an "
        "extension outside `allowed_extensions`, or a content type outside "
        "`allowed_content_types`."
    ),
    params={
        "max_size_mb": Field(NON_NEGATIVE),
        "max_count": Field(COUNT),
        "blocked_extensions": Field(ListOf(EXTENSION)),
        "allowed_extensions": Field(ListOf(EXTENSION)),
        "allowed_content_types": Field(ListOf(Str(non_empty=True))),
    },
    doc_params={
        "max_size_mb": "largest file, in MiB (1,048,576 bytes); fractions allowed",
        "max_count": "most attachments on one action",
        "blocked_extensions": "extensions refused (`exe` or `.exe`; case-insensitive)",
        "allowed_extensions": "if set, the only extensions accepted; `\"\"` admits names "
                              "without one",
        "allowed_content_types": "if set, the only content types accepted "
                                 "(`application/pdf`), compared exactly",
    },
    key_doc="`attachment`",
    conflict_key=lambda p: "attachment",
    compile=_compile,
    notes="""\
The rule applies to any action with an `attachments` list: `[{name, size_bytes,
content_type}]`. A file's extension is the part of its `name` after the last dot,
lowercased (`a.tar.EXE` is `exe`), once trailing dots and spaces are dropped as a file
system drops them (`virus.exe.` and `virus.exe ` are `exe`); a name without a dot has the
extension `""`, which `allowed_extensions` refuses unless it lists `""`. Content types
compare exactly as written.
An attachment without `size_bytes`, `name` or `content_type` skips only the checks that
need it.""",
    examples=[
        Example("small pdf", {"max_size_mb": 10, "allowed_extensions": ["pdf"]},
                _files({"name": "report.pdf", "size_bytes": 2048}), "ok"),
        Example("over the size limit", {"max_size_mb": 10},
                _files({"name": "big.zip", "size_bytes": 10 * MIB + 1}), "violated"),
        Example("exactly the size limit is allowed", {"max_size_mb": 10},
                _files({"name": "big.zip", "size_bytes": 10 * MIB}), "ok"),
        Example("fractional MiB", {"max_size_mb": 0.5},
                _files({"name": "a.png", "size_bytes": MIB // 2 + 1}), "violated"),
        Example("a file without a name is still measured", {"max_size_mb": 1},
                _files({"name": "a.pdf", "size_bytes": 1}, {"size_bytes": MIB + 1}), "violated"),
        Example("too many attachments", {"max_count": 1},
                _files({"name": "a.pdf"}, {"name": "b.pdf"}), "violated"),
        Example("blocked extension, case-insensitive", {"blocked_extensions": [".exe"]},
                _files({"name": "setup.EXE"}), "violated"),
        Example("the last extension counts", {"blocked_extensions": ["exe"]},
                _files({"name": "a.tar.exe"}), "violated"),
        Example("an inner extension does not count", {"blocked_extensions": ["exe"]},
                _files({"name": "a.exe.txt"}), "ok"),
        Example("trailing dots are ignored, as a file system does",
                {"blocked_extensions": ["exe"]}, _files({"name": "virus.exe."}), "violated"),
        Example("trailing spaces and dots are ignored", {"blocked_extensions": ["exe"]},
                _files({"name": "virus.EXE . "}), "violated"),
        Example("a name of dots has no extension", {"allowed_extensions": [""]},
                _files({"name": "..."}), "ok"),
        Example("extension outside allowed_extensions", {"allowed_extensions": ["pdf", "docx"]},
                _files({"name": "a.pdf"}, {"name": "notes.txt"}), "violated"),
        Example("no extension is not allowed", {"allowed_extensions": ["pdf"]},
                _files({"name": "README"}), "violated"),
        Example("no extension admitted by \"\"", {"allowed_extensions": ["pdf", ""]},
                _files({"name": "README"}), "ok"),
        Example("content type outside the allowed ones",
                {"allowed_content_types": ["application/pdf"]},
                _files({"name": "a.pdf", "content_type": "text/html"}), "violated"),
        Example("content types compare exactly", {"allowed_content_types": ["text/plain"]},
                _files({"name": "a.txt", "content_type": "Text/Plain"}), "violated"),
        Example("a listed content type", {"allowed_content_types": ["image/png"]},
                _files({"name": "a.png", "content_type": "image/png"}), "ok"),
        Example("missing fields skip their checks",
                {"max_size_mb": 1, "allowed_extensions": ["pdf"],
                 "allowed_content_types": ["application/pdf"]},
                _files({}), "ok"),
        Example("no attachments, nothing to check", {"max_count": 0},
                {"action": {"type": "send_email"}}, "ok"),
    ],
)
