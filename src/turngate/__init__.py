"""turngate: a turn-taking gateway for real-time voice AI on phone calls.

The package is layered so imports point inward:

    core, gates, twilio.codec   pure, synchronous, no I/O (a test enforces this)
    vad, speech, agent, store   providers behind narrow Protocols
    server, sim, cli            the thin asyncio shell and its tools
"""

from .config import limit_blas_threads

limit_blas_threads()  # before anything loads numpy

__version__ = "0.1.0"
