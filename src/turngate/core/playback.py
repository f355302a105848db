"""The playback ledger of one generation: what was sent, what the caller heard.

Theory of operation
-------------------
Audio of a generation is appended segment by segment (one TTS sentence each) to
one byte buffer of 8 kHz mu-law (8 bytes per millisecond). It goes out in chunks
of ``chunk_ms``; after every chunk we send a mark named ``tg:<gen>:<epoch>:<end>``,
where ``end`` is the byte offset at the chunk's end. Twilio echoes a mark when the
audio before it has played, so the highest echoed offset is what the caller has
*certainly* heard. We keep at most ``lead_ms`` of audio outstanding at Twilio, so a
``clear`` throws away little and the heard position is never far behind the ear.

After a ``clear`` Twilio echoes every pending mark at once, although that audio
never played. So ``pause()`` moves pending marks to a "flushed" set and their
echoes are accounted for without advancing the heard offset. A mark that was in
flight when we sent ``clear`` is also counted as flushed: the ledger can only
under-estimate what was heard, never claim the caller heard something they did
not. Each pause starts a new epoch, so re-sent audio gets new mark names.

While a barge-in is unconfirmed the answer may go on *ducked* (``duck``): from the cut,
every byte through a mu-law gain table, with a shorter lead, so that a backchannel is
heard as the bot lowering its voice rather than as a silence, and a clear on a real
interruption throws away little. ``unduck`` restores the level for what is sent next.

The heard text comes from the heard offset: whole segments before it, and within
the segment it falls in, the words whose end time is before it (TTS word
timings), or a character-proportional estimate where the TTS gives none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import WordTime

BYTES_PER_MS = 8  # 8 kHz, one byte per mu-law sample
ECHO_BACK_MS = 400   # the longest echo delay we allow for
ECHO_AHEAD_MS = 200  # marks echo a little after the ear hears the audio
LEVEL_STEP_MS = 100  # Segment.chunk_levels: one level per 100 ms (audio.level.chunk_levels_db)


@dataclass(slots=True)
class Segment:
    index: int
    text: str
    start: int  # byte offset in the generation's audio
    end: int
    words: tuple[WordTime, ...]
    level_db: float
    chunk_levels: tuple[float, ...] = ()


@dataclass(slots=True)
class Chunk:
    payload: bytes
    mark: str


@dataclass(slots=True)
class Playback:
    generation: int
    chunk_bytes: int
    lead_bytes: int
    audio: bytearray = field(default_factory=bytearray)
    segments: list[Segment] = field(default_factory=list)
    sent: int = 0       # bytes handed to Twilio in the current epoch (absolute offset)
    played: int = 0     # bytes confirmed heard by mark echoes
    epoch: int = 0
    pending: dict[str, int] = field(default_factory=dict)   # mark name -> end offset
    flushed: set[str] = field(default_factory=set)
    complete: bool = False  # no more segments will come
    paused: bool = False
    gain: bytes | None = None   # while ducked: the mu-law gain table every chunk goes through
    ducked_lead: int = 0        # ... and the lead then
    # echo_reference_db() runs on every VAD window while we play; it only changes when
    # ``played`` moves (a mark, every chunk) or a segment arrives.
    _ref_key: tuple[int, int] = (-1, -1)
    _ref_db: float = -100.0

    # -- building ---------------------------------------------------------
    def add_segment(self, index: int, text: str, audio: bytes, words: tuple[WordTime, ...], level_db: float,
                    chunk_levels: tuple[float, ...] = ()) -> None:
        start = len(self.audio)
        self.audio += audio
        self.segments.append(Segment(index, text, start, len(self.audio), words, level_db, chunk_levels))

    # -- sending ----------------------------------------------------------
    def pump(self) -> list[Chunk]:
        """Chunks to send now: as many as fit in the lead window."""
        out: list[Chunk] = []
        if self.paused:
            return out
        lead = self.lead_bytes if self.gain is None else self.ducked_lead
        while self.sent < len(self.audio) and self.sent - self.played < lead:
            end = min(self.sent + self.chunk_bytes, len(self.audio))
            # Do not send a runt chunk mid-generation; wait for more audio unless it is the last.
            if end - self.sent < self.chunk_bytes and not self.complete:
                break
            name = f"tg:{self.generation}:{self.epoch}:{end}"
            payload = bytes(self.audio[self.sent:end])
            out.append(Chunk(payload if self.gain is None else payload.translate(self.gain), name))
            self.pending[name] = end
            self.sent = end
        return out

    def on_mark(self, name: str) -> bool:
        """Account for one echoed mark. Returns False if the mark is not ours."""
        if name in self.flushed:
            self.flushed.discard(name)
            return True
        end = self.pending.pop(name, None)
        if end is None:
            return False
        if end > self.played:
            self.played = end
        return True

    def pause(self) -> int:
        """Stop sending; pending marks will echo as flushed. Returns the cut offset."""
        self.paused = True
        self.flushed |= set(self.pending)
        self.pending.clear()
        self.epoch += 1
        self.sent = self.played
        return self.played

    def duck(self, table: bytes, lead_bytes: int) -> None:
        """After a pause: go on from the cut, lowered by ``table``, ``lead_bytes`` ahead."""
        self.gain, self.ducked_lead = table, lead_bytes
        self.paused = False

    def unduck(self) -> None:
        """Full level again for what is sent from now on (no rewind: the caller heard it)."""
        self.gain = None

    @property
    def ducked(self) -> bool:
        return self.gain is not None

    def resume(self, overlap_bytes: int) -> None:
        """Continue from a little before the cut, so the caller hears the seam."""
        cut = self.played
        seg_start = max((s.start for s in self.segments if s.start <= cut), default=0)
        # Never rewind past the start of the sentence being spoken.
        self.sent = max(seg_start, cut - overlap_bytes)
        self.played = self.sent
        self.paused = False

    # -- reading ----------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.complete and not self.paused and self.played >= len(self.audio) and not self.pending

    @property
    def awaiting_flush(self) -> bool:
        return bool(self.flushed)

    def playing_level_db(self) -> float:
        """Level of the segment playing now (the reference for our own echo)."""
        for s in self.segments:
            if s.start <= self.played < s.end:
                return s.level_db
        return self.segments[-1].level_db if self.segments else -90.0

    def echo_reference_db(self) -> float:
        """The loudest 100 ms of our audio that can be echoing now: what played in the
        last ``ECHO_BACK_MS`` (echo delay) and what is about to (marks lag the ear)."""
        key = (self.played, len(self.segments))
        if key != self._ref_key:
            self._ref_key, self._ref_db = key, self._reference_db()
        return self._ref_db

    def _reference_db(self) -> float:
        lo, hi = self.played - ECHO_BACK_MS * BYTES_PER_MS, self.played + ECHO_AHEAD_MS * BYTES_PER_MS
        best = -100.0
        for s in self.segments:
            if s.end < lo or s.start > hi:
                continue
            if not s.chunk_levels:
                best = max(best, s.level_db)
                continue
            step = LEVEL_STEP_MS * BYTES_PER_MS
            first, last = max(0, (lo - s.start) // step), (hi - s.start) // step
            for v in s.chunk_levels[first:last + 1]:
                best = max(best, v)
        return best if best > -100.0 else self.playing_level_db()

    def recent_words(self, back_ms: int = 2500) -> set[str]:
        """Words of our own audio from ``back_ms`` before the heard offset to ``lead_bytes``
        after it (sent before a clear, so perhaps played: marks only count what surely did):
        if the recogniser hears them in the caller's channel, they are likely our echo."""
        lo = self.played - back_ms * BYTES_PER_MS
        out: set[str] = set()
        for s in self.segments:
            if s.end < lo or s.start > self.played + self.lead_bytes:
                continue
            out.update(w.strip(".,!?;:").lower() for w in s.text.split())
        return out

    def heard_ms(self) -> int:
        return self.played // BYTES_PER_MS

    def full_text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()

    def heard_text(self) -> str:
        parts: list[str] = []
        for s in self.segments:
            if self.played >= s.end:
                parts.append(s.text)
                continue
            if self.played <= s.start:
                break
            into_ms = (self.played - s.start) // BYTES_PER_MS
            if s.words:
                heard = [w.word for w in s.words if w.end_ms <= into_ms]
            else:
                frac = (self.played - s.start) / max(1, s.end - s.start)
                words = s.text.split()
                heard = words[: int(len(words) * frac)]
            if heard:
                parts.append(" ".join(heard))
            break
        return " ".join(parts).strip()
