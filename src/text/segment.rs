//! Arabic-aware sentence segmentation.
//!
//! Sentences are the unit the summarizer scores and the NER model reads, so
//! the rules lean towards *not* splitting when unsure: a missed boundary
//! costs a slightly longer sentence, a wrong one cuts a name or a number in
//! half. Every range is a byte range into the input, trimmed and non-empty.
//!
//! A line break ends a sentence, except inside a hard-wrapped paragraph
//! ([`wrap`]). The work happens in three linear passes: `split` finds
//! candidate boundaries, `merge` trims the pieces and folds punctuation-only ones
//! into their neighbour, and `cap` bounds the length of what is left.

mod abbrev;
mod cap;
mod wrap;

use std::ops::Range;

use crate::text::chars::{is_decimal_digit, is_space, trim};

/// Splits text into sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segmenter {
    /// Longest sentence, in code points, before it is cut at a space (or,
    /// without one, hard at the limit). 0 disables the cap.
    pub max_sentence_chars: usize,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self {
            max_sentence_chars: 1000,
        }
    }
}

impl Segmenter {
    /// Byte ranges of the sentences of `text`, in order, non-overlapping,
    /// trimmed and non-empty. Empty or all-space text gives no sentence.
    pub fn sentences(&self, text: &str) -> Vec<Range<usize>> {
        let merged = merge(text, split(text));
        cap::cap(text, merged, self.max_sentence_chars)
    }
}

/// [`Segmenter::sentences`] with the default settings.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    Segmenter::default().sentences(text)
}

/// Ends a sentence when followed by space or the end of the text.
fn is_terminator(c: char) -> bool {
    matches!(
        c,
        '.' | '!'
            | '?'
            | '\u{061F}' // ؟ Arabic question mark
            | '\u{061B}' // ؛ Arabic semicolon
            | '\u{06D4}' // ۔ Arabic full stop (Urdu)
            | '\u{2026}' // … ellipsis
            | '\u{203C}'..='\u{203D}' // ‼ ‽
            | '\u{2047}'..='\u{2049}' // ⁇ ⁈ ⁉
            | '\u{3002}' // 。
            | '\u{FF01}' // ！
            | '\u{FF0E}' // ．
            | '\u{FF1F}' // ？
    )
}

/// Closing quotes and brackets that stay with the sentence they close.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '\u{2019}' // ’
            | '\u{201D}' // ”
            | '\u{00BB}' // »
            | '\u{203A}' // ›
            | ')'
            | ']'
            | '}'
            | '\u{FD3E}' // ﴾ ornate parenthesis that closes in Arabic text
    )
}

/// Ends a sentence, unless it only wraps a paragraph (see [`wrap`]).
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{000B}' | '\u{000C}' | '\u{0085}' | '\u{2028}' | '\u{2029}'
    )
}

/// Raw pieces of `text` between boundaries, untrimmed, possibly empty.
fn split(text: &str) -> Vec<Range<usize>> {
    let soft = wrap::soft_line_breaks(text);
    let mut pieces = Vec::new();
    let mut start = 0;
    // First non-space char of the current piece, for the numbered-list rule.
    let mut first_visible: Option<usize> = None;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let next = i + c.len_utf8();
        if is_line_break(c) {
            let end = if c == '\r' && text[next..].starts_with('\n') {
                next + 1
            } else {
                next
            };
            // `end - 1` is the `\n` of a `\n` or `\r\n` break.
            if soft.binary_search(&(end - 1)).is_ok() {
                i = end;
                continue;
            }
            pieces.push(start..i);
            (start, i, first_visible) = (end, end, None);
            continue;
        }
        if first_visible.is_none() && !is_space(c) {
            first_visible = Some(i);
        }
        if is_terminator(c) {
            let (end, single_period) = terminator_run(text, i);
            if ends_sentence(text, i, end, single_period, first_visible) {
                pieces.push(start..end);
                (start, first_visible) = (end, None);
            }
            i = end;
            continue;
        }
        i = next;
    }
    pieces.push(start..text.len());
    pieces
}

/// End of the run of terminators and closers starting at `at`, and whether
/// its only terminator is one `.` (the ambiguous case).
fn terminator_run(text: &str, at: usize) -> (usize, bool) {
    let mut end = at;
    let mut periods = 0;
    let mut others = 0;
    for c in text[at..].chars() {
        match c {
            '.' => periods += 1,
            c if is_terminator(c) => others += 1,
            c if is_closer(c) => {}
            _ => break,
        }
        end += c.len_utf8();
    }
    (end, periods == 1 && others == 0)
}

