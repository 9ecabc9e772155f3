"""Scenario directories: ``scenario.toml`` lists the inputs (and carries engine config).

Without a manifest every data file under the directory is an input whose kind
and format are sniffed; ``truth.json``, Markdown and TOML files are never inputs.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ingest.errors import ParseError
from ingest.files import InputSpec, spool_stdin

MANIFEST = "scenario.toml"
_NOT_INPUTS = {"truth.json"}
_SKIP_SUFFIXES = {".md", ".toml", ".txt~", ".pyc"}
_INPUT_KEYS = {"path", "kind", "format", "service", "timezone", "year", "name", "options"}


def _spec(entry: dict[str, Any], base: Path, where: str) -> InputSpec:
    unknown = set(entry) - _INPUT_KEYS
    if unknown:
        raise ParseError(f"input keys among {', '.join(sorted(_INPUT_KEYS))}", source=where,
                         field=f"inputs.{sorted(unknown)[0]}")
    if "path" not in entry:
        raise ParseError("a 'path' for every [[inputs]] entry", source=where, field="inputs.path")
    path = base / entry["path"]
    if not path.exists():
        raise ParseError("an existing input file", source=where, field="inputs.path",
                         got=str(path))
    return InputSpec(path=path, kind=entry.get("kind"), format=entry.get("format"),
                     service=entry.get("service", ""), timezone=entry.get("timezone"),
                     year=entry.get("year"), name=entry.get("name", ""),
                     options=dict(entry.get("options", {})))


def load_inputs(path: str | Path) -> tuple[list[InputSpec], dict[str, Any]]:
    """Inputs of a file or directory, and the manifest's other sections (engine config)."""
    if str(path) == "-":
        return [spool_stdin()], {}
    p = Path(path)
    if not p.exists():
        raise ParseError("an existing file or scenario directory", source=str(p), field="path")
    if p.is_file():
        return [InputSpec(path=p)], {}
    if not p.is_dir():  # a named pipe, or a shell's <(command): readable once, spooled as '-' is
        with open(p, "rb") as stream:
            return [spool_stdin(stream, source=str(path))], {}
    manifest = p / MANIFEST
    if manifest.exists():
        try:
            data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ParseError(f"valid TOML ({exc})", source=str(manifest)) from None
        entries = data.pop("inputs", [])
        data.pop("scenario", None)  # descriptive metadata (name, description)
        return [_spec(e, p, str(manifest)) for e in entries], data
    specs = [InputSpec(path=f) for f in sorted(p.rglob("*"))
             if f.is_file() and f.name not in _NOT_INPUTS and f.suffix not in _SKIP_SUFFIXES
             and not f.name.startswith(".")]
    return specs, {}
