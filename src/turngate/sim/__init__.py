"""The caller simulator: a faithful Twilio stand-in for testing a gateway over a real WebSocket.

Modules, inside out:

- ``audio``     the line: mu-law codec, WAV and flite sources, onsets, noise and echo
- ``scenario``  scenario YAML: the model and its validation
- ``playout``   Twilio's playback buffer (marks echoed when played, ``clear``), pure
- ``script``    what the caller sends in each 20 ms frame, pure
- ``session``   one call as a pure engine: Twilio messages out, gateway messages in
- ``webhook``   the signed voice webhook and its TwiML
- ``expect``    expectations checked against the gateway's decision records
- ``caller``    the asyncio driver on the real clock: ``run_scenario``
- ``cli``       ``turngate simulate``
"""

from .caller import CallResult, run_scenario
from .expect import BargeIn, Check
from .scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["BargeIn", "CallResult", "Check", "Scenario", "ScenarioError", "load_scenario", "parse_scenario",
           "run_scenario"]
