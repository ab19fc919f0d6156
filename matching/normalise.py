"""Name and text normalisation across scripts.

Every name becomes a list of :class:`Token`: the token as written (Unicode-normalised, in its own
script) and comparable Latin forms derived from it. Transliteration itself is anyascii's; the rules
here only cover what it leaves inconsistent between the ways the same name is written on a migration
route (Arabic particles and compounds, abbreviations, Somali and Cyrillic conventions, Ge'ez
compound names), and each rule has a test in ``tests/matching/test_normalise.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from anyascii import anyascii

# --- Arabic script -----------------------------------------------------------------------------
_ARABIC_RANGE = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_ETHIOPIC_RANGE = re.compile(r"[\u1200-\u139f\u2d80-\u2ddf]")
_CYRILLIC_RANGE = re.compile(r"[\u0400-\u04ff]")
_HARAKAT = re.compile(r"[\u064b-\u065f\u0670\u06d6-\u06ed]")
_ARABIC_FOLD = str.maketrans(
    {
        "\u0640": None,  # tatweel
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ی": "ي",  # Persian yeh
        "ک": "ك",  # Persian kaf
        "ۀ": "ه",
    }
)
_ARABIC_DROP = {"بن", "ابن", "بنت"}  # patronymic links: X bin Y bin Z lists names, it does not add one
_ALLAH_SUFFIX = {"ullah", "ulla", "allah", "alla", "ollah", "olla", "illah", "llah"}
_ARABIC_JOIN_NEXT = {"عبد", "ابو", "ام"}  # the first word of a compound name


def _normalise_arabic_tokens(tokens: list[str]) -> list[str]:
    out: list[str] = []
    join = ""
    for i, raw in enumerate(tokens):
        tok = _HARAKAT.sub("", raw.translate(_ARABIC_FOLD))
        if not tok:
            continue
        if tok in _ARABIC_DROP and i + 1 < len(tokens):
            continue
        if tok in _ARABIC_JOIN_NEXT and i + 1 < len(tokens):
            join += tok
            continue
        if join:
            out.append(join + tok)
            join = ""
            continue
        if tok == "الله" and out:  # ذبيح الله = ذبيحالله (Zabihullah)
            out[-1] += tok
            continue
        if tok.startswith("ال") and len(tok) >= 4:
            tok = tok[2:]
        out.append(tok)
    if join:
        out.append(join)
    return out


# --- Latin forms -------------------------------------------------------------------------------
_ABBREVIATIONS = {
    "md": "mohammed",
    "mhd": "mohammed",
    "mohd": "mohammed",
    "muhd": "mohammed",
    "moh": "mohammed",
    "mohd.": "mohammed",
    "mohamad": "mohammed",
}
_PARTICLES = {"al", "el", "ul", "ad", "as", "ar", "an", "at", "ash", "az", "ed", "es", "er", "en", "et"}
_PATRONYMIC_LINKS = {"bin", "ibn", "bint", "ben", "binti", "wad", "walad", "ould", "oglu"}
_JOIN_NEXT = {
    "abu",
    "abou",
    "abo",
    # the Maghreb's Bou (أبو): Bou Ziane / Bouziane, Bou Mediene / Boumediene
    "bou",
    "umm",
    "um",
    "om",
    "abd",
    "abdel",
    "abdul",
    "abdal",
    "abdol",
    "abdil",
}
# Ge'ez compound names are written both joined and apart (Gebre Medhin / Gebremedhin, Haile Mariam /
# Hailemariam): a servant, gift or power of God, Mary, the Trinity or a saint. Their first words are
# given names on their own too (Haile Tesfaye is Haile, son of Tesfaye), so they join only a second
# word that makes the compound.
_GEEZ_COMPOUND_FIRST = {
    "gebre",
    "gebri",
    "ghebre",
    "gebra",
    "wolde",
    "welde",
    "walda",
    "habte",
    "tekle",
    "haile",
    "hayle",
    "tesfa",
    "kidane",
    "zere",
    "zera",
}
_GEEZ_COMPOUND_SECOND = re.compile(
    "^(?:"
    + "|".join(
        [
            "mar[iy]am",  # Mary
            "medi?h",  # the Saviour: Medhin, Medihin
            "s[ei]?ll?as",  # the Trinity: Selassie, Sellassie, Silassie, Slase
            "mi[ck]h?a|mika",  # Michael, Mikael
            "gi?y?orgi|georgi",  # Giorgis, Giyorgis
            "i?e?yesus",  # Jesus
            "kr[ie]?stos|christos",
            "[ie]?gzi",  # Egziabher (God)
            "gabri|gebri?el",  # Gabriel
            "hiw[eo]t|hywet",  # life
            "tsadi?k",  # the righteous
            "amlak",  # the Lord
            "ha[iy]manot",  # faith
            "tensa[ey]",  # the Resurrection
            "e?m?manu|amanu",  # Emmanuel
            "m[ie]?hret",  # mercy
            "tsi?y?on|zion",
            "ya[ckq]+o+b",  # Jacob: Zera Yaqob
        ]
    )
    + ")"
)
_ABD_PREFIX = re.compile(
    r"^abd(?:el|al|ul|ol|il|ur|ar|er|as|us|ush|ash|ud|ad|an|un|en|i|e|u|a|(?=[bcdfghjklmnpqrstvwxz]))(?=[a-z]{3})"
)
_ATTACHED_ARTICLE = re.compile(r"^(?:al|el)(?=[bcdfghjklmnpqrstvwxz][a-z]{3})")
# The article assimilated to a sun letter and joined to the name, as Maghreb registries write it:
# Ettaher (at-Tahir), Essaid (as-Said), Ennaji (an-Naji), Eddine (ad-Din). The doubled consonant is the
# sign; at least three letters must follow it, so Essam, Assad and Attia keep theirs.
_ASSIMILATED_ARTICLE = re.compile(r"^[ae]([tdrzsnl])\1(?=[a-z]{3})")
# Prefixes Maghreb and Sahel family names are written with, apart or joined (Ben Ali / Benali,
# Bou Ziane / Bouziane, Ould Ahmed / Ouldahmed, Ait Ali / Aitali): the name without one is its bare form.
_NAME_PREFIX = re.compile(r"^(?:ben|bin|ibn|bou|abu|abou|ould|ait|wad)(?=[a-z]{3})")
# Letters that optical character recognition of passports reads as digits (and MRZ fonts invite):
# O/0, I/1, S/5, B/8, Z/2, G/6. A digit inside a name is one of them.
_OCR_DIGITS = str.maketrans("015826", "oisbzg")
_DIGIT_IN_WORD = re.compile(r"[a-z]*[0-9][a-z0-9]*[a-z][a-z0-9]*|[a-z][a-z0-9]*[0-9][a-z0-9]*")
# Name equivalents across languages that no spelling rule recovers (Yusuf / Joseph). Kept short.
_EQUIVALENTS = {
    # Arabic diminutives of Mohammed that registrations write as the name
    "hamoudi": "mohammed",
    "hamudi": "mohammed",
    "hamada": "mohammed",
    "mido": "mohammed",
    "joseph": "yusuf",
    "josef": "yusuf",
    "yousef": "yusuf",
    "youssef": "yusuf",
    "yosef": "yusuf",
    "abraham": "ibrahim",
    "moses": "musa",
    "jesus": "isa",
    "solomon": "suleiman",
    "sulayman": "suleiman",
    # David: the Arabic Dawud (داود) and the Ge'ez Dawit are one name; canonical as Arabic script reads
    "david": "dawud",
    "dawit": "dawud",
    "daoud": "dawud",
    "daud": "dawud",
    "dauda": "dawud",
    # Chad's French-era registry forms of Arabic names (Mahamat for Muhammad, Ahmat for Ahmad,
    # Abakar for Abu Bakr), as the names of Chad's presidents show them
    "mahamat": "mohammed",
    "mahammat": "mohammed",
    "ahmat": "ahmad",
    "abakar": "abubakar",
    "michael": "mikael",
    "mikhail": "mikael",
    "mykhailo": "mikael",
    "mary": "maryam",
    "mariam": "maryam",
    "miriam": "maryam",
    "alexander": "oleksandr",
    "aleksandr": "oleksandr",
    "alexandr": "oleksandr",
    "olexandr": "oleksandr",
    "aleksei": "oleksii",
    "alexei": "oleksii",
    "alexey": "oleksii",
    "sergei": "serhii",
    "sergey": "serhii",
    "nikolai": "mykola",
    "nikolay": "mykola",
    "vladimir": "volodymyr",
    "dmitri": "dmytro",
    "dmitry": "dmytro",
    "pyotr": "petro",
    "peter": "petro",
    "pavel": "pavlo",
    "paul": "pavlo",
    "elena": "olena",
    "yelena": "olena",
    "helena": "olena",
    "galina": "halyna",
    "tatiana": "tetiana",
    "tatyana": "tetiana",
    "natalia": "nataliia",
    "natalya": "nataliia",
    "anna": "hanna",
    "andrei": "andrii",
    "andrey": "andrii",
    "yuri": "yurii",
    "yury": "yurii",
    "irina": "iryna",
    "grigory": "hryhorii",
    "georgy": "heorhii",
}
# Cyrillic transliteration conventions: Vitaliy / Vitalii / Vitaly, Lyubov / Liubov.
_CYRILLIC_ENDINGS = re.compile(r"(?:iy|yy|yi|ij|ii)$")
_CYRILLIC_INITIAL = re.compile(r"^i(?=[aou])")  # Iurii / Yurii, Iaroslav / Yaroslav
_CYRILLIC_EI = re.compile(r"(?:ej|ey)$")  # Sergej / Sergey / Sergei
_CYRILLIC_IOTATED = re.compile(r"(?<=[bcdfghklmnprstvz])i(?=[aou])")


def _latin_canonical(tok: str, *, transliterated: bool = False) -> str:
    """The comparable Latin form of one lower-case ASCII token.

    ``transliterated``: the token comes from Arabic script, where md is عمد or عماد, not Md. for Mohammed.
    """
    if not transliterated:
        tok = _ABBREVIATIONS.get(tok, tok)
    if tok.startswith("cabd"):  # Somali c (ayn): Cabdiqaadir = Abdulqadir, Cabdi = Abdi
        tok = tok[1:]
    tok = _ABD_PREFIX.sub("abdul", tok)
    tok = _ATTACHED_ARTICLE.sub("", tok)
    if not transliterated:
        tok = _ASSIMILATED_ARTICLE.sub(r"\1", tok)
    tok = _CYRILLIC_ENDINGS.sub("i", tok) if len(tok) > 4 else tok
    tok = _CYRILLIC_EI.sub("ei", tok) if len(tok) > 4 else tok
    tok = _CYRILLIC_IOTATED.sub("y", tok)
    tok = _CYRILLIC_INITIAL.sub("y", tok)
    return _EQUIVALENTS.get(tok, tok)


def _joins_next(word: str, following: str | None) -> bool:
    """Whether ``word`` is the first word of a compound name written apart from ``following``."""
    if following is None or following in _PATRONYMIC_LINKS:
        return False
    if word in _GEEZ_COMPOUND_FIRST:
        return _GEEZ_COMPOUND_SECOND.match(following) is not None
    return word in _JOIN_NEXT


def _latin_tokens(text: str) -> list[str]:
    ascii_text = anyascii(text).lower()
    ascii_text = re.sub(r"[`'’ʿʾ]", "", ascii_text)  # ayn, hamza, apostrophes (Dar'ya)
    # a passport's machine-readable zone separates names with < (AL<HASSAN<<MOHAMMED), which the
    # split below treats as any separator; its optical reading puts digits for letters (M0HAMED)
    ascii_text = _DIGIT_IN_WORD.sub(lambda m: m.group(0).translate(_OCR_DIGITS), ascii_text)
    words = [w for w in re.split(r"[^a-z]+", ascii_text.replace("mohd.", "mohd ")) if w]
    out: list[str] = []
    join = ""
    for i, w in enumerate(words):
        if w in _PARTICLES and i + 1 < len(words):
            continue
        if w in _PATRONYMIC_LINKS and i < len(words) - 1:  # X bin Y; Ben Ali as a family name
            continue
        if _joins_next(w, words[i + 1] if i + 1 < len(words) else None):
            join += "abdul" if w.startswith("abd") else w
            continue
        if w in _ALLAH_SUFFIX and out and not join:  # Zabih Ullah = Zabihullah, Habib Allah
            out[-1] += "ullah"
            continue
        out.append(join + w)
        join = ""
    if join:
        out.append(join)
    return out


# --- keys --------------------------------------------------------------------------------------
_SKELETON_DIGRAPHS = [
    ("kh", "h"),
    ("ch", "h"),
    ("x", "h"),  # Khalid / Chaled / Haled, Somali Xasan = Hasan
    ("sh", "s"),
    ("th", "s"),  # tha: Othman / Osman / Usman
    ("dj", "j"),  # French transliteration: Djamila / Jamila
    ("dh", "d"),
    ("gh", "k"),
    ("ph", "f"),
    ("zh", "j"),
    ("ck", "k"),
    ("q", "k"),
    ("g", "k"),  # Abdulqader / Abdulgader / Abdul Kadir
    ("c", ""),  # Somali c is ayn: Ciise = Isse, Caasha = Aisha
    ("v", "w"),  # Persian vav: Vahid / Wahid
    ("p", "b"),
    ("z", "s"),
]
_VOWELS = re.compile(r"[aeiouyw]")
_HAS_VOWEL = re.compile(r"[aeiou]")


def french_reading(latin: str) -> str:
    """The Latin form read as French registries write Arabic names, where ch is sh (Aicha, Rachid,
    Charif), or "" when that reading is no other (no ch, or the German sch: Raschid). Elsewhere ch is
    kh (Chaled, Chalil in German registries), the reading :func:`skeleton` takes."""
    if "ch" not in latin or "sch" in latin:
        return ""
    return latin.replace("ch", "sh")


def bare_name(latin: str) -> str:
    """The name without a prefix joined to it (Benali -> ali, Bouziane -> ziane), or "" when it has
    none: the same name written with the prefix apart, where the prefix is dropped or joined."""
    bare = _NAME_PREFIX.sub("", latin)
    return bare if bare != latin else ""


def folded(latin: str) -> str:
    """The Latin form with transliteration digraphs folded, vowels kept: Chaled and Khalid -> haled, halid."""
    s = latin
    for a, b in _SKELETON_DIGRAPHS:
        s = s.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", s)


_LATIN_LONG = [
    ("ou", "W"),
    ("oo", "W"),
    ("u", "W"),
    ("o", "W"),
    ("w", "W"),
    ("ee", "Y"),
    ("ei", "Y"),
    ("ie", "Y"),
    ("i", "Y"),
    ("e", "Y"),
    ("y", "Y"),
    ("a", ""),
]


def vowel_pattern(latin: str, arabic: bool) -> str:
    """Consonants with the places of u/o (W) and i/e (Y) vowels, to tell Mahmoud from Mohammed.

    Arabic script writes long vowels only (و, ي), so an Arabic-script name's pattern must be found,
    in order, within a Latin spelling's pattern: محمود (mhmWd) fits Mahmoud but not Mohammed (mWhmYd).
    """
    s = folded(latin)
    if len(s) > 1 and s[0] in "wy":  # a leading w or y is a consonant that spellings drop or keep
        s = s[1:]
    if arabic:
        s = s.replace("w", "W").replace("y", "Y")
        s = re.sub(r"[aeiou]", "", s)
    else:
        for a, b in _LATIN_LONG:
            s = s.replace(a, b)
    return re.sub(r"([WY])\1+", r"\1", s)


def fits(arabic_pattern: str, latin_pattern: str) -> bool:
    """Is the Arabic-script pattern a subsequence of the Latin one?"""
    it = iter(latin_pattern)
    return all(ch in it for ch in arabic_pattern)


def back_vowel_places(pattern: str) -> int:
    """Where a spelling's u and o vowels stand, as a bit per place: bit k set when one follows the k-th
    consonant of its vowel pattern (bit 0: before the first). Mahmoud (mhmWd) gives bit 3, Mohammed
    (mWhmYd) bit 1: the same consonants, the u in another place, another name."""
    places = 0
    consonants = 0
    for ch in pattern:
        if ch == "W":
            places |= 1 << min(consonants, 62)
        elif ch != "Y":
            consonants += 1
    return places


def skeleton(latin: str) -> str:
    """Transliteration-aware consonant skeleton: Mohammed, Muhammad, Mhd and محمد all give 'mhmd'."""
    s = latin
    if len(s) >= 5 and s[:2] in ("al", "el") and s[2] != "y":  # Al-Obaidi, not Elyas
        s = s[2:]
    # a final -ah is silent (Fatimah / Fatima); Nuh and Saleh keep theirs
    if s.endswith("ah") and len(s) > 3:
        s = s[:-1]
    if _HAS_VOWEL.search(s):  # Aleksandr = Alexander; a vowel-less Arabic-script form keeps its k+s (كسلا)
        s = s.replace("ks", "x")
    for a, b in _SKELETON_DIGRAPHS:
        s = s.replace(a, b)
    s = _VOWELS.sub("", s)
    return re.sub(r"(.)\1+", r"\1", s)


def phonetic(latin: str) -> str:
    """A phonetic key of the Latin form (metaphone), for spellings that sound alike."""
    return str(jellyfish.metaphone(latin)) if latin else ""


@dataclass(frozen=True, slots=True)
class Token:
    """One name token: as written (normalised, original script) and its comparable forms."""

    original: str
    latin: str
    folded: str
    skeleton: str
    phonetic: str
    script: str
    pattern: str = ""  # see vowel_pattern
    french_skeleton: str = ""  # skeleton and pattern of the French reading of ch (see french_reading)
    french_pattern: str = ""
    bare: str = ""  # see bare_name


def script_of(text: str) -> str:
    if _ARABIC_RANGE.search(text):
        return "arabic"
    if _ETHIOPIC_RANGE.search(text):
        return "ethiopic"
    if _CYRILLIC_RANGE.search(text):
        return "cyrillic"
    return "latin"


# Names run together, a capital marking each (TesfayDawit, as forms without room or OCR write them):
# split where a capital follows a lower-case letter, both parts of three letters or more, so McDonald,
# DeSouza and AlHassan stay whole (the article has its own rule).
_RUN_TOGETHER = re.compile(r"(?<=[^\W\d_][a-z]{2})(?<![A-Z][a-z]{2})(?=[A-Z][a-z]{2})")


def clean(text: str) -> str:
    """NFKC, case folding and collapsed white space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@lru_cache(maxsize=200_000)
