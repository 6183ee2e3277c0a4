#!/usr/bin/env python3
"""Write docs/rules/<type>.md for every rule type from its catalog module, and
docs/input.md from the input contract's model (compiler/input_contract.py).

The catalog module is the single source (schema, meaning, examples); this page is its
readable form. `--check` exits 1 when a page is out of date (run by the tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policypacks import input_contract  # noqa: E402
from policypacks.catalog import RuleType, rule_types  # noqa: E402
from policypacks.schema import MISSING  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


def _cell(value: object) -> str:
    return json.dumps(value, ensure_ascii=False).replace("|", "\\|")


def page(rule_type: RuleType) -> str:
    lines = [f"# Rule type `{rule_type.name}`", "", rule_type.summary, "",
             f"**Violated when** {rule_type.violated_when}", "",
             f"**Conflict key:** {rule_type.key_doc}", "", "## Parameters", "",
             "| parameter | required | default | meaning |", "|---|---|---|---|"]
    for name, spec in rule_type.params.items():
        default = "" if spec.default in (MISSING, None) else f"`{_cell(spec.default)}`"
        lines.append(f"| `{name}` | {'yes' if spec.required else 'no'} | {default} | "
                     f"{rule_type.doc_params.get(name, '')} |")
    lines += ["", "Every rule also takes `id` (required), `enforcement`, `message` and `key` "
              "(see the [pack format](../repository.md)).", ""]
    sample = next((e for e in rule_type.examples if e.expect == "violated"),
                  rule_type.examples[0])
    rule = {"id": f"my-{rule_type.name.replace('_', '-')}", "type": rule_type.name,
            **sample.params}
    lines += ["## In a pack", "", "```yaml", "spec:", "  rules:",
              *("    " + line for line in yaml.safe_dump(
                  [rule], sort_keys=False, allow_unicode=True).splitlines()),
              "```", ""]
    if rule_type.notes:
        lines += ["## Notes", "", rule_type.notes.strip(), ""]
    lines += ["## Examples", "",
              "Each row is run through OPA by `tests/test_rule_catalog.py`.", "",
              "| example | parameters | input | result |", "|---|---|---|---|"]
    for example in rule_type.examples:
        result = example.expect
        if example.obligations is not None:
            result += f", obligations `{_cell(example.obligations)}`"
        lines.append(f"| {example.name} | `{_cell(dict(example.params))}` | "
                     f"`{_cell(dict(example.input))}` | {result} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    check = "--check" in sys.argv
    DOCS.mkdir(parents=True, exist_ok=True)
    stale = []
    pages = {DOCS / f"{name}.md": page(rule_type)
             for name, rule_type in sorted(rule_types().items())}
    pages[DOCS.parent / "input.md"] = input_contract.markdown()
    for target, text in pages.items():
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
        else:
            target.write_text(text)
    if stale:
        print("out of date (run scripts/gen_docs.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
