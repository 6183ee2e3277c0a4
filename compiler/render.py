"""Rendering the fixed Rego templates for one identity.

The templates are fixed modules: the only value they receive is the identity's package
path, and that goes through :func:`rego_ref`, which JSON-encodes any segment that is not
a plain Rego identifier. Everything a pack author writes travels as data instead.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

import jinja2

from .vocabulary import package_segment

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REGO_KEYWORDS = frozenset({
    "as", "contains", "data", "default", "else", "every", "false", "if", "import", "in",
    "input", "not", "null", "package", "some", "true", "with",
})


def rego_ref(segments: list[str]) -> str:
    """A Rego reference from path segments: ``a.b`` or, for other strings, ``a["b"]``."""
    out = segments[0]
    for segment in segments[1:]:
        if IDENTIFIER.match(segment) and segment not in REGO_KEYWORDS:
            out += f".{segment}"
        else:
            out += f"[{json.dumps(segment)}]"
    return out


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["rego_ref"] = rego_ref
    # ASCII-only JSON: OPA reads \uXXXX escapes (surrogate pairs included) exactly, while
    # some raw characters (a byte-order mark) would make the module unparsable.
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=True, sort_keys=True)
    env.filters["rego_set"] = rego_set
    return env


def rego_set(values: list[str]) -> str:
    """A Rego set literal of these strings, each JSON-encoded (``set()`` when empty: ``{}``
    is an empty object)."""
    encoded = sorted(json.dumps(value, ensure_ascii=True) for value in values)
    return "{" + ", ".join(encoded) + "}" if encoded else "set()"


def _load_template(name: str) -> str:
    return resources.files("policypacks.rego_templates").joinpath(name).read_text(encoding="utf-8")


def template_names(folder: str) -> list[str]:
    root = resources.files("policypacks.rego_templates").joinpath(folder)
    return sorted(f"{folder}/{entry.name}" for entry in root.iterdir()
                  if entry.name.endswith(".rego.j2"))


def test_package(identity_id: str) -> str:
    """The package of the generated tests (``policypacks test``): ``policypacks.<id>_test``,
    next to the identity's package, as Regal expects a test package to be named."""
    return rego_ref(["policypacks", f"{package_segment(identity_id)}_test"])


def render(template: str, identity_id: str, **context: object) -> str:
    package = rego_ref(["policypacks", package_segment(identity_id)])
    return environment().get_template(template).render(
        package=package, test_package=test_package(identity_id), **context)


def regal_config(identity_id: str) -> str:
    """Regal's configuration for linting this identity's generated bundle."""
    # Regal matches these as plain dotted paths, even for segments Rego must quote.
    package = f"data.policypacks.{package_segment(identity_id)}"
    return environment().get_template("regal.yaml.j2").render(
        config_ref=f"{package}.config", rules_ref=f"{package}.rules",
        cases_ref=f"data.policypacks_cases.{package_segment(identity_id)}")
