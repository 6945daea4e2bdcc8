"""``make demo``: the smallest real thing the bus can show today.

The routing runtime and the adapters are not built yet, so the demo runs what exists: every
canonical sample of the 15 systems' interface specifications is validated against the canonical
schemas, one system at a time, then one penalty decision is shown in its publicity (公示) and log
views, and the JSON Schema / AsyncAPI files are exported to ``out/schemas``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

from runner.specs import SpecsNotFoundError, specs_dir
from runner.validate import validate_file
from schemas import log_view, parse_envelope, publicity_view
from schemas.export import export_all

__all__ = ["main"]


def _validate_systems(systems: Path) -> tuple[int, int]:
    valid = invalid = 0
    for system in sorted(p for p in systems.iterdir() if p.is_dir()):
        kinds: Counter[str] = Counter()
        errors: list[str] = []
        for path in sorted((system / "samples").glob("*.expected.json")):
            report = validate_file(path)
            kinds.update(k.removeprefix("enforcement.") for k in report.kinds)
            errors += report.errors
        valid += kinds.total()
        invalid += len(errors)
        status = "ok " if not errors else "BAD"
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        print(f"  {status} {system.name:26} {summary}", flush=True)
        for line in errors:
            print(f"      {line}")
    return valid, invalid


def _show_masking(systems: Path) -> None:
    sample = systems / "credit_fj" / "samples" / "penalty_push-1.input.json"
    if not sample.is_file():
        return
    envelope = parse_envelope(json.loads(sample.read_bytes())[1], draft=True)
    party_public = publicity_view(envelope)["payload"]["party"]
    party_log = log_view(envelope)["payload"]["party"]
    print("\nA natural person's penalty decision, as a publicity destination (公示) receives it,")
    print("and as it may appear in a log (L3 values masked):")
    for label, party in (("publicity", party_public), ("log", party_log)):
        shown = {k: party[k] for k in ("name", "id_number", "address")}
        print(f"  {label:9} {json.dumps(shown, ensure_ascii=False)}")


def main() -> int:
    """Run the demo; return the process exit code."""
    started = time.monotonic()
    print("enforcement-bus demo")
    print("The bus runtime and adapters are not built yet: this demo validates the canonical")
    print("samples of all 15 systems' interface specifications against the canonical schemas.\n")
    try:
        systems = specs_dir() / "systems"
    except SpecsNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    valid, invalid = _validate_systems(systems)
    _show_masking(systems)
    out = Path("out/schemas")
    written = export_all(out, "demo")
    elapsed = time.monotonic() - started
    print(
        f"\nsummary: {valid} canonical messages valid, {invalid} errors, "
        f"{len(written)} schema files written to {out}/ in {elapsed:.1f} s"
    )
    print("look further: .venv/bin/ebus schemas list | .venv/bin/ebus schemas validate FILE")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