def name_tokens(text: str) -> tuple[Token, ...]:
    """Tokens of one name as written, in order, with particles and patronymic links removed."""
    text = clean(_RUN_TOGETHER.sub(" ", unicodedata.normalize("NFKC", text)))
    if not text:
        return ()
    script = script_of(text)
    tokens: list[Token] = []
    if script == "arabic":
        for word in _normalise_arabic_tokens(re.split(r"[\s\-_.,/]+", text)):
            # a final ta marbuta or heh is the vowel -a (فاطمة, Persian فاطمه: Fatima), not the h of ح
            spoken = word[:-1] + "ا" if len(word) > 2 and word[-1] in "ةه" else word
            # so is a final alif maqsura: مصطفى Mustafa, هدى Huda
            if spoken.endswith("ى"):
                spoken = spoken[:-1] + "ا"
            latins = _latin_tokens(spoken)
            for latin in latins:
                canon = _latin_canonical(latin, transliterated=True)
                tokens.append(_token(word, canon, script, spoken if len(latins) == 1 else ""))
    else:
        for latin in _latin_tokens(text):
            canon = _latin_canonical(latin)
            tokens.append(_token(latin if script == "latin" else canon, canon, script))
    return tuple(tokens)


def _token(original: str, latin: str, script: str, spoken: str = "") -> Token:
    skel, pattern = (
        _arabic_skeleton(spoken) if spoken else (skeleton(latin), vowel_pattern(latin, script == "arabic"))
    )
    french = "" if script == "arabic" else french_reading(latin)
    return Token(
        original=original,
        latin=latin,
        folded=folded(latin),
        skeleton=skel,
        phonetic=phonetic(latin),
        script=script,
        pattern=pattern,
        french_skeleton=skeleton(french) if french else "",
        french_pattern=vowel_pattern(french, False) if french else "",
        bare="" if script == "arabic" else bare_name(latin),
    )


