"""Audio primitives for the telephone path: G.711 mu-law and signal level.

Pure functions over numpy arrays; nothing here knows about calls, sockets or time.
"""

from turngate.audio.level import level_db, levels_db
from turngate.audio.mulaw import decode, encode

__all__ = ["decode", "encode", "level_db", "levels_db"]
