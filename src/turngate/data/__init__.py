"""Files shipped inside the package: the default policy and agent script, the customer
directory of the demo, the guard's trained models, the route examples' embeddings.

``bundled_bytes``, ``bundled_text`` and ``bundled_json_gz`` are the one door through which the pure layers
(the gates) reach a file: package data of this version, read when a gatekeeper is
built (and cached by its caller), never per decision and never from a path a caller
chose."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any


def bundled_bytes(name: str) -> bytes | None:
    """The bytes of ``turngate/data/NAME``, or None when the package does not hold it."""
    try:
        return resources.files(__name__).joinpath(name).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        return None


def bundled_json_gz(name: str) -> Any:
    """The gzipped JSON ``turngate/data/NAME`` (a trained model's weights), or None."""
    raw = bundled_bytes(name)
    return None if raw is None else json.loads(gzip.decompress(raw))


def bundled_text(name: str) -> str | None:
    raw = bundled_bytes(name)
    return None if raw is None else raw.decode("utf-8")
