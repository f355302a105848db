"""The operations console (``/console``): each call as a timeline, the five
questions, the LQA scorecard, and metrics reviewed together. See ``app.py``."""

from .app import console_app

__all__ = ["console_app"]
