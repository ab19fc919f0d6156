"""Synthetic Arabic names in Arabic script and in Latin spellings of published conventions.

Each name is written once in a phonemic form, one character per sound; it is then rendered in Arabic
script (consonants and long vowels, as the script writes them) and in the Latin spellings of four
conventions. Nothing here comes from a benchmark file.

The names are common Arabic given names as listed in Schimmel, *Islamic Names* (Edinburgh University
Press, 1989), chapters 1-2, and in the Wikipedia "List of Arabic given names" (the Arabic-script and
ALA-LC forms given there). The conventions:

- ``ala-lc``: the ALA-LC romanization table for Arabic (Library of Congress, 2012) without its
  diacritics (ḥ -> h, ṣ -> s, ā -> a), as most registrations write it; ة is "ah", the article "al-".
- ``english``: the anglicised spelling common in Egyptian, Levantine and Gulf passports and in
  English-language registrations (Mohammed, Omar, Osman): short u as o, long u as ou or oo is not
  used, ʿayn and hamza dropped.
- ``french``: the French transcription of civil registries in the Maghreb, Chad, Niger and Mali
  (Mohamed, Ahmed, Abdelkader, Moussa, Djamila, Aicha): ou for u and w, ch for sh, dj for j, k for q,
  e for a short a in a closed final syllable, the article "el" joined to the next name.
- ``somali``: the official Somali Latin orthography (1972): x for ḥ, c for ʿayn, doubled vowels for
  long ones (Maxamed, Cali, Cabdullaahi).
"""

from __future__ import annotations

import random

# Phonemic forms: b t θ j ħ x d ð r z s ʃ ṣ ḍ ṭ ẓ ʕ ɣ f q k l m n h w y ʔ; short a i u; long ā ī ū;
# ɐ a final ta marbuta. "ʕabd_" joins the next name as one (ʿAbd al-Qādir); "_" stands for the article.
NAMES = (
    "muħammad",
    "ʔaħmad",
    "maħmūd",
    "ʕalī",
    "ħasan",
    "ħusayn",
    "ʕumar",
    "ʕuθmān",
    "xālid",
    "yūsuf",
    "ʔibrāhīm",
    "ʔismāʕīl",
    "mūsā",
    "ʕīsā",
    "sulaymān",
    "dāwūd",
    "yaʕqūb",
    "ʔayyūb",
    "yūnus",
    "ṣāliħ",
    "karīm",
    "jamāl",
    "kamāl",
    "ʃarīf",
    "saʕīd",
    "ħamīd",
    "maʤīd",
    "rāʃid",
    "nāṣir",
    "manṣūr",
    "ṭāriq",
    "ziyād",
    "ħamza",
    "ʕabbās",
    "jaʕfar",
    "qāsim",
    "hāʃim",
    "ʔamīn",
    "muṣṭafā",
    "ʕabd_allāh",
    "ʕabd_alraħmān",
    "ʕabd_alqādir",
    "ʕabd_alkarīm",
    "ʕabd_alʕazīz",
    "fāṭimɐ",
    "ʕāʔiʃɐ",
    "xadījɐ",
    "maryam",
    "zaynab",
    "ʔāminɐ",
    "layla",
    "nūr",
    "hudā",
    "salmā",
    "jamīlɐ",
    "ħalīmɐ",
    "raħmɐ",
    "samīrɐ",
    "yāsmīn",
    "ʕabla",
)
CONVENTIONS = ("ala-lc", "english", "french", "somali")

