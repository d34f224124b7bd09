#!/usr/bin/env python3
"""Share of ANERcorp entity words starting with و ف ب ل ك whose proclitic is
decided right by the service's rules (clitics.py = src/text/arabic.rs).

Every entity word (gold B-/I- tags) that starts with one of these letters is
decided with, as the article, the words of the 15 sentences before and after
it (ANERcorp marks no document boundaries). The reference is adjudicated: each
decision was read by a person, and the ones judged wrong are listed below; all
others count as right. The lexicon (ANT news, WikiFANEGold) holds no ANERcorp
text, so ANERcorp is unseen by the rules.

    python3 models/lexicon/evaluate.py ../shared/data/anercorp/train.txt
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ner"))
from clitics import decide, load_lexicon, match_key  # noqa: E402
from data import chunks, read_conll  # noqa: E402

# Judged wrong on reading: the rules cut a letter that belongs to the name ...
SHOULD_KEEP = set("ورديغة فالتر ورياغل وديعة فاليانتسين بطولة".split())
# ... or kept a proclitic (mostly و before a name the lexicon has not seen).
SHOULD_CUT = set("""وفرج وسميرة ودولة وغيث وقم وطبس وعزت ووديع وخلف ورأس وكيت وسلوفاكيا وتحية ولله وبن وعام
 وروي وشرم واغادير وياغر ومصر وقطر وحسن ومكة وعدن وبول وعبد وتل واولميرت ويونيفيل لكرة للتكنولوجيا للصليب
 ببطولة للتايكوندو بفاس بحي لولاية بشرق لعلي لشرق لكأس للجان لبيونج""".split())
CONTEXT = 15


def main() -> None:
    sents = read_conll(sys.argv[1])
    lex = load_lexicon()
    right = total = cut = 0
    wrong: dict[str, int] = {}
    for i, sent in enumerate(sents):
        article = {match_key(t) for s in sents[max(0, i - CONTEXT): i + CONTEXT] for t, _ in s}
        for _, a, b in chunks([t for _, t in sent]):
            for k in range(a, b):
                word = sent[k][0]
                if not word or word[0] not in "وفبلك":
                    continue
                letters, name = decide(word, article, lex)
                split = name != match_key(word)
                ok = (not split) if word in SHOULD_KEEP else split if word in SHOULD_CUT else True
                total += 1
                right += ok
                cut += split
                if not ok:
                    wrong[word] = wrong.get(word, 0) + 1
    print(f"{total} entity words start with و ف ب ل ك; {cut} split; "
          f"decided right {right}/{total} = {100 * right / total:.2f}%")
    print("wrong:", " ".join(f"{w}×{c}" for w, c in sorted(wrong.items(), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
