"""Lookalike data and checks for addresses (UTS #39 subset): scripts, restriction level, skeleton.

Core layer: pure tables and functions, no I/O (the Unicode data files are not read at runtime).
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "COMMON",
    "INHERITED",
    "script_of",
    "scripts_of",
    "is_highly_restrictive",
    "skeleton",
    "looks_ascii",
]

COMMON = "COMMON"
INHERITED = "INHERITED"

# Python's unicodedata has no Script property, so the script is taken from the first
# word of the character name (UCD names start with the script for letters), with the
# aliases below. Unknown first words count as their own script: stricter, never looser.
_NAME_ALIASES = {
    "CJK": "HAN",
    "IDEOGRAPHIC": "HAN",
    "ARABIC-INDIC": "ARABIC",
    "KATAKANA-HIRAGANA": COMMON,  # U+30FC, U+30A0: Scripts.txt Common
}
_SKIP_WORDS = frozenset({"FULLWIDTH", "HALFWIDTH", "EXTENDED", "SMALL", "CAPITAL", "MATHEMATICAL"})

# UTS #39 §5.2 "Highly Restrictive": one script, or one of these combinations
# (Common and Inherited ignored).
_ALLOWED_COMBOS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def script_of(ch: str) -> str:
    """Approximate Unicode Script of one character (``COMMON``/``INHERITED`` included)."""
    cat = unicodedata.category(ch)
    if ch.isascii():
        return "LATIN" if ch.isalpha() else COMMON
    if cat[0] in "PSZC" or cat == "Lm" and ch in "\u02b9\u02ba\u02bb\u02bc\u02bd":
        return COMMON
    name = unicodedata.name(ch, "")
    if not name:
        return "UNKNOWN"
    if cat[0] == "M" and name.startswith("COMBINING"):
        return INHERITED
    words = name.split()
    while len(words) > 1 and words[0] in _SKIP_WORDS:
        words = words[1:]
    first = words[0]
    if first == "DIGIT" or (cat == "Nd" and first in ("SUPERSCRIPT", "SUBSCRIPT")):
        return COMMON
    return _NAME_ALIASES.get(first, first)


def scripts_of(text: str) -> frozenset[str]:
    """The set of scripts in ``text``, without Common and Inherited."""
    return frozenset(s for s in map(script_of, text) if s not in (COMMON, INHERITED))


def is_highly_restrictive(text: str) -> bool:
    """UTS #39 §5.2 restriction level "Highly Restrictive" (single script or CJK combos)."""
    scripts = scripts_of(text)
    if len(scripts) <= 1:
        return True
    return any(scripts <= combo for combo in _ALLOWED_COMBOS)


# Reviewed subset of Unicode confusables.txt (UTS #39 data; every entry checked against
# the 10.0.0 file, whose prototypes for these characters later versions keep): single
# characters whose prototype is ASCII, restricted to what matters for addresses
# (lowercase letters of Cyrillic, Greek, Armenian, Hebrew and Latin-extended, digits of
# Arabic and Indic scripts, and the ASCII pairs 0/O, 1/l, I/l, |/l, m/rn). Input is
# lowercased and NFKD-normalised first, which already folds fullwidth and mathematical
# letters (confusables.txt lists those too).
_PROTOTYPES: dict[str, str] = {
    # ASCII (0030→004F, 0031→006C, 007C→006C, 006D→0072 006E); "O" is lowercase here
    # because skeletons are taken of lowercase text, where "I" is already "i".
    "0": "o",
    "1": "l",
    "|": "l",
    "m": "rn",
    # Latin extended and IPA
    "\u0131": "i",  # ı dotless i
    "\u017f": "f",  # ſ long s
    "\u018d": "g",  # ƍ
    "\u01bd": "s",  # ƽ
    "\u0251": "a",  # ɑ
    "\u0261": "g",  # ɡ
    "\u0263": "y",  # ɣ
    "\u0269": "i",  # ɩ
    "\u026a": "i",  # ɪ
    "\u026f": "w",  # ɯ
    "\u028b": "u",  # ʋ
    "\u028f": "y",  # ʏ
    "\u1d04": "c",  # ᴄ
    "\u1d0f": "o",  # ᴏ
    "\u1d1c": "u",  # ᴜ
    "\u1d20": "v",  # ᴠ
    "\u1d21": "w",  # ᴡ
    "\u1d22": "z",  # ᴢ
    # Greek
    "\u03b1": "a",  # α
    "\u03b3": "y",  # γ
    "\u03b9": "i",  # ι
    "\u03bd": "v",  # ν
    "\u03bf": "o",  # ο
    "\u03c1": "p",  # ρ
    "\u03c3": "o",  # σ
    "\u03c5": "u",  # υ
    "\u03f1": "p",  # ϱ
    "\u03f2": "c",  # ϲ
    "\u03f3": "j",  # ϳ
    # Cyrillic
    "\u0430": "a",  # а
    "\u0433": "r",  # г
    "\u0435": "e",  # е
    "\u043e": "o",  # о
    "\u0440": "p",  # р
    "\u0441": "c",  # с
    "\u0443": "y",  # у
    "\u0445": "x",  # х
    "\u0455": "s",  # ѕ
    "\u0456": "i",  # і
    "\u0458": "j",  # ј
    "\u0461": "w",  # ѡ
    "\u0475": "v",  # ѵ
    "\u04af": "y",  # ү
    "\u04bb": "h",  # һ
    "\u04bd": "e",  # ҽ
    "\u04cf": "i",  # ӏ (10.0.0: → i)
    "\u0501": "d",  # ԁ
    "\u051b": "q",  # ԛ
    "\u051d": "w",  # ԝ
    # Armenian
    "\u0561": "w",  # ա
    "\u0563": "q",  # գ
    "\u0566": "q",  # զ
    "\u0570": "h",  # հ
    "\u0578": "n",  # ո
    "\u057c": "n",  # ռ
    "\u057d": "u",  # ս
    "\u0581": "g",  # ց
    "\u0584": "f",  # ք
    "\u0585": "o",  # օ
    # Hebrew
    "\u05d5": "l",  # ו
    "\u05d8": "v",  # ט
    "\u05df": "l",  # ן
    "\u05e1": "o",  # ס
    # Arabic and Indic digits and letters
    "\u0627": "l",  # ا
    "\u0647": "o",  # ه
    "\u0661": "l",  # ١
    "\u0665": "o",  # ٥
    "\u06f1": "l",  # ۱
    "\u06f5": "o",  # ۵
    "\u0966": "o",  # ० Devanagari zero
}


def skeleton(text: str) -> str:
    """UTS #39 §4 skeleton over the embedded table: two strings with equal skeletons look alike.

    Steps: lowercase, NFKD, map each character to its prototype, NFKD again. (UTS #39
    uses NFD; NFKD also folds compatibility variants, which Waypost refuses anyway.)
    """
    folded = unicodedata.normalize("NFKD", text.lower())
    mapped = "".join(_PROTOTYPES.get(ch, ch) for ch in folded)
    return unicodedata.normalize("NFKD", mapped)


def looks_ascii(text: str) -> bool:
    """True when non-ASCII ``text`` has an all-ASCII skeleton (looks like an ASCII string)."""
    return not text.isascii() and skeleton(text).isascii()
