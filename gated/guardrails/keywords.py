"""Banned-keyword matching in linear time (Aho-Corasick, the `ahocorasick-rs` bindings of the Rust
aho-corasick crate) on normalised text: NFKC, casefold, default-ignorable code points removed,
white space runs folded to one space. `word` mode needs Unicode word boundaries around a match,
except at a side whose character belongs to a script written without spaces (CJK, Thai, …),
where substrings match."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import ahocorasick_rs

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties), as ranges; none is ASCII
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]+")
# scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, CJK, kana, Hangul…
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")


def normalise(text: str) -> str:
    if not text.isascii():  # ASCII needs neither NFKC nor the ignorable scan (the common, fast case)
        text = _IGNORABLE.sub("", unicodedata.normalize("NFKC", text))
    text = text.casefold()
    folded = " ".join(text.split())  # much faster than a regex; keep one space at each edge that had some
    if folded and text[:1].isspace():
        folded = " " + folded
    if folded and text[-1:].isspace():
        folded += " "
    return folded or (" " if text else "")


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


class KeywordMatcher:
    def __init__(self, keywords: Iterable[str], mode: str = "word") -> None:
        self.mode = mode
        self.keywords: dict[str, str] = {}          # normalised → as configured
        for keyword in keywords:
            normalised = normalise(keyword).strip()
            if normalised:
                self.keywords.setdefault(normalised, keyword)
        self._patterns = list(self.keywords)
        self.longest = max(map(len, self._patterns), default=0)
        self._automaton = (ahocorasick_rs.AhoCorasick(self._patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
                           if self._patterns else None)

    def __bool__(self) -> bool:
        return self._automaton is not None

    def find_normalised(self, text: str, after: int = 0, open_end: bool = False) -> str | None:
        """The first banned keyword (as configured) in already-normalised `text`, else None.
        Matches ending at or before `after` are skipped (already judged); with `open_end` the text
        may go on, so a word-mode match touching its end is not judged yet."""
        if self._automaton is None:
            return None
        for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            if end <= after:
                continue
            keyword = self._patterns[index]
            if self.mode == "substring" or self._on_boundaries(text, start, end, keyword, open_end):
                return self.keywords[keyword]
        return None

    def find(self, text: str) -> str | None:
        return self.find_normalised(normalise(text)) if self._automaton is not None else None

    @staticmethod
    def _on_boundaries(text: str, start: int, end: int, keyword: str, open_end: bool) -> bool:
        left_ok = start == 0 or not _is_word_char(text[start - 1]) or _free_edge(keyword[0])
        right_ok = (not open_end if end >= len(text) else not _is_word_char(text[end])) or _free_edge(keyword[-1])
        return left_ok and right_ok


def _free_edge(char: str) -> bool:
    """A keyword edge that needs no word boundary: punctuation, or a script written without spaces."""
    return not _is_word_char(char) or bool(_UNSPACED.match(char))
