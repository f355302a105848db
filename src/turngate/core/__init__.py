"""The sans-I/O call core. Nothing here does I/O, reads a clock or imports asyncio."""

from .actions import *  # noqa: F401,F403
from .call import Call
from .decisions import Decision, Verdict
from .events import *  # noqa: F401,F403
from .gatekeeper import AgentTextVerdict, CallerTurnVerdict, FailureVerdict, Gatekeeper
from .params import TurnParams
from .states import State, Trigger, TRANSITIONS, transition

__all__ = [
    "Call", "Decision", "Verdict", "Gatekeeper", "CallerTurnVerdict", "AgentTextVerdict",
    "FailureVerdict", "TurnParams", "State", "Trigger", "TRANSITIONS", "transition",
]