/// Whether the terminator run `term..end` ends a sentence.
fn ends_sentence(
    text: &str,
    term: usize,
    end: usize,
    single_period: bool,
    first_visible: Option<usize>,
) -> bool {
    // `example.com`, `1.8`, `a.b`, `؟!»x`: no space after, no boundary.
    if text[end..].chars().next().is_some_and(|c| !is_space(c)) {
        return false;
    }
    if !single_period {
        return true;
    }
    let before = &text[..term];
    !(abbrev::is_abbreviation(before)
        || is_list_number(before, first_visible)
        || next_word_is_lowercase(&text[end..]))
}

/// `1. ` or `١٢. ` opening a piece: a list item number, not a sentence.
fn is_list_number(before: &str, first_visible: Option<usize>) -> bool {
    let (count, bytes) = before
        .chars()
        .rev()
        .take_while(|&c| is_decimal_digit(c))
        .take(4)
        .fold((0, 0), |(n, len), c| (n + 1, len + c.len_utf8()));
    (1..=3).contains(&count) && first_visible == Some(before.len() - bytes)
}

/// `approx. five`, `e.g. the`: a sentence does not start in lowercase. Only
/// looks within the line (a line break ends the sentence anyway).
fn next_word_is_lowercase(after: &str) -> bool {
    after
        .chars()
        .find(|&c| !is_space(c) || is_line_break(c))
        .is_some_and(char::is_lowercase)
}

