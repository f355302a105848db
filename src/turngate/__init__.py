"""turngate: a turn-taking gateway for real-time voice AI on phone calls.

The package is layered so imports point inward:

    core, gates, twilio.codec   pure, synchronous, no I/O (a test enforces this)
    vad, speech, agent, store   providers behind narrow Protocols
    server, sim, cli            the thin asyncio shell and its tools
"""

import os

# One BLAS thread per operation, before numpy loads: a gateway runs many calls at once, so its
# parallelism is across calls. OpenBLAS's own threads, on a small shared machine, made a 40k
# sample dot product 45x slower (1.4 ms vs 30 us) and the encoder's matmuls 2.4x slower, and
# their spinning took a core from the event loop. Set the variable to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
