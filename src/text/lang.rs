//! Language detection for the response's BCP-47 `language` field, and
//! normalization of the client's language hint.
//!
//! Detection is [`whatlang`] with one correction: whatlang often calls short
//! Arabic text Persian or Urdu, which would send an Arabic article down the
//! wrong path. Persian and Urdu text is full of letters that Arabic does not
//! use (`پ چ ژ گ ک ی ٹ ڈ ڑ ں ے`), so Arabic-script text without many of them
//! is Arabic, whatever the trigrams say.

use thiserror::Error;
use whatlang::{Lang, Script};

use crate::text::chars::{is_arabic_letter, is_mark};

/// Only the start of an article is looked at: language rarely changes
/// midway and whatlang's cost grows with the input.
const SAMPLE_CHARS: usize = 2_000;

/// Fewer letters than this is too little to say anything.
const MIN_LETTERS: usize = 3;

/// Persian or Urdu is assumed only when at least one Arabic-script letter in
/// this many is Persian/Urdu-specific (they are several percent of Persian
/// and Urdu text, and only show up in Arabic in the odd transliterated name).
const FOREIGN_LETTER_RATIO: usize = 40;

/// BCP-47 code (ISO 639-1 where one exists: "ar", "en", "fr", "fa", "ur",
/// "he", "ru", "zh", ...) of the language of `text`, or None when unsure:
/// too few letters, only symbols, or whatlang not confident.
pub fn detect(text: &str) -> Option<&'static str> {
    let sample = prefix(text, SAMPLE_CHARS);
    let counts = Counts::of(sample);
    if counts.letters < MIN_LETTERS {
        return None;
    }
    let info = whatlang::detect(sample)?;
    if info.script() == Script::Arabic {
        return Some(arabic_script(&counts, info.lang()));
    }
    info.is_reliable().then(|| iso639_1(info.lang()))
}

/// Every code [`detect`] can return, sorted.
pub fn supported() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Lang::all().iter().map(|&l| iso639_1(l)).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// Arabic, unless Persian/Urdu letters are frequent; then whatlang's choice
/// between Persian and Urdu, or the letters' if whatlang said Arabic.
fn arabic_script(counts: &Counts, guess: Lang) -> &'static str {
    let foreign = counts.persian + counts.urdu;
    if foreign == 0 || foreign * FOREIGN_LETTER_RATIO < counts.arabic {
        return "ar";
    }
    match guess {
        Lang::Pes => "fa",
        Lang::Urd => "ur",
        _ if counts.urdu > 0 => "ur",
        _ => "fa",
    }
}

/// Letter statistics of a sample, in one pass.
#[derive(Debug, Default)]
struct Counts {
    letters: usize,
    arabic: usize,
    /// Letters shared by Persian and Urdu but not Arabic.
    persian: usize,
    /// Letters of Urdu only.
    urdu: usize,
}

impl Counts {
    fn of(sample: &str) -> Self {
        let mut counts = Self::default();
        // Harakat are Alphabetic in Unicode but are not letters here.
        for c in sample.chars().filter(|&c| c.is_alphabetic() && !is_mark(c)) {
            counts.letters += 1;
            if !is_arabic_letter(c) {
                continue;
            }
            counts.arabic += 1;
            match c {
                'پ' | 'چ' | 'ژ' | 'گ' | 'ک' | 'ی' => counts.persian += 1,
                'ٹ' | 'ڈ' | 'ڑ' | 'ں' | 'ے' | 'ہ' | 'ھ' => counts.urdu += 1,
                _ => {}
            }
        }
        counts
    }
}

/// The first `chars` code points of `text`.
fn prefix(text: &str, chars: usize) -> &str {
    text.char_indices()
        .nth(chars)
        .map_or(text, |(i, _)| &text[..i])
}

