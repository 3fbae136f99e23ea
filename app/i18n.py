"""Messages for people, in Chinese or English: gettext catalogs read through Babel, one language per request.

Code writes `_("English text with {name}", name=…)`; the English msgid is the key of the zh_Hans catalog
(app/locale/zh_Hans/LC_MESSAGES/messages.po). A Message renders lazily, in the language of the request being
served (set by middleware from Accept-Language, ATTAIN_DEFAULT_LANG otherwise), so domain code needs no request.
The .po file is compiled in memory on first use: no generated binary is kept in the repository.
"""

from contextvars import ContextVar, Token
from functools import lru_cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
PO_FILE = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po"

_current: ContextVar[Lang | None] = ContextVar("attain_lang", default=None)


class Message:
    """A translatable message with its parameters, rendered when it is shown."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, params: dict[str, Any]) -> None:
        self.msgid = msgid
        self.params = params

    def render(self, lang: Lang | None = None) -> str:
        """The message in `lang` (default: the current request's language)."""
        lang = lang or current()
        # Every msgid is a str.format template (literal braces doubled), with or without parameters.
        text = translations(lang).gettext(self.msgid)
        params = {k: v.render(lang) if isinstance(v, Message) else v for k, v in self.params.items()}
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            # A translation with broken placeholders must never turn an answer into a 500; a test guards the
            # catalog, this guards a hand edit made after it ran.
            return self.msgid.format(**params)

    def __str__(self) -> str:
        return self.render()

    def __format__(self, spec: str) -> str:
        return format(self.render(), spec)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, {self.params!r})"


def _(msgid: str, /, **params: Any) -> Message:
    """Mark a message for translation (`pybabel extract -k _` finds it); it renders per request."""
    return Message(msgid, params)


Text = str | Message


def render(text: Text | None, lang: Lang | None = None) -> str | None:
    """A message or plain string as text in `lang`."""
    if text is None:
        return None
    return text.render(lang) if isinstance(text, Message) else text


@lru_cache
def translations(lang: Lang) -> NullTranslations:
    """The gettext catalog of a language, compiled in memory from the .po file on first use."""
    if lang == "en":
        return NullTranslations()
    with PO_FILE.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans")
    buf = BytesIO()
    write_mo(buf, catalog)  # fuzzy entries are left out: an unreviewed translation falls back to English
    buf.seek(0)
    return Translations(buf)


def default_lang() -> Lang:
    from app.settings import get_settings

    return get_settings().default_lang


def current() -> Lang:
    """The language of the request being served, or the configured default outside requests."""
    return _current.get() or default_lang()


def use(lang: Lang) -> Token[Lang | None]:
    """Serve the rest of this context in `lang`; give the token back to `reset`."""
    return _current.set(lang)


def reset(token: Token[Lang | None]) -> None:
    _current.reset(token)


def negotiate(accept_language: str | None, default: Lang) -> Lang:
    """The language an Accept-Language header prefers among ours (RFC 9110 q-values; ties keep header order)."""
    best: Lang | None = None
    best_q = 0.0
    for part in (accept_language or "").split(","):
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            name, _sep, value = p.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.lower().split("-")[0]
        lang: Lang | None = default if primary == "*" else ("zh" if primary == "zh" else "en" if primary == "en"
                                                              else None)
        if lang is not None and q > best_q:
            best, best_q = lang, q
    return best or default


def message_of(exc: BaseException) -> Text:
    """The message an exception was raised with, still translatable when it is one."""
    first = exc.args[0] if len(exc.args) == 1 else None
    return first if isinstance(first, Message) else str(exc)
