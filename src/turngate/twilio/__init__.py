"""Twilio: the Media Streams codec (pure), webhook signatures and stream tokens, TwiML."""
