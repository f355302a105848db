"""The Route gate: what the caller wants, on every partial and final.

    classifier  IntentClassifier: sparse n-gram SVM (+ optional dense views), the hot path
    gate        Router (trained once from the policy), RouteState, route_gate (pure)
"""

from .classifier import IntentClassifier, Prediction, SentenceEncoder
from .gate import UNKNOWN, RouteDecision, RouteOutcome, RouteScores, RouteState, Router, route_gate

__all__ = [
    "UNKNOWN", "IntentClassifier", "Prediction", "RouteDecision", "RouteOutcome", "RouteScores",
    "RouteState", "Router", "SentenceEncoder", "route_gate",
]
