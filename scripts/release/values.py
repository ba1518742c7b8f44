#!/usr/bin/env python3
"""Rewrites the image lines of a chart values file in place, keeping everything else byte for byte.

    values.py FILE COMPONENT=REPOSITORY:TAG@DIGEST...

For each COMPONENT (back, front), the `repository`, `tag` and `digest` keys of `COMPONENT.image`
get the new values; comments, order and every other line stay as they are. A file without those
three keys fails with a message naming what is missing. Used by scripts/release.sh for the
chart it publishes (values.yaml) and for the dev environment's GitOps commit (values-dev.yaml).
"""
from __future__ import annotations

import re
import sys


def parse_reference(text: str) -> tuple[str, str, str]:
    match = re.fullmatch(r"(?P<repo>[^@\s]+):(?P<tag>[\w][\w.-]{0,127})@(?P<digest>sha256:[0-9a-f]{64})", text)
    if not match:
        raise SystemExit(f"values.py: '{text}' is not REPOSITORY:TAG@sha256:DIGEST")
    return match["repo"], match["tag"], match["digest"]


def set_image(lines: list[str], component: str, repo: str, tag: str, digest: str, path: str) -> None:
    wanted = {"repository": repo, "tag": f'"{tag}"', "digest": f'"{digest}"'}
    try:
        start = lines.index(f"{component}:\n")
    except ValueError:
        raise SystemExit(f"values.py: {path}: no top-level key '{component}:'") from None
    in_image = False
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line.startswith(" "):
            break  # the next top-level key
        if re.match(r"^  \S", line):
            in_image = line == "  image:\n"
            continue
        if in_image:
            match = re.match(r"^    (repository|tag|digest):", line)
            if match and match[1] in wanted:
                lines[i] = f"    {match[1]}: {wanted.pop(match[1])}\n"
    if wanted:
        raise SystemExit(f"values.py: {path}: {component}.image has no {', '.join(sorted(wanted))}")


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    path = argv[0]
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for arg in argv[1:]:
        component, _, reference = arg.partition("=")
        set_image(lines, component, *parse_reference(reference), path)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
