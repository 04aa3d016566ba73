"""Sensitive keywords: CJK as substrings, Latin words and numbers on token boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casegold_sla.keywords import contains_keyword, is_cjk, matching_keywords

KEYWORDS = ("记者", "曝光", "3.15", "12315", "journalist", "lawyer")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("the refund was 13.15 yuan", ()),
        ("order number 2023123156 is late", ()),
        ("version 3.15.2 of the app", ()),
        ("I will call the journalists", ()),
        ("我要找记者曝光你们", ("记者", "曝光")),
        ("3.15晚会见", ("3.15",)),
        ("我已经打了12315投诉", ("12315",)),
        ("Calling 12315, then a Lawyer.", ("12315", "lawyer")),
        ("before 3.15, after", ("3.15",)),
        ("(journalist)", ("journalist",)),
        ("", ()),
    ],
)
def test_keywords_in_real_sentences(text: str, found: tuple[str, ...]) -> None:
    assert matching_keywords(KEYWORDS, [text]) == found


def test_a_match_in_any_text_counts_and_texts_never_join_into_a_token() -> None:
    assert matching_keywords(KEYWORDS, [None, "summary", "a lawyer"]) == ("lawyer",)
    assert matching_keywords(("ab",), ["a", "b"]) == ()


latin_keyword = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
cjk_text = st.text(alphabet="记者曝光律师起诉投诉媒体", max_size=6)
word_char = st.sampled_from("abcxyz0189")
separator = st.sampled_from(" \n\t!?;:()[]\"'，。！？、")


@given(keyword=latin_keyword, glued=word_char, before=st.booleans())
def test_a_latin_keyword_glued_to_a_letter_or_digit_is_no_match(
    keyword: str, glued: str, before: bool
) -> None:
    text = glued + keyword if before else keyword + glued
    # Every occurrence in a text of letters and digits only touches another letter or digit.
    assert not contains_keyword(text, keyword)


@given(keyword=latin_keyword, left=separator, right=separator, padding=cjk_text)
def test_a_latin_keyword_between_separators_or_cjk_matches(
    keyword: str, left: str, right: str, padding: str
) -> None:
    assert contains_keyword(f"{padding}{left}{keyword}{right}{padding}", keyword)
    assert contains_keyword(f"{padding}{keyword}{padding}", keyword)


@given(keyword=st.text(alphabet="记者曝光律师", min_size=1, max_size=3), left=st.text(max_size=5))
def test_a_cjk_keyword_matches_anywhere(keyword: str, left: str) -> None:
    assert contains_keyword(f"{left}{keyword}{left}x1", keyword)


def test_cjk_detection() -> None:
    assert all(is_cjk(char) for char in "记者ひらがなカタカナ한국")
    assert not any(is_cjk(char) for char in "a1.,é ")
