"""Write the JSON Schemas (policypacks.json_schema) to the two places they are shipped:
compiler/schemas/ (package data) and docs/schema/. tests/test_schema_files.py fails
when either is stale; run `.venv/bin/python scripts/gen_schema.py` after changing a
schema, a kind or a rule type's parameters."""

from __future__ import annotations

from pathlib import Path

from policypacks.json_schema import rendered

ROOT = Path(__file__).resolve().parent.parent
TARGETS = [ROOT / "compiler" / "schemas", ROOT / "docs" / "schema"]


def main() -> None:
    files = rendered()
    for target in TARGETS:
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.schema.json"):
            if stale.name not in files:
                stale.unlink()
        for name, text in files.items():
            (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {len(files)} schemas to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
