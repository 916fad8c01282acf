"""The interface in English and Simplified Chinese.

Gradio translates in the browser: a component gets a key instead of a text
(`label=tr("pose.methods", "methods")`), `launch(i18n=I18N)` sends both dictionaries,
and the page shows the visitor's browser language, switchable under Settings →
Language at the foot of the page.

English is written where it is used, so the UI code reads as it looks; `tr` collects
it into `EN` as the tabs are built. The Chinese lives in `locales/zh-CN*.yaml` (the suite's
texts in `zh-CN.yaml`, a tab's own in `zh-CN.<tab>.yaml`), one entry per key; a test checks
that both dictionaries hold the same keys and that no key is in two files. Texts computed
per request (captions, measurements) follow the page's language through `text_in`, and the
errors a visitor causes through `error_in`; API payloads and error messages for programs stay
in English.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import yaml
from gradio.i18n import I18nData

from shared import errors

LOCALES = Path(__file__).resolve().parent / "locales"

EN: dict[str, str] = {}
LOCALE_FILES = sorted(LOCALES.glob("zh-CN*.yaml"))
ZH: dict[str, str] = {}
for _file in LOCALE_FILES:
    ZH.update(yaml.safe_load(_file.read_text(encoding="utf-8")) or {})

# Gradio's own texts that its Simplified Chinese lacks, under Gradio's keys; the browser fills in
# their placeholders. (The progress line over an output is not among its translations at all:
# shared/page_language.js puts that one in Chinese.)
GRADIO_TEXTS = {
    "status.queue_position": ("In queue: {position} of {size}", "排队中：第 {position} 位，共 {size} 位"),
}
for _key, (_english, _chinese) in GRADIO_TEXTS.items():
    EN[_key], ZH[_key] = _english, _chinese

# The dictionaries are held by reference, so keys added by `tr` after this line are sent too.
I18N = gr.I18n(en=EN, **{"zh-CN": ZH})


def tr(key: str, english: str) -> I18nData:
    """A text shown in the visitor's language; `english` is its English original."""
    known = EN.setdefault(key, english)
    if known != english:
        raise ValueError(f"Translation key {key!r} is used for two different English texts.")
    return I18N(key)


def tr_joined(parts: list[tuple[str, str]], sep: str = " — ") -> I18nData:
    """Several translated texts shown as one (`parts`: (key, English) pairs, each also a text of
    its own). Gradio translates only the first key inside a label, so a label that needs two
    (what a model does, and that it needs a download) gets one key whose Chinese is the join
    of the parts' Chinese."""
    for key, english in parts:
        tr(key, english)
    key = "+".join(k for k, _ in parts)
    ZH.setdefault(key, sep.join(ZH.get(k, EN[k]) for k, _ in parts))
    return tr(key, sep.join(english for _, english in parts))


# Texts computed per request (a warning, a caption) are registered with `tr` when the tab
# is built and looked up in the request's language with `text_in`. The page's language
# reaches the server as a cookie set by LANGUAGE_JS, run in the browser before each event
# (the language can change under Settings without a reload, so a header would lag).
LANGUAGE_COOKIE = "visionlab-language"
LANGUAGE_JS = ("(...args) => { document.cookie = '" + LANGUAGE_COOKIE + "=' + (document.documentElement.lang"
               " || navigator.language || '') + '; path=/; SameSite=Lax'; return args; }")
CHINESE = "zh-CN"


def request_language(request: gr.Request | None) -> str:
    """"zh-CN" when the page (else the browser) is in Chinese, "en" otherwise."""
    if request is None:
        return "en"
    chosen = request.cookies.get(LANGUAGE_COOKIE, "") or request.headers.get("accept-language", "")
    return CHINESE if chosen.strip().lower().startswith("zh") else "en"


def text_in(key: str, language: str) -> str:
    """The text registered under `key` (by `tr`), in `language`."""
    return ZH.get(key, EN[key]) if language == CHINESE else EN[key]


def error_in(message: str, language: str) -> str:
    """An error message for a visitor in `language`: one made in English from a template of
    `shared.errors` is written again from that template's text in `language`, with the same
    values (each translated too where it is a registered text); any other is returned as it is.
    For errors raised in English, for the API, by code that knows no language."""
    if language != CHINESE:
        return message
    return errors.translate(message, lambda key: text_in(key, language))


# Each error template is a text of its own: in EN once registered, so its Chinese is checked.
errors.on_register(tr)


def register_domain_texts(domains) -> None:
    """Register the out-of-domain sentences of `shared.domain.Domain`s (call while building
    the tab that shows them): keys "domain.<name>.photo" and "domain.<name>.grey"."""
    for d in domains:
        tr(f"domain.{d.name}.photo", d.on_photo)
        tr(f"domain.{d.name}.grey", d.on_grey)


def domain_warning(verdict: dict | None, language: str) -> str:
    """Markdown for a `Verdict.as_json()` in `language`: a warning, or "" when in the domain."""
    if not verdict or verdict.get("in_domain", True):
        return ""
    return "⚠️ " + text_in(f"domain.{verdict['domain']}.{verdict['looks_like']}", language)