_CONSONANTS = {
    "b": ("ب", "b", "b", "b", "b"),
    "t": ("ت", "t", "t", "t", "t"),
    "θ": ("ث", "th", "th", "th", "t"),
    "j": ("ج", "j", "j", "dj", "j"),
    "ʤ": ("ج", "j", "g", "dj", "j"),
    "ħ": ("ح", "h", "h", "h", "x"),
    "x": ("خ", "kh", "kh", "kh", "kh"),
    "d": ("د", "d", "d", "d", "d"),
    "ð": ("ذ", "dh", "z", "d", "dh"),
    "r": ("ر", "r", "r", "r", "r"),
    "z": ("ز", "z", "z", "z", "z"),
    "s": ("س", "s", "s", "s", "s"),
    "ʃ": ("ش", "sh", "sh", "ch", "sh"),
    "ṣ": ("ص", "s", "s", "s", "s"),
    "ḍ": ("ض", "d", "d", "d", "d"),
    "ṭ": ("ط", "t", "t", "t", "t"),
    "ẓ": ("ظ", "z", "z", "z", "z"),
    "ʕ": ("ع", "", "", "", "c"),
    "ɣ": ("غ", "gh", "gh", "gh", "g"),
    "f": ("ف", "f", "f", "f", "f"),
    "q": ("ق", "q", "q", "k", "q"),
    "k": ("ك", "k", "k", "k", "k"),
    "l": ("ل", "l", "l", "l", "l"),
    "m": ("م", "m", "m", "m", "m"),
    "n": ("ن", "n", "n", "n", "n"),
    "h": ("ه", "h", "h", "h", "h"),
    "w": ("و", "w", "w", "ou", "w"),
    "y": ("ي", "y", "y", "y", "y"),
    "ʔ": ("ا", "", "", "", ""),
}
_VOWELS = {  # Arabic script, ala-lc, english, french, somali
    "a": ("", "a", "a", "a", "a"),
    "i": ("", "i", "e", "i", "i"),
    "u": ("", "u", "o", "ou", "u"),
    "ā": ("ا", "a", "a", "a", "aa"),
    "ī": ("ي", "i", "ee", "i", "ii"),
    "ū": ("و", "u", "ou", "ou", "uu"),
    "ɐ": ("ة", "ah", "a", "a", "o"),
}
_FINAL_ALIF = "ى"  # a final long a is written with alif maqsura (Mūsā, Muṣṭafā, Hudā)


def _render_word(word: str, script: int) -> str:
    """One name without the article, in Arabic script (0) or a Latin convention (1-4)."""
    out: list[str] = []
    for i, ch in enumerate(word):
        if ch in _CONSONANTS:
            letter = _CONSONANTS[ch][script]
            if script == 0 and ch == "ʔ" and i > 0:
                letter = "ئ"  # a hamza within a name sits on a yeh seat (عائشة)
            if script == 0 and i > 0 and word[i - 1] == ch:
                continue  # a doubled consonant is one letter (shadda, unwritten)
            out.append(letter)
        elif ch in _VOWELS:
            if script == 0 and i == 0:
                out.append("ا")  # a name starting with a vowel starts with alif (hamza)
            if script == 0 and ch == "ā" and i == len(word) - 1:
                out.append(_FINAL_ALIF)
                continue
            vowel = _VOWELS[ch][script]
            # French registries write a short a in a closed final syllable as e: Ahmed, Mohamed
            if script == 3 and ch == "a" and i == len(word) - 2 and word[-1] in _CONSONANTS:
                vowel = "e"
            out.append(vowel)
    return "".join(out)


def render(name: str, convention: str | None) -> str:
    """A phonemic name in Arabic script (``convention`` None) or in a Latin convention."""
    script = 0 if convention is None else 1 + CONVENTIONS.index(convention)
    if "_" not in name:
        text = _render_word(name, script)
        return text if script == 0 else text.capitalize()
    head, rest = name.split("_", 1)
    first, tail = _render_word(head, script), _render_word(rest, script)
    if script == 0:
        return f"{first} {'ال' + _render_word(rest[2:], 0) if rest != 'allāh' else 'الله'}"
    if convention == "french":  # Abdelkader, Abdallah: one word, the article el
        return (first + ("el" + tail[2:] if rest.startswith("al") and rest != "allāh" else tail)).capitalize()
    if convention == "somali":  # Cabdullaahi, Cabdiqaadir
        return (
            first + "i" + tail[2:] if rest.startswith("al") and rest != "allāh" else first + tail
        ).capitalize()
    article = "al-" if convention == "ala-lc" else "al "
    return (
        f"{first.capitalize()} {article}{tail[2:].capitalize()}"
        if rest != "allāh"
        else (f"{first.capitalize()} {tail.capitalize()}")
    )


def people(n: int, seed: int) -> list[tuple[str, ...]]:
    """n distinct people, each a given name, their father's and their grandfather's (2 or 3 names)."""
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    out: list[tuple[str, ...]] = []
    while len(out) < n:
        person = tuple(rng.choice(NAMES) for _ in range(rng.choice((2, 3))))
        if person not in seen and len(set(person)) == len(person):
            seen.add(person)
            out.append(person)
    return out
