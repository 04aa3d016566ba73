"""Sensitive-keyword matching: CJK keywords as substrings, Latin words and numbers as tokens.

Chinese (and Japanese, Korean) text has no spaces, so a CJK keyword such as 记者 matches
anywhere. A keyword of Latin letters or digits matches only as a whole token: "13.15 yuan"
does not hold 3.15, an order number 123156 does not hold 12315, "journalists" does not hold
"journalist" (list the plural if it should count). A CJK character next to a Latin keyword is
a boundary: "3.15晚会" and "打12315投诉" match.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

_CJK_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x2FA1F),  # CJK Extensions B and later
)
# Inside a number these join digits ("3.15", "1,000"): a keyword ending at "3.15" in "3.15.2"
# is not a whole token.
_NUMBER_JOINERS = frozenset(".,")


def is_cjk(char: str) -> bool:
    """Whether a character is a CJK ideograph, kana or Hangul syllable."""
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _token_char(char: str) -> bool:
    return char.isalnum() and not is_cjk(char)


def _continues(text: str, at: int, step: int) -> bool:
    """Whether the token around a match goes on at `at` (looking in direction `step`)."""
    if not 0 <= at < len(text):
        return False
    char = text[at]
    if _token_char(char):
        return True
    beyond = at + step
    return (
        char in _NUMBER_JOINERS
        and 0 <= beyond < len(text)
        and text[beyond].isdigit()
        and text[at - step].isdigit()
    )


@lru_cache(maxsize=4096)
def _has_cjk(folded_keyword: str) -> bool:
    # Keywords come from the policy: a few dozen, checked against every case opened.
    return any(is_cjk(char) for char in folded_keyword)


@lru_cache(maxsize=4096)
def _folded(keyword: str) -> str:
    return keyword.casefold()


def contains_keyword(folded_text: str, folded_keyword: str) -> bool:
    """Whether a casefolded keyword occurs in a casefolded text, by the rules above."""
    if not folded_keyword:
        return False
    if _has_cjk(folded_keyword):
        return folded_keyword in folded_text
    start = folded_text.find(folded_keyword)
    while start != -1:
        end = start + len(folded_keyword)
        before = _token_char(folded_keyword[0]) and _continues(folded_text, start - 1, -1)
        after = _token_char(folded_keyword[-1]) and _continues(folded_text, end, 1)
        if not before and not after:
            return True
        start = folded_text.find(folded_keyword, start + 1)
    return False


def matching_keywords(keywords: Iterable[str], texts: Iterable[str | None]) -> tuple[str, ...]:
    """The keywords found in any of the texts, case-insensitively, in the keywords' order."""
    folded = "\n".join(text.casefold() for text in texts if text)
    return tuple(word for word in keywords if contains_keyword(folded, _folded(word)))
