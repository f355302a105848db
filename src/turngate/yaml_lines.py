"""Where in a YAML file a validation error points: the file's line for a pydantic error
location, walked through the node tree that ``yaml.compose`` keeps (``policy.py``)."""

from __future__ import annotations

import yaml
from pydantic import ValidationError

__all__ = ["describe", "dotted", "line_of"]


def describe(err: ValidationError, root: yaml.Node | None, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        lines.append(f"{source}:{line_of(root, loc)}: {dotted(loc) or '<top>'}: {e['msg']}")
    return "\n".join(lines)


def dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int:
    """The 1-based line of the deepest node on ``loc`` that exists in the file.

    A missing field points at its parent mapping, which is where it should go;
    an unknown field points at its own key."""
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    # pydantic puts an unknown key's own name last in loc; the key is
                    # the useful place then, the value otherwise.
                    line = k.start_mark.line + 1
                    nxt = v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line