/// Trims the pieces, drops empty ones, and folds pieces without a letter or
/// digit (a stray `…` line, `* * *`, a lone emoji) into the previous sentence,
/// or into the next one at the start of the text.
fn merge(text: &str, pieces: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::with_capacity(pieces.len());
    let mut orphan: Option<Range<usize>> = None;
    for piece in pieces {
        let r = trim(text, piece);
        if r.is_empty() {
            continue;
        }
        if text[r.clone()].chars().any(char::is_alphanumeric) {
            let start = orphan.take().map_or(r.start, |o| o.start);
            out.push(start..r.end);
        } else if let Some(last) = out.last_mut() {
            last.end = r.end;
        } else {
            orphan = Some(orphan.map_or(r.start, |o| o.start)..r.end);
        }
    }
    // Only possible when no piece had content: keep the punctuation.
    out.extend(orphan);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(text: &str) -> Vec<&str> {
        sentences(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn a_hard_wrapped_paragraph_gives_whole_sentences() {
        let text = "الأحساء - واس\nتبدأ الغرفة التجارية الصناعية في محافظة الأحساء تنفيذ برامجها التدريبية\nالنسائية اعتبارا من يوم الأحد المقبل وذلك من خلال برنامجين نسائيين بعنوان\n\"فنون التعامل مع الزوج\" وذلك في الفترة من 7 - 8 من شهر ربيع الثاني الحالي،\nوتقدمهما الدكتورة وداد العيسى. وأوضح مدير التدريب بالغرفة بدر الحليبي أن\nالمحاضرة ستتناول دراسة لأفضل توافق زواجي في العالم ومظاهر الأسرة السعيدة.";
        assert_eq!(
            texts(text),
            [
                "الأحساء - واس",
                "تبدأ الغرفة التجارية الصناعية في محافظة الأحساء تنفيذ برامجها التدريبية\nالنسائية اعتبارا من يوم الأحد المقبل وذلك من خلال برنامجين نسائيين بعنوان\n\"فنون التعامل مع الزوج\" وذلك في الفترة من 7 - 8 من شهر ربيع الثاني الحالي،\nوتقدمهما الدكتورة وداد العيسى.",
                "وأوضح مدير التدريب بالغرفة بدر الحليبي أن\nالمحاضرة ستتناول دراسة لأفضل توافق زواجي في العالم ومظاهر الأسرة السعيدة.",
            ]
        );
    }

    #[test]
    fn arabic_news() {
        let text = "قال الرئيس التونسي قيس سعيد إن الحكومة ستعمل على خفض العجز إلى 5.2 في المئة. وأضاف أن «الإصلاحات ضرورية».";
        assert_eq!(
            texts(text),
            [
                "قال الرئيس التونسي قيس سعيد إن الحكومة ستعمل على خفض العجز إلى 5.2 في المئة.",
                "وأضاف أن «الإصلاحات ضرورية».",
            ]
        );
    }

    #[test]
    fn realistic_article() {
        let text = "تونس (رويترز) - قال الرئيس التونسي قيس سعيد يوم الاثنين إن الحكومة ستعمل على خفض العجز إلى 5.2 في المئة في 2024. وأضاف أن «الإصلاحات ضرورية»، مشيرا إلى أن التضخم بلغ ٧٫٥٪ في آذار/مارس.\n\nوقال د. محمد العربي، أستاذ الاقتصاد، لرويترز: \"هل تستطيع الحكومة تحقيق ذلك؟ لا أعتقد.\" \n…\n\u{200F}وتواجه تونس أزمة مالية حادة منذ سنوات!\n";
        assert_eq!(
            texts(text),
            [
                "تونس (رويترز) - قال الرئيس التونسي قيس سعيد يوم الاثنين إن الحكومة ستعمل على خفض العجز إلى 5.2 في المئة في 2024.",
                "وأضاف أن «الإصلاحات ضرورية»، مشيرا إلى أن التضخم بلغ ٧٫٥٪ في آذار/مارس.",
                "وقال د. محمد العربي، أستاذ الاقتصاد، لرويترز: \"هل تستطيع الحكومة تحقيق ذلك؟",
                "لا أعتقد.\" \n…",
                "وتواجه تونس أزمة مالية حادة منذ سنوات!",
            ]
        );
    }

    #[test]
    fn arabic_terminators() {
        let text = "هل ستنخفض الأسعار؟ لا أحد يعرف؛ لكن الخبراء متفائلون! انتهى… ثم ماذا؟! لا شيء.";
        assert_eq!(
            texts(text),
            [
                "هل ستنخفض الأسعار؟",
                "لا أحد يعرف؛",
                "لكن الخبراء متفائلون!",
                "انتهى…",
                "ثم ماذا؟!",
                "لا شيء.",
            ]
        );
    }

    #[test]
    fn commas_never_split() {
        let text = "وصل الوزير، ثم التقى الرئيس، وقال: نعم, سنفعل.";
        assert_eq!(texts(text), [text]);
    }

    #[test]
    fn numbers_and_dates_stay_whole() {
        for text in [
            "Growth was 1.8 percent in 2024.",
            "ارتفع المؤشر بنسبة ١٫٥ بالمئة.",
            "The meeting on 12.05.2024 was short.",
            "Pi is 3.14 and e is 2.71.",
            "وصل العدد إلى ٣.٥ مليون.",
        ] {
            assert_eq!(texts(text), [text]);
        }
    }

    #[test]
    fn year_at_sentence_end_splits() {
        assert_eq!(
            texts("It happened in 2024. Then it ended."),
            ["It happened in 2024.", "Then it ended."]
        );
    }

    #[test]
    fn english_abbreviations() {
        let text = "Mr. Smith met Dr. Jones and Prof. Lee at 5 p.m. on Jan. 5 in the U.S. capital. J. K. Rowling was there, e.g. briefly.";
        assert_eq!(
            texts(text),
            [
                "Mr. Smith met Dr. Jones and Prof. Lee at 5 p.m. on Jan. 5 in the U.S. capital.",
                "J. K. Rowling was there, e.g. briefly.",
            ]
        );
    }

    #[test]
    fn arabic_abbreviations() {
        let text = "التقى د. محمد مع أ.د. أحمد والمهندس م. علي. وُلد عام 1380 هـ. في القاهرة ص.ب. 123. وانتهى ذلك عام 300 ق.م. تقريبا.";
        assert_eq!(
            texts(text),
            [
                "التقى د. محمد مع أ.د. أحمد والمهندس م. علي.",
                "وُلد عام 1380 هـ. في القاهرة ص.ب. 123.",
                "وانتهى ذلك عام 300 ق.م. تقريبا.",
            ]
        );
    }

    #[test]
    fn no_split_without_following_space() {
        for text in [
            "Visit example.com today.",
            "a.b",
            "Yahoo!Inc is old.",
            "قال:«نعم».وأضاف",
        ] {
            assert_eq!(texts(text), [text]);
        }
    }

    #[test]
    fn lowercase_after_period_does_not_split() {
        assert_eq!(
            texts("It costs approx. five dollars. Good."),
            ["It costs approx. five dollars.", "Good."]
        );
    }

    #[test]
    fn closing_quotes_stay() {
        assert_eq!(
            texts("He said \"stop.\" Then 'go!' (Really?) «نعم.» ”لا؟” Done."),
            [
                "He said \"stop.\"",
                "Then 'go!'",
                "(Really?)",
                "«نعم.»",
                "”لا؟”",
                "Done."
            ]
        );
        assert_eq!(
            texts("قال ﴿الحمد لله.﴾ ثم سكت."),
            ["قال ﴿الحمد لله.﴾", "ثم سكت."]
        );
    }

    #[test]
    fn line_breaks_always_split() {
        let text = "عنوان الخبر\r\nالفقرة الأولى\nالثانية\u{2028}الثالثة\u{2029}الرابعة\rالخامسة";
        assert_eq!(
            texts(text),
            [
                "عنوان الخبر",
                "الفقرة الأولى",
                "الثانية",
                "الثالثة",
                "الرابعة",
                "الخامسة"
            ]
        );
        assert_eq!(texts("Dr.\nWho"), ["Dr.", "Who"]);
    }

    #[test]
    fn punctuation_only_pieces_merge() {
        let text = "جملة أولى.\n…\nجملة ثانية.";
        assert_eq!(texts(text), ["جملة أولى.\n…", "جملة ثانية."]);
        assert_eq!(texts("* * *\nالنص هنا."), ["* * *\nالنص هنا."]);
        assert_eq!(texts("...\n!!!"), ["...\n!!!"]);
        assert_eq!(texts("خبر 👍\n🔥🔥"), ["خبر 👍\n🔥🔥"]);
    }

    #[test]
    fn numbered_lists() {
        assert_eq!(
            texts("1. First point. 2. Second point."),
            ["1. First point.", "2. Second point."]
        );
        assert_eq!(texts("١. البند الأول"), ["١. البند الأول"]);
    }

    #[test]
    fn trims_invisible_chars() {
        let text = "\u{FEFF}\u{200F} مرحبا بكم. \u{200E}\u{2067}وداعا.\u{2069} ";
        assert_eq!(texts(text), ["مرحبا بكم.", "وداعا."]);
    }

    #[test]
    fn empty_and_blank() {
        assert!(sentences("").is_empty());
        assert!(sentences("   \n\t \u{200F}\u{FEFF}\u{3000}").is_empty());
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for text in [
            "\u{064E}",
            ".",
            "\u{0301}.\u{0301} ",
            "😀.",
            "\u{202E}",
            "\r",
            "\r\n\r\n",
            "؟",
            ". .",
        ] {
            for r in sentences(text) {
                assert!(!text[r].is_empty());
            }
        }
        assert_eq!(texts(". . ."), [". . ."]);
    }

    #[test]
    fn long_sentence_is_capped() {
        let seg = Segmenter {
            max_sentence_chars: 20,
        };
        let text = "كلمة ".repeat(30);
        let parts: Vec<&str> = seg.sentences(&text).into_iter().map(|r| &text[r]).collect();
        assert!(parts.len() > 1);
        for p in &parts {
            assert!(p.chars().count() <= 20);
            assert!(!p.starts_with(' ') && !p.ends_with(' '));
        }
        assert_eq!(parts.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn huge_text_is_linear() {
        let text =
            "قال د. محمد إن النمو بلغ 1.8 في المئة، وأضاف أن الصادرات ارتفعت. ".repeat(3_000);
        assert!(text.chars().count() > 150_000);
        let got = sentences(&text);
        assert_eq!(got.len(), 3_000);
        let one = "x".repeat(200_000);
        assert_eq!(sentences(&one).len(), 200);
        let spaces = " ".repeat(200_000) + "Dr. " + &"a. ".repeat(50_000);
        assert!(!sentences(&spaces).is_empty());
    }

    fn check_invariants(
        text: &str,
        ranges: &[Range<usize>],
        max: usize,
    ) -> Result<(), TestCaseError> {
        let mut prev_end = 0;
        for r in ranges {
            prop_assert!(r.start < r.end, "empty {:?}", r);
            prop_assert!(prev_end <= r.start, "overlap {:?}", r);
            prop_assert!(r.end <= text.len());
            prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            let s = &text[r.clone()];
            prop_assert!(
                !s.starts_with(is_space) && !s.ends_with(is_space),
                "untrimmed {:?}",
                s
            );
            if max > 0 {
                prop_assert!(s.chars().count() <= max, "too long {:?}", s);
            }
            prev_end = r.end;
        }
        let blank = text.chars().all(is_space);
        prop_assert_eq!(ranges.is_empty(), blank);
        Ok(())
    }

    proptest! {
        #[test]
        fn invariants_on_any_text(text in "\\PC{0,300}") {
            check_invariants(&text, &sentences(&text), 1000)?;
        }

        #[test]
        fn invariants_on_punctuated_text(
            text in "[ab دم\u{064E}\u{0640}.!?؟؛…»\"')\n\r\u{2028}\u{200F}\u{FEFF}1٣,،😀\u{0301}]{0,200}",
            max in 0usize..12,
        ) {
            let seg = Segmenter { max_sentence_chars: max };
            check_invariants(&text, &seg.sentences(&text), max)?;
        }

        #[test]
        fn nothing_but_space_is_lost(text in "[ab د.!؟\n\u{200F}\u{0301}]{0,120}", max in 0usize..6) {
            // Every non-space char is inside some sentence, capped or not.
            let ranges = Segmenter { max_sentence_chars: max }.sentences(&text);
            for (i, c) in text.char_indices() {
                if !is_space(c) {
                    prop_assert!(ranges.iter().any(|r| r.contains(&i)), "lost {:?} at {}", c, i);
                }
            }
        }
    }
}
