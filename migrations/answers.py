"""Rewrite a project's answers file when a Kiln release renames or removes a question.

Run by copier as a before-stage `_migrations` entry (see copier.yml and docs/releasing.md), with
copier's own interpreter and nothing but the standard library:

    answers.py rename OLD NEW [--file .copier-answers.yml]
    answers.py drop NAME [--file .copier-answers.yml]

Only the question's own top-level key is touched, so the header comment, the order of the other
answers and their formatting stay as they were. Running it twice is harmless: an answer that is
already renamed or gone is left alone.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def _key_line(name: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(name)}:(?=\s|$)")


def _continues_value(line: str) -> bool:
    """A line that belongs to the value above it: indented, or a block list's item."""
    return line.startswith((" ", "\t", "- "))


def rename(text: str, old: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    if any(_key_line(new).match(line) for line in lines):
        if any(_key_line(old).match(line) for line in lines):
            raise SystemExit(f"Both {old!r} and {new!r} are answered; keep one, then update again.")
        return text
    return "".join(_key_line(old).sub(f"{new}:", line) for line in lines)


def drop(text: str, name: str) -> str:
    kept: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        if _key_line(name).match(line):
            dropping = True
            continue
        if dropping and _continues_value(line):
            continue
        dropping = False
        kept.append(line)
    return "".join(kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=Path(".copier-answers.yml"))
    commands = parser.add_subparsers(dest="command", required=True)
    renaming = commands.add_parser("rename", help="OLD's answer becomes NEW's")
    renaming.add_argument("old")
    renaming.add_argument("new")
    dropping = commands.add_parser("drop", help="forget NAME's answer")
    dropping.add_argument("name")
    arguments = parser.parse_args(argv)

    text = arguments.file.read_text(encoding="utf-8")
    if arguments.command == "rename":
        changed = rename(text, arguments.old, arguments.new)
    else:
        changed = drop(text, arguments.name)
    arguments.file.write_text(changed, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
