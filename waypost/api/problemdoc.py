"""Regenerate the tables of ``docs/problems.md`` from ``ErrorCode`` (dev tool, shell).

Run ``.venv/bin/python -m waypost.api.problemdoc`` after adding an ``ErrorCode``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from waypost.api.errors import render_problems_table

__all__ = ["BEGIN", "END", "update_problems_doc", "main"]

BEGIN = "<!-- BEGIN GENERATED: python -m waypost.api.problemdoc -->"
END = "<!-- END GENERATED -->"


def update_problems_doc(text: str) -> str:
    """Replace the generated block of ``text`` with the current tables.

    Args:
        text: the document (must hold the BEGIN and END markers).

    Returns:
        The updated document.

    Raises:
        ValueError: the markers are missing.
    """
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError("markers not found")
    return f"{head}{BEGIN}\n{render_problems_table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``docs/problems.md`` (or the path given) in place."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "docs" / "problems.md"
    path.write_text(update_problems_doc(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
