//! Periods that close an abbreviation rather than a sentence.
//!
//! Arabic news writes titles and eras with a single letter and a period
//! (`د.` doctor, `م.` engineer or AD, `هـ.` Hijri year, `ص.ب.` P.O. box);
//! English text has its own short list. Splitting there would cut a name
//! such as `د. محمد` into two "sentences", which hurts both the summary and
//! entity spans far more than the rare missed sentence end does.

use crate::text::chars::{is_arabic_letter, is_joiner, is_mark, TATWEEL};

/// English abbreviations that usually do not end a sentence, as written.
const ENGLISH: &[&str] = &[
    "Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "St", "Jr", "Sr", "Gen", "Gov", "Sen", "Rep", "Col",
    "Lt", "Capt", "Sgt", "Rev", "Hon", "Mt", "Ave", "Blvd", "Inc", "Ltd", "Co", "Corp", "Bros",
    "No", "Nos", "Vol", "Fig", "Dept", "Univ", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug",
    "Sep", "Sept", "Oct", "Nov", "Dec", "vs", "etc", "approx", "cf", "al", "Mme", "Mlle",
];

/// Longest token (in chars) worth checking: bounds the backwards scan so a
/// text of many long dotted tokens stays linear.
const MAX_TOKEN_CHARS: usize = 24;

/// True when the `.` that follows `before` ends an abbreviation: an entry of
/// [`ENGLISH`], a single Arabic letter (tatweel and harakat allowed), a single
/// uppercase initial (`J. K. Rowling`), or single letters joined by periods
/// (`U.S.`, `e.g.`, `أ.د.`, `ق.م.`, `ص.ب.`).
pub(super) fn is_abbreviation(before: &str) -> bool {
    let Some(token) = last_token(before) else {
        return false;
    };
    let mut parts = 0;
    let mut single: Option<char> = None;
    for part in token.split('.') {
        parts += 1;
        match single_letter(part) {
            Some(letter) => single = Some(letter),
            None if parts == 1 && !token.contains('.') => return ENGLISH.contains(&token),
            None => return false,
        }
    }
    match (parts, single) {
        (1, Some(letter)) => is_arabic_letter(letter) || letter.is_uppercase(),
        (_, Some(_)) => true,
        _ => false,
    }
}

/// The run of letters, digits, marks and periods that ends `before`, or None
/// if it is empty or too long to be an abbreviation.
fn last_token(before: &str) -> Option<&str> {
    let mut start = before.len();
    for (n, (i, c)) in before.char_indices().rev().enumerate() {
        let in_token =
            c.is_alphanumeric() || c == '.' || c == TATWEEL || is_mark(c) || is_joiner(c);
        if !in_token {
            break;
        }
        if n >= MAX_TOKEN_CHARS {
            return None;
        }
        start = i;
    }
    let token = &before[start..];
    (!token.is_empty()).then_some(token)
}

/// The one letter of `part`, ignoring tatweel, marks and joiners.
fn single_letter(part: &str) -> Option<char> {
    let mut letters = part
        .chars()
        .filter(|&c| c != TATWEEL && !is_mark(c) && !is_joiner(c));
    match (letters.next(), letters.next()) {
        (Some(c), None) if c.is_alphabetic() => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_single_letters() {
        for before in [
            "قال د",
            "المهندس م",
            "عام 1445 هـ",
            "سنة 1445 ه",
            "أ",
            "(د",
            "«ص",
            "دُ",
        ] {
            assert!(is_abbreviation(before), "{before:?}");
        }
    }

    #[test]
    fn dotted_letter_sequences() {
        for before in [
            "الأستاذ أ.د",
            "ص.ب",
            "عام 300 ق.م",
            "the U.S",
            "e.g",
            "i.e",
            "at 5 p.m",
            "ج.م.ع",
        ] {
            assert!(is_abbreviation(before), "{before:?}");
        }
    }

    #[test]
    fn english_titles_and_initials() {
        for before in [
            "Mr",
            "said Dr",
            "Prof",
            "Apple Inc",
            "J",
            "Rowling J. K",
            "vs",
            "etc",
            "(Jan",
        ] {
            assert!(is_abbreviation(before), "{before:?}");
        }
    }

    #[test]
    fn ordinary_words_are_not() {
        for before in [
            "",
            "المئة",
            "الحكومة",
            "2024",
            "5.2",
            "a",
            "i",
            "done",
            "no",
            "الرئيس قال",
            "co",
            "x.yz",
            ".",
            "..",
            "د.",
            "U.S.A.B2",
        ] {
            assert!(!is_abbreviation(before), "{before:?}");
        }
    }

    #[test]
    fn long_tokens_are_not_scanned() {
        let before = "a.".repeat(10_000) + "b";
        assert!(!is_abbreviation(&before));
    }
}