/// ISO 639-1 code of a whatlang language (ISO 639-3 where there is none).
fn iso639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Afr => "af",
        Lang::Aka => "ak",
        Lang::Amh => "am",
        Lang::Ara => "ar",
        Lang::Aze => "az",
        Lang::Bel => "be",
        Lang::Ben => "bn",
        Lang::Bul => "bg",
        Lang::Cat => "ca",
        Lang::Ces => "cs",
        Lang::Cmn => "zh",
        Lang::Dan => "da",
        Lang::Deu => "de",
        Lang::Ell => "el",
        Lang::Eng => "en",
        Lang::Epo => "eo",
        Lang::Est => "et",
        Lang::Fin => "fi",
        Lang::Fra => "fr",
        Lang::Guj => "gu",
        Lang::Heb => "he",
        Lang::Hin => "hi",
        Lang::Hrv => "hr",
        Lang::Hun => "hu",
        Lang::Hye => "hy",
        Lang::Ind => "id",
        Lang::Ita => "it",
        Lang::Jav => "jv",
        Lang::Jpn => "ja",
        Lang::Kan => "kn",
        Lang::Kat => "ka",
        Lang::Khm => "km",
        Lang::Kor => "ko",
        Lang::Lat => "la",
        Lang::Lav => "lv",
        Lang::Lit => "lt",
        Lang::Mal => "ml",
        Lang::Mar => "mr",
        Lang::Mkd => "mk",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Nld => "nl",
        Lang::Nob => "nb",
        Lang::Ori => "or",
        Lang::Pan => "pa",
        Lang::Pes => "fa",
        Lang::Pol => "pl",
        Lang::Por => "pt",
        Lang::Ron => "ro",
        Lang::Rus => "ru",
        Lang::Sin => "si",
        Lang::Slk => "sk",
        Lang::Slv => "sl",
        Lang::Sna => "sn",
        Lang::Spa => "es",
        Lang::Srp => "sr",
        Lang::Swe => "sv",
        Lang::Tam => "ta",
        Lang::Tel => "te",
        Lang::Tgl => "tl",
        Lang::Tha => "th",
        Lang::Tuk => "tk",
        Lang::Tur => "tr",
        Lang::Ukr => "uk",
        Lang::Urd => "ur",
        Lang::Uzb => "uz",
        Lang::Vie => "vi",
        Lang::Yid => "yi",
        Lang::Zul => "zu",
    }
}

/// A client language hint that is not a well-formed BCP-47 tag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid language tag {tag:?}: {reason}")]
pub struct InvalidLanguageTag {
    tag: String,
    reason: &'static str,
}

