"""Domain tests read messages in English (the wording they check); tests/test_i18n.py covers Chinese."""

from collections.abc import Iterator

import pytest

from app import i18n


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    token = i18n.use("en")
    yield
    i18n.reset(token)
