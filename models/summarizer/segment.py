"""A Python approximation of the service's sentence segmenter
(src/text/segment.rs), used only to segment *training* articles without a
round trip through the service (which would also embed every sentence, doubling
the cost on 2 CPU cores). Dev articles are always segmented by the service.
Same rules except the abbreviation list; its agreement with the service on the
dev articles is printed by `embed.py`."""
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


def _split(text):
    pieces, start, first_vis, i, n = [], 0, None, 0, len(text)
    while i < n:
        c = text[i]
        if c in LINE:
            end = i + 2 if c == "\r" and text[i + 1:i + 2] == "\n" else i + 1
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
                ok = not (listnum or nxt.islower())
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
