"""A Python approximation of the service's sentence segmenter
(src/text/segment.rs), used only to segment *training* articles without a
round trip through the service (which would also embed every sentence, doubling
the cost on 2 CPU cores). Dev articles are always segmented by the service.
Same rules, the abbreviation list included (is_abbreviation, added for the
golden fixtures of tests/golden.rs); its agreement with the service on the dev
articles is printed by `embed.py --check`."""
import unicodedata

TERM = set(".!?\u061F\u061B\u06D4\u2026\u203C\u203D\u2047\u2048\u2049\u3002\uFF01\uFF0E\uFF1F")
CLOSE = set("\"')]}\u2019\u201D\u00BB\u203A\uFD3E")
LINE = set("\n\r\u000B\u000C\u0085\u2028\u2029")
INVISIBLE = set("\u200B\u200C\u200D\u200E\u200F\u061C\u2060\uFEFF\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069")


def is_space(c):
    return c.isspace() or c in INVISIBLE


def trim(text, a, b):
    while a < b and is_space(text[a]):
        a += 1
    while b > a and is_space(text[b - 1]):
        b -= 1
    return a, b


# src/text/segment/abbrev.rs: periods that close an abbreviation.
ENGLISH = {
    "Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "St", "Jr", "Sr", "Gen", "Gov", "Sen", "Rep", "Col",
    "Lt", "Capt", "Sgt", "Rev", "Hon", "Mt", "Ave", "Blvd", "Inc", "Ltd", "Co", "Corp", "Bros",
    "No", "Nos", "Vol", "Fig", "Dept", "Univ", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug",
    "Sep", "Sept", "Oct", "Nov", "Dec", "vs", "etc", "approx", "cf", "al", "Mme", "Mlle",
}
TATWEEL = "\u0640"
JOINERS = {"\u200c", "\u200d"}


def _is_mark(c):
    return unicodedata.category(c) in ("Mn", "Mc", "Me")


def _is_arabic_letter(c):
    o = ord(c)
    return (0x600 <= o <= 0x6FF or 0x750 <= o <= 0x77F or 0x870 <= o <= 0x8FF
            or 0xFB50 <= o <= 0xFDFF or 0xFE70 <= o <= 0xFEFF) and c.isalpha() \
        and not _is_mark(c) and c != TATWEEL


def _single_letter(part):
    letters = [c for c in part if c != TATWEEL and not _is_mark(c) and c not in JOINERS]
    return letters[0] if len(letters) == 1 and letters[0].isalpha() else None


def is_abbreviation(before):
    """Twin of abbrev::is_abbreviation: an English abbreviation, a single
    Arabic letter, a single uppercase initial, or letters joined by periods."""
    start = len(before)
    for n, c in enumerate(reversed(before)):
        if not (c.isalnum() or c == "." or c == TATWEEL or _is_mark(c) or c in JOINERS):
            break
        if n >= 24:
            return False
        start -= 1
    token = before[start:]
    if not token:
        return False
    parts, single = 0, None
    for part in token.split("."):
        parts += 1
        letter = _single_letter(part)
        if letter is not None:
            single = letter
        elif parts == 1 and "." not in token:
            return token in ENGLISH
        else:
            return False
    if single is None:
        return False
    if parts == 1:
        return _is_arabic_letter(single) or single.isupper()
    return True


# src/text/segment/wrap.rs: line breaks that only wrap a paragraph.
MAX_WRAP_WIDTH, MIN_FULL_LINE, MIN_FULL_LINES = 100, 40, 3


def soft_line_breaks(text):
    """Offsets of the "\n"s inside hard-wrapped paragraphs (wrap.rs)."""
    lines, start = [], 0
    for at in [j for j, c in enumerate(text) if c == "\n"] + [len(text)]:
        a, b = trim(text, start, at)
        if b - a > MAX_WRAP_WIDTH:
            return set()
        lines.append((at if at < len(text) else None, b - a))
        start = at + 1
    widest = max(w for _, w in lines)
    full = [w >= MIN_FULL_LINE and 5 * w >= 4 * widest for _, w in lines]
    if sum(full) < MIN_FULL_LINES or 2 * sum(full) < sum(1 for _, w in lines if w > 0):
        return set()
    return {at for (at, _), is_full, (_, nxt) in zip(lines, full, lines[1:]) if is_full and nxt > 0}


def _split(text):
    pieces, start, first_vis, i, n = [], 0, None, 0, len(text)
    soft = soft_line_breaks(text)
    while i < n:
        c = text[i]
        if c in LINE:
            end = i + 2 if c == "\r" and text[i + 1:i + 2] == "\n" else i + 1
            if end - 1 in soft:
                i = end
                continue
            pieces.append((start, i))
            start, i, first_vis = end, end, None
            continue
        if first_vis is None and not is_space(c):
            first_vis = i
        if c in TERM:
            end, periods, others = i, 0, 0
            while end < n:
                d = text[end]
                if d == ".":
                    periods += 1
                elif d in TERM:
                    others += 1
                elif d not in CLOSE:
                    break
                end += 1
            single = periods == 1 and others == 0
            if end < n and not is_space(text[end]):
                ok = False
            elif not single:
                ok = True
            else:
                before = text[:i]
                digits = 0
                while digits < 4 and digits < len(before) and unicodedata.category(before[-1 - digits]) == "Nd":
                    digits += 1
                listnum = 1 <= digits <= 3 and first_vis == i - digits
                nxt = next((d for d in text[end:] if not is_space(d) or d in LINE), "")
                ok = not (is_abbreviation(before) or listnum or nxt.islower())
            if ok:
                pieces.append((start, end))
                start, first_vis = end, None
            i = end
            continue
        i += 1
    pieces.append((start, n))
    return pieces


def sentences(text, max_chars=1000):
    out, orphan = [], None
    for a, b in _split(text):
        a, b = trim(text, a, b)
        if a >= b:
            continue
        if any(c.isalnum() for c in text[a:b]):
            s = orphan[0] if orphan else a
            orphan = None
            out.append([s, b])
        elif out:
            out[-1][1] = b
        else:
            orphan = (orphan[0] if orphan else a, b)
    if orphan:
        out.append(list(orphan))
    capped = []
    for a, b in out:
        while b - a > max_chars:
            lim = a + max_chars
            sp = max((j for j in range(a, lim) if is_space(text[j])), default=None)
            at = sp if sp is not None and sp > a else lim
            h = trim(text, a, at)
            if h[0] < h[1]:
                capped.append(list(h))
            a, b = trim(text, at, b)
        if a < b:
            capped.append([a, b])
    return capped
