"""What a buyer typed: is it a text we can print as typed, and if not, why not.

The deterministic readers use ``read_text``: a free-text value becomes print text without the AI only
when it can be read one way, i.e. a plain name or short text (letters, accents, spaces, inner hyphens and
apostrophes, initials; digits only on registration plates). Everything else (quantity multipliers,
placeholder words, quotes, brackets, labels, colours or fonts named in the text, sentences and
instructions, lists joined by "&", "and" or ",") is a question for the AI or a person, and the answer says
which class it fell in.

``output_problems`` is the narrower check applied to any text about to be printed, the AI's included: the
classes that are never print text (a multiplier, "N/A", a label, quotes, an instruction, a colour or font
named next to the text).

``fold``/``tokens``/``find_span`` compare texts the way a person would (case, accents, curly quotes,
"&" = "and"), so that the AI's answer can be traced back to what the buyer typed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from y3d_pipeline.print_queue.palette import COLOUR_ALIASES, DEFAULT_PALETTE

MAX_PLAIN_WORDS = 4
MAX_PLAIN_CHARS = 30

# Colour words that are also given names: "Violet", "Ruby Rose" are names to print, never colours.
NAME_LIKE_COLOURS = {"violet", "scarlet", "scarlett", "ivory", "rose", "ruby", "amber", "jade", "hazel", "olive",
                     "ginger", "coral", "indigo", "sienna", "saffron", "lavender", "skin", "sky", "bone", "peach",
                     "honey"}
# Colours that are also common surnames (Olivia Brown, Jack White): a colour only when the item's colour
# option names the same colour, or when the word stands alone.
SURNAME_COLOURS = {"brown", "white", "green", "black", "grey", "gray", "gold", "silver"}
_LONE_COLOURS = {"red", "blue", "pink", "green", "yellow", "orange", "purple", "black", "white", "grey", "gray",
                 "gold", "silver", "navy", "magenta", "turquoise", "teal", "beige", "cream", "bronze", "lilac",
                 "brown", "aqua", "cyan", "maroon", "burgundy", "fuchsia", "khaki", "lime"}
_BASIC_COLOURS = _LONE_COLOURS | {"transparent", "multicolour", "multicolor", "rainbow", "glow", "neon", "matt",
                                  "matte", "silk", "glitter", "metallic", "pastel"}
FONT_NAMES = {"arial", "helvetica", "calibri", "pacifico", "lobster", "bebas", "roboto", "verdana", "montserrat",
              "comic sans", "times new roman", "dancing script", "great vibes", "brush script", "open sans",
              "courier", "bebas neue", "arial rounded"}
FONT_WORDS = {"font", "fonts", "typeface", "cursive", "italic", "italics", "bold", "serif", "handwriting"}
# Words that make a value an instruction or a sentence rather than the text itself.
INSTRUCTION_WORDS = {
    "please", "pls", "plz", "thanks", "thank", "thankyou", "thx", "cheers", "hi", "hello", "hey", "sorry", "typo",
    "mistake", "correction", "instead", "actually", "should", "could", "would", "can", "will", "want", "wanted",
    "need", "needs", "like", "make", "print", "printed", "printing", "engrave", "engraved", "engraving", "put",
    "write", "written", "say", "says", "saying", "spell", "spelt", "spelled", "spelling", "add", "same", "exactly",
    "only", "just", "also", "each", "both", "either", "every", "one", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "ten", "front", "back", "reverse", "side", "sides", "top", "bottom", "line", "lines",
    "name", "names", "text", "letters", "letter", "word", "words", "caps", "capital", "capitals", "lowercase",
    "uppercase", "colour", "color", "colours", "colors", "keyring", "keyrings", "keychain", "keychains", "tag",
    "tags", "qty", "quantity", "pcs", "pieces", "piece", "copies", "copy", "times", "order", "ordered", "message",
    "note", "notes", "see", "below", "above", "attached", "photo", "picture", "image", "i", "im", "i'm", "id",
    "i'd", "my", "me", "you", "your", "it", "is", "are", "this", "that", "these", "those", "if", "not", "with",
    "without", "or", "on", "in", "for", "personalisation", "personalization", "personalised", "personalized",
    "optional", "custom", "wording", "surname", "firstname", "first", "second", "third", "last", "other",
    "regards", "sincerely", "ta",  # sign-offs on the line after the text
}
# The narrow list for text about to be printed (the AI's included): these never belong on a keyring.
_OUTPUT_INSTRUCTIONS = re.compile(
    r"\b(please|pls|plz|thanks|thank you|thankyou|sorry|typo|font|fonts|colou?rs?|keyrings?|keychains?|"
    r"on the (front|back|other side|reverse)|front side|back side|both sides|each one|same as|"
    r"should (say|read|be)|make it|can you|could you|would like|i want|i'd like|personali[sz]ation|qty|quantity|"
    r"(it'?s|it is|this is|these are|they'?re) for|for (my|our|his|her|their)|(kind |best |warm )?regards|"
    r"sincerely)\b")
PLACEHOLDER_VALUES = {
    "n/a", "na", "n.a", "n a", "none", "no", "nil", "null", "nothing", "x", "xx", "xxx", "tbc", "tba", "tbd",
    "to be confirmed", "to follow", "not required", "not needed", "not applicable", "no personalisation",
    "no personalization", "no name", "no names", "no text", "blank", "leave blank", "left blank", "empty", "same",
    "same as before", "as above", "as before", "see notes", "see note", "see message", "see below", "test",
    "default", "as shown", "as pictured", "as per photo", "as per picture", "any", "anything", "whatever",
    "not sure", "unsure", "don't mind", "dont mind",
}
_PLACEHOLDER_PATTERNS = (
    re.compile(r"^(no|not|none)\b.{0,40}\b(required|requested|needed|necessary|wanted|thanks|thank you|please)"
               r"( on this item)?$"),
    re.compile(r"^see (the )?(notes?|messages?|below|above|chat|email)\b"),
    re.compile(r"^(i )?(will|i'll|ill|i will) (message|send|email|contact|confirm)\b"),
    re.compile(r"^(message|contact) (me|you|seller)\b"),
    re.compile(r"^no (name|names|text|wording|writing|words|personali[sz]ation)\b"),
    # a pointer to text somewhere else, never the text: "as per message", "same as last order", "as discussed"
    re.compile(r"^(as|like|same as|see|check|per|details?)( (per|in|on|the|my|your|our|last|previous|first|"
               r"attached))* (messages?|msgs?|notes?|emails?|chat|conversation|photos?|pictures?|pics?|images?|"
               r"screenshots?|listing|description|instructions?|orders?|times?|year|one|before|above|below)\b"),
    re.compile(r"^(as|like) (discussed|agreed|requested|arranged|mentioned|before|previously|shown|pictured)\b"),
    # "no text" said other ways: "Plain", "Leave it blank", "No need", "Surprise me", "Any name is fine"
    re.compile(r"^(just |keep it |leave it |left |totally |completely )?(plain|blank|empty|nope|nah)"
               r"( please| thanks| thank you| is fine| ok)?$"),
    re.compile(r"^(leave|keep) (it |this |them )?(blank|empty|plain|as is|clear)\b"),
    re.compile(r"^no (need|thanks|thank you|preference|pref)\b"),
    re.compile(r"^not (personali[sz]ed|bothered|fussed|sure)\b"),
    re.compile(r"^(as is|surprise me|your choice|(dealer|maker|seller)'?s choice|up to you|dealers choice|"
               r"any (name|names|text|words?|colou?r))\b"),
    re.compile(r"^(without|with no|w/o) (a |any )?(names?|text|personali[sz]ation|writing|words?)\b"),
    re.compile(r"^(i )?(don'?t|do not) (need|want|mind)\b"),
    re.compile(r"^same (again|as (before|last|previous|usual))\b"),
    re.compile(r"\b(same as|repeat( of)?|like) (my |the |our )?(last|previous|prior|first|other) (order|one|time)\b"),
)
_MULTIPLIER = re.compile(
    r"(?<![a-z0-9])[x×]\s?\d+(?![0-9])|(?<![0-9.,])\d+\s?[x×](?![a-z0-9])|"
    r"\b\d+\s*(of|off|pcs|pieces|copies|keyrings?|keychains?|times)\b|"
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|both|all) (of|off)\b|\bx\s?(two|three|four|five)\b|"
    r"\b(on|for) (both|each|all)( of them)?\b|\bone each\b|\b(twice|thrice)\b")
# Kisses ("Sophie x", "love Nan xx") or a multiplier missing its number: never part of a name.
_KISSES = re.compile(r"(?<![^\s])(x+|(xo)+x?)(?![^\s!.,])")
# Lower-case words without a vowel (dj, bff, nhs) are acronyms whose capitals only the buyer knows; these
# few abbreviations title-case the usual way.
_TITLE_ABBREVIATIONS = {"mr", "mrs", "ms", "mx", "dr", "st", "jr", "sr", "mt", "nr"}
# Short words a full stop ends as an abbreviation ("St. Ives", "Est. 2024", "Mrs."); after any other short
# word ("Ava.") the full stop is punctuation, not text.
_ABBREVIATIONS = _TITLE_ABBREVIATIONS | {"co", "ltd", "inc", "est", "no", "ft", "rd", "ave", "jnr", "snr", "bros",
                                         "vs", "mme", "mlle", "sra", "sta", "sto", "hr", "fr", "rev", "capt", "sgt",
                                         "col", "gen", "lt", "prof", "sir"}
_QUOTES = "\"“”„«»‹›"
_APOSTROPHES = "'’ʼ‘`´"
_BRACKETS = "()[]{}<>"
_HYPHENS = "-‐‑"
_DASHES = "–—"
_SPAN_LEAD = set("#@(\"'“‘«")
_SPAN_TRAIL = set("!?)\"'”’»")
_SYMBOLS = set("*#@_=~^|\\<>{}[]$%§°")
_WORD = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*|&|\+")
_PLATE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9 ]{2,10}")
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0xFE00, 0xFE0F), (0x200D, 0x200D))


@cache
def _palette_phrases() -> frozenset[str]:
    phrases = {fold(c) for c in DEFAULT_PALETTE} | {fold(a) for a in COLOUR_ALIASES} | _BASIC_COLOURS
    return frozenset(p for p in phrases if p not in NAME_LIKE_COLOURS)


def fold(text: str) -> str:
    """Case, accents, curly quotes and spacing folded away: how a person compares two texts."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    for quote in "’ʼ‘`´":
        stripped = stripped.replace(quote, "'")
    return re.sub(r"\s+", " ", stripped.casefold()).strip()


@dataclass(frozen=True, slots=True)
class Token:
    folded: str
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    """Words of ``text`` with their positions; "&" and "+" read as "and"."""
    found = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        folded = "and" if word in ("&", "+") else fold(word)
        found.append(Token(folded, match.start(), match.end()))
    return found


def find_span(needle: str, haystacks: list[str]) -> str | None:
    """The buyer's own characters for ``needle``: the first place its words appear, in order and
    contiguous, in one of ``haystacks`` (compared folded). None when the words are not there.

    Accents, apostrophes, hyphens and "&" are the buyer's; letter case is the needle's when it differs
    only in case (the buyer may have asked for capitals), otherwise the buyer's.
    """
    wanted = [t.folded for t in tokens(needle)]
    if not wanted:
        return None
    for haystack in haystacks:
        found = tokens(haystack)
        folded = [t.folded for t in found]
        for start in range(len(found) - len(wanted) + 1):
            if folded[start:start + len(wanted)] == wanted:
                begin, end = found[start].start, found[start + len(wanted) - 1].end
                needle_tokens = tokens(needle.strip())
                lead = needle.strip()[:needle_tokens[0].start]
                trail = needle.strip()[needle_tokens[-1].end:]
                # "#TeamBride", "Happy Birthday!": the needle's own edge marks, when the buyer typed them
                # too (a stray full stop or comma the buyer typed is not carried over)
                if lead and set(lead) <= _SPAN_LEAD and haystack[max(0, begin - len(lead)):begin] == lead:
                    begin -= len(lead)
                if trail and set(trail) <= _SPAN_TRAIL and haystack[end:end + len(trail)] == trail:
                    end += len(trail)
                span = haystack[begin:end]
                same_letters = unicodedata.normalize("NFC", needle.strip()).casefold() == \
                    unicodedata.normalize("NFC", span).casefold()
                return needle.strip() if same_letters else span
    return None


def invisible_in(text: str) -> list[str]:
    """Control and format characters (NUL, right-to-left overrides, zero-width spaces) other than line
    breaks, tabs and the joiners inside emoji: never printable, sometimes hostile."""
    return sorted({ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t\u200d\ufe0f"})


def strip_invisible(text: str | None) -> str | None:
    if text is None:
        return None
    bad = set(invisible_in(text))
    return "".join(ch for ch in text if ch not in bad) if bad else text


def emoji_in(text: str) -> list[str]:
    found = []
    for ch in text:
        code = ord(ch)
        if any(lo <= code <= hi for lo, hi in _EMOJI_RANGES) or unicodedata.category(ch) == "So":
            if ch not in found and code not in (0xFE0F, 0x200D):
                found.append(ch)
    return found


def clean_lines(value: str) -> list[str]:
    """NFC, tabs and runs of spaces collapsed, blank lines dropped."""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \u00a0]+", " ", line).strip() for line in text.split("\n")]
    return [line for line in lines if line]


def placeholder_word(value: str) -> bool:
    key = fold(value).strip(" .!?,;:")
    if not key or all(ch in "-_.?!*/\\~=+ " for ch in key):
        return True
    return key in PLACEHOLDER_VALUES or any(p.search(key) for p in _PLACEHOLDER_PATTERNS)


def colour_words(text: str, context: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Colour names (palette, aliases, everyday colours) in ``text`` that read as a colour, not a name.

    ``context``: the folded colours the item's colour options name (a surname-like colour counts then).
    """
    words = [t.folded for t in tokens(text)]
    phrases = _palette_phrases()
    found = []
    for size in (4, 3, 2, 1):
        for start in range(len(words) - size + 1):
            phrase = " ".join(words[start:start + size])
            if phrase not in phrases or phrase in found or any(phrase in f.split() for f in found):
                continue
            if phrase in SURNAME_COLOURS and len(words) > 1 and phrase not in context:
                continue
            found.append(phrase)
    return found


def colour_context(*values: str | None) -> frozenset[str]:
    """The colour words an item's colour fields name (folded), for telling "Olivia Brown" the name from
    "Olivia Brown" the colour."""
    found: set[str] = set()
    for value in values:
        if value:
            found.update(colour_words(value, context=frozenset(SURNAME_COLOURS)))
            found.update(w for w in fold(value).split() if w in SURNAME_COLOURS)
    return frozenset(found)


def font_words(text: str) -> list[str]:
    folded = " ".join(t.folded for t in tokens(text))
    found = [w for w in FONT_WORDS if re.search(rf"\b{w}\b", folded)]
    found += [f for f in FONT_NAMES if re.search(rf"\b{re.escape(f)}\b", folded)]
    return found


def _char_problem(line: str, *, allow_and: bool, regkey: bool) -> str | None:
    for index, ch in enumerate(line):
        before = line[index - 1] if index else ""
        after = line[index + 1] if index + 1 < len(line) else ""
        if ch.isalpha() or unicodedata.category(ch).startswith("M") or ch == " ":
            continue
        if ch in _QUOTES:
            return "quotes around the text"
        if ch in _APOSTROPHES:
            if before.isalpha() and after.isalpha():
                continue  # O'Neill, D’Angelo
            if before.isalpha() and ch in "'’" and not after.strip():
                continue  # Chris' (possessive)
            return "quotes around the text"
        if ch in _BRACKETS:
            return "brackets in the text"
        if ch in _HYPHENS:
            if before.isalpha() and after.isalpha():
                continue  # Ana-María
            return "a dash separating parts of the text"
        if ch in _DASHES:
            return "a dash separating parts of the text"
        if ch.isdigit():
            if regkey:
                continue
            return "numbers in the text"
        if ch == ".":
            word = re.findall(r"[^\W\d_]+$", line[:index])
            if word and (len(word[0]) == 1 or fold(word[0]) in _ABBREVIATIONS) \
                    and (not after or after == " " or after.isalpha()):
                continue  # initials and abbreviations: J.R., St. John, Mrs.
            return "a full stop: reads like a sentence"
        if ch == "&" and before == " " and after == " ":
            if allow_and:
                continue
            return "'&' may join texts for separate items"
        if ch == ":":
            return "a label or separator ':'"
        if emoji_in(ch):
            continue  # printable question for a person, flagged later; not a reading problem
        if ch in ",;/|+\t":
            return f"a list separator '{ch}'".replace("'\t'", "(tab)")
        return f"the character '{ch}'"
    return None


def kisses_in(text: str) -> str | None:
    """A standalone "x", "xx", "xoxo" beside other words: kisses or a multiplier without its number."""
    folded = fold(text)
    if not re.search(r"[^\W\d_]", _KISSES.sub("", folded)):
        return None  # the whole value is x's: a placeholder, said elsewhere
    found = _KISSES.search(folded)
    return found.group(0) if found else None


def lowercase_guess(text: str) -> str | None:
    """A word typed in lower case whose capitals title-casing would guess: no vowel (dj, bff: an acronym)
    or a Mc name (mckenzie: McKenzie or Mckenzie)."""
    if text != text.lower():
        return None
    for token in tokens(text):
        word = token.folded
        if not re.fullmatch(r"[a-z]+", word) or word in _TITLE_ABBREVIATIONS or word in PLACEHOLDER_VALUES:
            continue
        if 2 <= len(word) <= 5 and not re.search(r"[aeiouy]", word) or len(word) > 3 and word.startswith("mc"):
            return word
    return None


def plain_problem(line: str, *, allow_and: bool = True, regkey: bool = False,
                  context: frozenset[str] = frozenset()) -> str | None:
    """Why one line of buyer text is not a plain name or short text (None when it is)."""
    if placeholder_word(line):
        return f"'{line}' is not a text to print"
    folded = fold(line)
    if _MULTIPLIER.search(folded):
        return "a quantity in the text"
    kisses = kisses_in(line)
    if kisses:
        return f"kisses or a count without its number ('{kisses}')"
    problem = _char_problem(line, allow_and=allow_and, regkey=regkey)
    if problem:
        return problem
    guess = None if regkey else lowercase_guess(line)
    if guess:
        return f"'{guess}' typed in lower case: its capitals would be a guess"
    words = [t.folded for t in tokens(line)]
    if regkey and _PLATE.fullmatch(line):
        return None
    if "and" in words and not allow_and:
        return "'and' may join texts for separate items"
    colours = colour_words(line, context)
    if colours:
        return f"a colour named in the text ({', '.join(colours)})"
    fonts = font_words(line)
    if fonts:
        return f"a font named in the text ({', '.join(sorted(fonts))})"
    instruction = next((w for w in words if w in INSTRUCTION_WORDS), None)
    if instruction:
        return f"reads like an instruction or sentence ('{instruction}')"
    if len(words) > MAX_PLAIN_WORDS or len(line) > MAX_PLAIN_CHARS:
        return f"long text ({len(words)} words)"
    return None


@dataclass(frozen=True, slots=True)
class TextReading:
    """``texts``: one text for every unit, or exactly one per unit (``per_unit``); else ``problem``."""

    texts: tuple[str, ...] = ()
    per_unit: bool = False
    problem: str | None = None


def read_text(value: str | None, quantity: int, *, regkey: bool = False,
              context: frozenset[str] = frozenset()) -> TextReading:
    """Read one free-text field for an item of ``quantity`` units."""
    lines = clean_lines(value or "")
    if not lines:
        return TextReading(problem="no text given")
    if len(lines) == 1:
        problem = plain_problem(lines[0], allow_and=quantity == 1, regkey=regkey, context=context)
        words = tokens(lines[0])
        if not problem and not regkey and quantity > 1 and len(words) == quantity:
            # "Ava Leo Max" for 3 keyrings: one name per keyring, or one full name on each?
            problem = f"{quantity} words for {quantity} items (one name per item, or one text on each?)"
        return TextReading(problem=problem) if problem else TextReading((lines[0],))
    if len(lines) != quantity:
        joined = " / ".join(lines)
        if placeholder_word(joined):
            return TextReading(problem=f"'{joined}' is not a text to print")
        return TextReading(problem=f"{len(lines)} lines for {quantity} item(s)")
    for line in lines:
        problem = plain_problem(line, allow_and=False, regkey=regkey, context=context)
        if problem:
            return TextReading(problem=f"line '{line}': {problem}")
    return TextReading(tuple(lines), per_unit=True)


def output_problems(text: str, quantity: int, context: frozenset[str] = frozenset()) -> list[str]:
    """Why ``text`` cannot be printed as it stands (for any task text, the AI's included)."""
    problems = []
    lines = clean_lines(text)
    folded = fold(text)
    if any(placeholder_word(line) for line in lines):
        problems.append(f"'{text}' is not a text to print")
    if _MULTIPLIER.search(folded):
        problems.append("it contains a quantity")
    elif quantity > 1 and re.search(rf"(?<![\d.,]){quantity}(?!\d|[.,]\d)", folded):
        problems.append(f"it contains the number {quantity}, the ordered quantity")
    if re.search(r"(^|\s)\d{1,2}[.)]\s", text):
        problems.append("it contains a numbered list")
    kisses = kisses_in(text)
    if kisses:
        problems.append(f"it contains kisses or a count without its number ('{kisses}')")
    symbols = sorted({ch for ch in text if ch in _SYMBOLS})
    if symbols:
        problems.append(f"it contains the symbol(s) {' '.join(symbols)}")
    if any(ch in _QUOTES for ch in text) or any(
            re.search(r"(^|\s)['‘’`]|['‘`](\s|$)", line) for line in lines):
        problems.append("it contains quotes")
    if any(ch in _BRACKETS for ch in text):
        problems.append("it contains brackets")
    if "?" in text:
        problems.append("it reads like a question")
    if quantity > 1 and (len(lines) > 1 or re.search(r"[,/;+&\t]|\band\b", text, re.I)):
        problems.append(f"it may hold several texts for the {quantity} items")
    elif re.fullmatch(r"[^\W\d_][\w'’-]*\s*,\s*[^\W\d_][\w'’-]*", text.strip()):
        problems.append("it reads like 'Surname, First name' or a list")
    if re.search(r"(^|\n)\s*[^\W\d_][\w ]{0,24}:", text) or ":" in text:
        problems.append("it contains a label or ':'")
    instruction = _OUTPUT_INSTRUCTIONS.search(folded)
    if instruction:
        problems.append(f"it reads like an instruction ('{instruction.group(0)}')")
    colours = colour_words(text, context)
    if colours:
        problems.append(f"it names a colour ({', '.join(colours)})")
    fonts = [f for f in font_words(text) if f not in ("bold",)]
    if fonts:
        problems.append(f"it names a font ({', '.join(sorted(fonts))})")
    return problems

