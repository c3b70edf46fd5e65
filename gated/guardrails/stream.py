"""StreamKeywordGuard: banned-keyword checking of a streamed answer. It holds back just enough
text (the longest keyword, plus one character for the word boundary) to see a keyword split
across chunks, re-emits every held chunk unchanged and in order, and reports a match before any
chunk containing part of it is released."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from gated.errors import GatewayError
from gated.guardrails.keywords import SPACE, KeywordMatcher, normalise


class StreamKeywordGuard:
    def __init__(self, matcher: KeywordMatcher, refusal: Callable[[str], GatewayError]) -> None:
        self.matcher = matcher
        self.refusal = refusal                            # the error to send for a found keyword
        self.hold = matcher.longest + 2  # + the boundary character + a space folded across chunks
        self._tail = ""                                   # normalised text already released
        self._pending: deque[tuple[bytes, str]] = deque()  # (payload, its normalised text)
        self._pending_chars = 0

    def feed(self, payload: bytes, texts: list[str]) -> tuple[list[bytes], str | None]:
        """Add one chunk; returns (payloads safe to send now, banned keyword found or None)."""
        text = normalise("".join(texts)) if texts else ""
        self._pending.append((payload, text))
        self._pending_chars += len(text)
        window = SPACE.sub(" ", self._tail + "".join(t for _, t in self._pending))
        found = self.matcher.find_normalised(window)
        if found is not None:
            return [], found
        return self._release(keep=self.hold), None

    def finish(self) -> list[bytes]:
        """The stream ended cleanly: everything held back may go."""
        return self._release(keep=0)

    def _release(self, keep: int) -> list[bytes]:
        released = []
        while self._pending and self._pending_chars - len(self._pending[0][1]) >= keep:
            payload, text = self._pending.popleft()
            self._pending_chars -= len(text)
            self._tail = (self._tail + text)[-self.hold:]
            released.append(payload)
        if keep == 0:
            while self._pending:
                released.append(self._pending.popleft()[0])
            self._pending_chars = 0
        return released