def _arabic_skeleton(word: str) -> tuple[str, str]:
    """Skeleton and vowel pattern of an Arabic-script word, letter by letter.

    Transliterating the word at once joins letters into false digraphs (زهرا gives "zhra", read as zh;
    كهف gives "khf"); one letter at a time, خ is still kh and ز + ه stay z, h.
    """
    skel: list[str] = []
    pattern: list[str] = []
    for i, ch in enumerate(word):
        letter = re.sub(r"[`'’ʿʾ]", "", anyascii(ch).lower())
        for a, b in _SKELETON_DIGRAPHS:
            letter = letter.replace(a, b)
        if letter in ("w", "y"):
            if i > 0:  # a long vowel, except at the start where it is a consonant
                pattern.append(letter.upper())
            continue
        letter = _VOWELS.sub("", letter)
        skel.append(letter)
        pattern.append(letter)
    return (re.sub(r"(.)\1+", r"\1", "".join(skel)), re.sub(r"(.)\1+", r"\1", "".join(pattern)))


@lru_cache(maxsize=100_000)
def plain(text: str) -> str:
    """A plain comparable form of free text (places, addresses): transliterated, lower case."""
    return " ".join(re.split(r"[^a-z0-9]+", anyascii(clean(text)).lower())).strip()


_COUNTRIES = {
    "afghanistan": "AF",
    "syria": "SY",
    "syrian arab republic": "SY",
    "iraq": "IQ",
    "eritrea": "ER",
    "somalia": "SO",
    "sudan": "SD",
    "south sudan": "SS",
    "libya": "LY",
    "ukraine": "UA",
    "russia": "RU",
    "russian federation": "RU",
    "ethiopia": "ET",
    "pakistan": "PK",
    "iran": "IR",
    "yemen": "YE",
    "palestine": "PS",
    "egypt": "EG",
    "nigeria": "NG",
    "mali": "ML",
    "guinea": "GN",
    "bangladesh": "BD",
    "morocco": "MA",
    "tunisia": "TN",
    "algeria": "DZ",
    "lebanon": "LB",
    "jordan": "JO",
    "turkey": "TR",
    "turkiye": "TR",
    "chad": "TD",
    "gambia": "GM",
    "senegal": "SN",
    "ivory coast": "CI",
    "cote d ivoire": "CI",
    "cameroon": "CM",
    "congo": "CG",
    "dr congo": "CD",
    "myanmar": "MM",
    "belarus": "BY",
    "georgia": "GE",
    "armenia": "AM",
    "kurdistan": "IQ",
    "stateless": "XX",
    "سوريا": "SY",
    "العراق": "IQ",
    "افغانستان": "AF",
    "السودان": "SD",
    "ليبيا": "LY",
    "الصومال": "SO",
}


def country(text: str) -> str:
    """ISO 3166-1 alpha-2 code for a code or a country name as a registration wrote it."""
    t = clean(text)
    if not t:
        return ""
    if len(t) == 2 and t.isascii() and t.isalpha():
        return t.upper()
    if t in _COUNTRIES:
        return _COUNTRIES[t]
    return _COUNTRIES.get(plain(t), t.upper())


@lru_cache(maxsize=100_000)
def place_key(text: str) -> str:
    """Consonant skeleton of a place name, to meet it across scripts (كسلا / Kassala, حمص / Homs)."""
    return " ".join(t.skeleton for t in name_tokens(text))


def digits(text: str) -> str:
    return re.sub(r"\D+", "", text)


def phone_key(text: str) -> str:
    """Last eight digits: the same number written with and without country code or trunk zero."""
    d = digits(text)
    return d[-8:] if len(d) >= 6 else ""


def document_key(text: str) -> str:
    return re.sub(r"[^0-9A-Z]+", "", anyascii(text).upper())
