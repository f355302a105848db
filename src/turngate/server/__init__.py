"""The thin asyncio shell: decode, ``Call.handle``, dispatch actions, re-arm the timer."""
