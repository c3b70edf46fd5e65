"""StreamKeywordGuard: banned-keyword checking of a streamed answer. Each channel (a choice's
content, each of its tool calls' arguments) is its own running text. A chunk is held back until
every channel it added text to has at least the longest keyword's length of text after it (or
has finished), so any keyword that touches it has been judged, word boundaries included; held
chunks are re-emitted unchanged and in order, and a match is reported before any chunk holding
part of it is released."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from gated.errors import GatewayError
from gated.guardrails.keywords import KeywordMatcher, normalise
from gated.guardrails.text import delta_parts, finished_choices

Channel = tuple[int, int]


class _Text:
    """One channel's normalised text: the unreleased part plus enough released text before it
    for the left word boundary. Offsets are absolute (characters since the stream began)."""

    __slots__ = ("buffer", "base", "released", "final")

    def __init__(self) -> None:
        self.buffer = ""      # normalised text from absolute offset `base` on
        self.base = 0
        self.released = 0     # absolute offset up to which the text is in released chunks
        self.final = False    # the choice finished: no more text will follow

    @property
    def end(self) -> int:
        return self.base + len(self.buffer)

    def append(self, text: str) -> None:
        if text.startswith(" ") and self.buffer.endswith(" "):
            text = text[1:]   # white space folded across chunks, as in a whole text
        self.buffer += text
        self.final = False

    def release(self, upto: int, keep: int) -> None:
        self.released = upto
        cut = upto - keep - self.base
        if cut > 0:
            self.buffer, self.base = self.buffer[cut:], self.base + cut


class StreamKeywordGuard:
    def __init__(self, matcher: KeywordMatcher, refusal: Callable[[str], GatewayError]) -> None:
        self.matcher = matcher
        self.refusal = refusal                              # the error to send for a found keyword
        self._texts: dict[Channel, _Text] = {}
        self._pending: deque[tuple[bytes, dict[Channel, int]]] = deque()  # (payload, each channel's end after it)

    def feed(self, payload: bytes, chunk: dict[str, Any] | None) -> tuple[list[bytes], str | None]:
        """Add one chunk (`chunk` is its parsed JSON, None if it is not JSON); returns (payloads
        safe to send now, banned keyword found or None)."""
        ends: dict[Channel, int] = {}
        if chunk is not None:
            for channel, text in delta_parts(chunk):
                state = self._texts.setdefault(channel, _Text())
                state.append(normalise(text))
                ends[channel] = state.end
            finished = set(finished_choices(chunk))
            for channel, state in self._texts.items():
                if channel[0] in finished:
                    state.final = True
        self._pending.append((payload, ends))
        found = self._scan(set(ends) | {c for c, s in self._texts.items() if s.final})
        return ([], found) if found is not None else (self._release(), None)

    def finish(self) -> tuple[list[bytes], str | None]:
        """The stream ended: the held text is judged as complete; (payloads to send, keyword or None)."""
        for state in self._texts.values():
            state.final = True
        found = self._scan(set(self._texts))
        return ([], found) if found is not None else (self._release(), None)

    def _scan(self, channels: set[Channel]) -> str | None:
        for channel in channels:
            state = self._texts[channel]
            if state.end > state.released:
                found = self.matcher.find_normalised(state.buffer, after=state.released - state.base,
                                                     open_end=not state.final)
                if found is not None:
                    return found
        return None

    def _release(self) -> list[bytes]:
        need = self.matcher.longest   # text after a chunk that settles every match touching it
        released = []
        while self._pending:
            payload, ends = self._pending[0]
            if any(not self._texts[c].final and self._texts[c].end - end < need for c, end in ends.items()):
                break
            self._pending.popleft()
            for channel, end in ends.items():
                self._texts[channel].release(end, keep=need)
            released.append(payload)
        return released
