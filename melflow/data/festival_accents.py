"""Festival voices of other languages that say the English keywords the way their speakers
would: train-only accented English from recordings of real people (diphone, unit-selection
and HTS voices from Debian's festvox packages).

Why: the errors of the keyword models are at voices no training clip has, not at new
renders of the voices they know. espeak-ng's accents are one formant synthesiser; these
voices add the timbre of nine more real speakers (Italian, Czech, Finnish, Catalan,
Russian) and their vowels.

A voice of another language reads English spelling by its own rules ("right" becomes
/rixt/ in Czech), which no speaker of that language would say. So each keyword is written
as a speaker of the language hears it, in its own spelling (Italian "rait", Russian
"райт"); other words keep their English spelling, since any sound of them is `_unknown_`.
The respellings are written here by hand: no library maps English words to other orthographies.
"""

from __future__ import annotations

from melflow.core import chosen_names

# voice (festival's `(voice_<name>)`) -> language of its respellings; Debian packages in
# DEBIAN_PACKAGES below.
ACCENTED_VOICES = {
    "lp_diphone": "it", "pc_diphone": "it",
    "czech_dita": "cs", "czech_machac": "cs", "czech_ph": "cs",
    "hy_fi_mv_diphone": "fi", "suo_fi_lj_diphone": "fi",
    "upc_ca_ona_hts": "ca",
    "msu_ru_nsh_clunits": "ru",
}
DEBIAN_PACKAGES = ["festvox-italp16k", "festvox-itapc16k", "festvox-czech-dita", "festvox-czech-machac",
                   "festvox-czech-ph", "festvox-suopuhe-mv", "festvox-suopuhe-lj", "festvox-ca-ona-hts", "festvox-ru"]

_LATIN = {"yes": "jes", "no": "nou", "up": "ap", "down": "daun", "left": "left", "right": "rait",
          "on": "on", "off": "of", "stop": "stop", "go": "gou"}
RESPELLINGS = {
    "it": {**_LATIN, "yes": "ies"},
    "cs": {**_LATIN, "right": "rajt"},
    "fi": _LATIN,
    "ca": {**_LATIN, "yes": "iés"},
    "ru": {"yes": "йес", "no": "ноу", "up": "ап", "down": "даун", "left": "лефт", "right": "райт",
           "on": "он", "off": "оф", "stop": "стоп", "go": "гоу"},
}


def festival_text(voice: str, word: str) -> str:
    """What a festival voice is given to say `word`: the respelling for an accented voice
    and a keyword, the word itself otherwise (English voices, unknown words)."""
    lang = ACCENTED_VOICES.get(voice)
    return RESPELLINGS[lang].get(word, word) if lang else word


def chosen_voices(choice) -> list[str]:
    """The accented voices a corpus asks for: True or "all" for every one, False or None
    for none, or some of them by name (a list, or a comma-separated string), so that a
    model can be trained on some voices and measured on the others."""
    if choice in (None, False, "", []):
        return []
    if choice is True or choice == "all":
        return list(ACCENTED_VOICES)
    return chosen_names(choice, ACCENTED_VOICES, "--accented-voices")