impl InvalidLanguageTag {
    /// The offending hint (its first 64 chars).
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// Longest hint accepted; real tags are far shorter.
const MAX_TAG_LEN: usize = 64;

/// Normalizes a client hint to canonical BCP-47 casing: `"AR"` → `"ar"`,
/// `"ar_tn"` → `"ar-TN"`, `"zh-hant-tw"` → `"zh-Hant-TW"`. Checks syntax
/// only (2–3 or 5–8 letter language, then 1–8 alphanumeric subtags); it does
/// not look tags up in the registry.
///
/// # Errors
///
/// [`InvalidLanguageTag`] when the hint is empty, longer than 64 bytes or not
/// well-formed.
pub fn normalize_hint(hint: &str) -> Result<String, InvalidLanguageTag> {
    let invalid = |reason| InvalidLanguageTag {
        tag: hint.chars().take(MAX_TAG_LEN).collect(),
        reason,
    };
    let tag = hint.trim();
    if tag.is_empty() {
        return Err(invalid("empty"));
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(invalid("too long"));
    }
    let mut out = String::with_capacity(tag.len());
    // After a singleton (`x`, `u`, ...) casing conventions no longer apply.
    let mut singleton_seen = false;
    let mut last_was_singleton = false;
    for (n, sub) in tag.split(['-', '_']).enumerate() {
        if sub.is_empty() || sub.len() > 8 || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("subtags are 1 to 8 ASCII letters or digits"));
        }
        let alpha = sub.bytes().all(|b| b.is_ascii_alphabetic());
        if n == 0 {
            if !alpha || !matches!(sub.len(), 2 | 3 | 5..=8) {
                return Err(invalid("language must be 2-3 or 5-8 letters"));
            }
            out.push_str(&sub.to_ascii_lowercase());
            continue;
        }
        out.push('-');
        last_was_singleton = sub.len() == 1;
        singleton_seen |= last_was_singleton;
        if singleton_seen {
            out.push_str(&sub.to_ascii_lowercase());
        } else if alpha && sub.len() == 4 {
            // Script: titlecase.
            out.push_str(&sub[..1].to_ascii_uppercase());
            out.push_str(&sub[1..].to_ascii_lowercase());
        } else if (alpha && sub.len() == 2)
            || (sub.len() == 3 && !alpha && sub.bytes().all(|b| b.is_ascii_digit()))
        {
            // Region: uppercase (digits unchanged).
            out.push_str(&sub.to_ascii_uppercase());
        } else {
            out.push_str(&sub.to_ascii_lowercase());
        }
    }
    if last_was_singleton {
        return Err(invalid("a singleton must be followed by a subtag"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARABIC: &str = "قال الرئيس التونسي قيس سعيد إن الحكومة ستعمل على خفض العجز إلى 5.2 في المئة. وأضاف أن «الإصلاحات ضرورية» لتحقيق النمو الاقتصادي في البلاد خلال السنوات المقبلة.";
    const PERSIAN: &str = "رئیس جمهور ایران روز یکشنبه گفت که دولت برای کاهش تورم و بهبود وضعیت اقتصادی کشور برنامه‌های جدیدی را اجرا خواهد کرد.";
    const URDU: &str = "پاکستان کے وزیر اعظم نے کہا ہے کہ حکومت ملک میں مہنگائی کم کرنے کے لیے نئے اقدامات کرے گی اور عوام کو ریلیف فراہم کیا جائے گا۔";

    #[test]
    fn arabic_news_is_arabic() {
        assert_eq!(detect(ARABIC), Some("ar"));
        assert_eq!(detect("وأضاف أن الإصلاحات ضرورية"), Some("ar"));
        assert_eq!(detect("قال الرئيس"), Some("ar"));
        assert_eq!(detect("عاجل: انفجار في بيروت"), Some("ar"));
        assert_eq!(detect("مُحَمَّدٌ رَسُولُ اللَّـهِ"), Some("ar"));
    }

    #[test]
    fn arabic_with_a_foreign_name_is_arabic() {
        let text = format!("{ARABIC} والتقى بوزير الخارجية الروسي لاڤروف والرئيس پوتين في موسكو.");
        assert_eq!(detect(&text), Some("ar"));
    }

    #[test]
    fn persian_and_urdu() {
        assert_eq!(detect(PERSIAN), Some("fa"));
        assert_eq!(detect(URDU), Some("ur"));
    }

    #[test]
    fn other_languages() {
        let cases = [
            ("en", "The president said the government would cut the deficit to 5.2 percent next year. He added that reforms were necessary for growth in the coming years."),
            ("fr", "Le président a déclaré que le gouvernement réduirait le déficit à 5,2 pour cent l'année prochaine."),
            ("ru", "Президент заявил, что правительство сократит дефицит бюджета до 5,2 процента в следующем году. Он добавил, что реформы необходимы для роста экономики страны."),
            ("zh", "总统表示，政府将在明年把财政赤字削减到百分之五点二。"),
            ("he", "הנשיא אמר כי הממשלה תקצץ את הגירעון לחמישה אחוזים בשנה הבאה."),
        ];
        for (code, text) in cases {
            assert_eq!(detect(text), Some(code), "{text}");
        }
    }

    #[test]
    fn short_latin_text_is_unsure() {
        // whatlang is not confident on one short sentence or a headline.
        assert_eq!(detect("Hello world, this is a test."), None);
        assert_eq!(detect("Breaking news"), None);
    }

    #[test]
    fn unsure_gives_none() {
        for text in [
            "",
            "   ",
            "123 456 !!! ؟؟",
            "😀😀😀",
            "ok",
            "\u{200F}\u{FEFF}",
            "\u{064E}\u{064E}\u{064E}\u{064E}",
        ] {
            assert_eq!(detect(text), None, "{text:?}");
        }
    }

    #[test]
    fn only_the_start_is_read() {
        let text = format!(
            "{}{}",
            ARABIC.repeat(40),
            "The rest is English. ".repeat(10_000)
        );
        assert_eq!(detect(&text), Some("ar"));
    }

    #[test]
    fn supported_covers_detect_and_is_sorted() {
        let codes = supported();
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        for code in ["ar", "en", "fa", "fr", "he", "ru", "ur", "zh"] {
            assert!(codes.contains(&code), "{code}");
        }
        assert_eq!(codes.len(), Lang::all().len());
    }

    #[test]
    fn hints_are_normalized() {
        let cases = [
            ("ar", "ar"),
            ("AR", "ar"),
            ("ar-TN", "ar-TN"),
            ("ar_tn", "ar-TN"),
            (" ar-tn ", "ar-TN"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("es-419", "es-419"),
            ("en-US-x-Twain", "en-US-x-twain"),
            ("und", "und"),
            ("sr-LATN", "sr-Latn"),
            ("de-CH-1996", "de-CH-1996"),
        ];
        for (hint, want) in cases {
            assert_eq!(normalize_hint(hint).as_deref(), Ok(want), "{hint}");
        }
    }

    #[test]
    fn garbage_hints_are_rejected() {
        for hint in [
            "",
            " ",
            "x!",
            "a",
            "ar-",
            "-ar",
            "ar--TN",
            "arab",
            "ar-toolongsubtag",
            "12",
            "ar-x",
            "عربي",
            "ar TN",
        ] {
            let err = normalize_hint(hint).expect_err(hint);
            assert!(err.to_string().contains("invalid language tag"));
        }
        let long = "a".repeat(10_000);
        let err = normalize_hint(&long).expect_err("long");
        assert_eq!(err.tag().len(), MAX_TAG_LEN);
    }
}
