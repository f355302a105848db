"""Speech providers: streaming STT and sentence TTS behind narrow Protocols.

The embedded defaults (pocketsphinx, flite) run offline with no keys; a cloud
provider plugs in by implementing ``SttEngine``/``SttStream`` or ``TtsEngine``.
Heavy imports (pocketsphinx) stay in their own modules so importing the
Protocols costs nothing.
"""

from turngate.speech.stt import SttEngine, SttResult, SttStream
from turngate.speech.tts import Synthesis, TtsEngine, split_sentences

__all__ = ["SttEngine", "SttResult", "SttStream", "Synthesis", "TtsEngine", "split_sentences"]
