//! Hard-wrapped text: paragraphs broken into lines of one width, as in wire
//! copy, e-mail and text taken from old feeds. A line break inside such a
//! paragraph is not a sentence boundary; ending a sentence at each one would
//! hand the summary line fragments and cut names at the margin.

use crate::text::chars::trim;

/// A text with a wider line is not hard-wrapped.
const MAX_WRAP_WIDTH: usize = 100;
/// Shorter lines are never taken for wrapped ones (headlines, list items).
const MIN_FULL_LINE: usize = 40;
/// A wrapped text has at least this many full lines.
const MIN_FULL_LINES: usize = 3;

/// Byte offsets, ascending, of the `\n`s that only wrap a paragraph.
///
/// With W the widest line (code points, trimmed): the text is hard-wrapped
/// when W is at most [`MAX_WRAP_WIDTH`] and at least half of its non-empty
/// lines, and at least [`MIN_FULL_LINES`], are *full*: at least
/// [`MIN_FULL_LINE`] and four fifths of W. A `\n` that ends a full line and is
/// followed by a non-empty line then wraps; a short line (a paragraph's last,
/// a headline) or a blank line still ends the sentence.
pub(super) fn soft_line_breaks(text: &str) -> Vec<usize> {
    // (offset of the `\n` ending the line, or None for the last; trimmed width)
    let mut lines: Vec<(Option<usize>, usize)> = Vec::new();
    let mut start = 0;
    for (at, _) in text.match_indices('\n').chain([(text.len(), "")]) {
        // Counting stops past the limit: a long line settles it.
        let width = text[trim(text, start..at)]
            .chars()
            .take(MAX_WRAP_WIDTH + 1)
            .count();
        if width > MAX_WRAP_WIDTH {
            return Vec::new();
        }
        lines.push(((at < text.len()).then_some(at), width));
        start = at + 1;
    }
    let widest = lines.iter().map(|&(_, w)| w).max().unwrap_or(0);
    let is_full = |w: usize| w >= MIN_FULL_LINE && 5 * w >= 4 * widest;
    let non_empty = lines.iter().filter(|&&(_, w)| w > 0).count();
    let full = lines.iter().filter(|&&(_, w)| is_full(w)).count();
    if full < MIN_FULL_LINES || 2 * full < non_empty {
        return Vec::new();
    }
    lines
        .windows(2)
        .filter_map(|pair| match pair {
            [(Some(at), w), (_, next)] if is_full(*w) && *next > 0 => Some(*at),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(paragraph: &str, width: usize) -> String {
        let mut out = String::new();
        let mut line = String::new();
        for word in paragraph.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out + &line
    }

    const PARAGRAPH: &str = "تبدأ الغرفة التجارية الصناعية في محافظة الأحساء تنفيذ برامجها التدريبية النسائية اعتبارا من يوم الأحد المقبل وذلك من خلال برنامجين بعنوان فنون التعامل في الفترة من السابع إلى الثامن من الشهر الحالي وتقدمهما الدكتورة وداد العيسى من دولة الكويت في مقر الغرفة بمدينة المبرز التابعة للأحساء.";

    #[test]
    fn breaks_inside_a_wrapped_paragraph_are_soft() {
        let text = wrapped(PARAGRAPH, 78);
        let breaks: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
        assert!(breaks.len() >= 3, "{text}");
        assert_eq!(soft_line_breaks(&text), breaks);
    }

    #[test]
    fn a_short_line_and_a_blank_line_still_end_the_sentence() {
        let first = wrapped(PARAGRAPH, 78);
        let text = format!("الأحساء - واس\n{first}\n\n{first}");
        let soft = soft_line_breaks(&text);
        let headline_break = text.find('\n').unwrap();
        assert!(!soft.contains(&headline_break));
        let blank = text.find("\n\n").unwrap();
        assert!(!soft.contains(&blank) && !soft.contains(&(blank + 1)));
        assert_eq!(
            soft.len(),
            2 * first.matches('\n').count(),
            "{text:?} {soft:?}"
        );
    }

    #[test]
    fn unwrapped_text_and_lists_have_no_soft_breaks() {
        // One long line per paragraph.
        assert!(soft_line_breaks(&format!("{PARAGRAPH}\n{PARAGRAPH}\n{PARAGRAPH}")).is_empty());
        // Headlines of different lengths, one a line.
        let headlines = "وزير الخارجية يلتقي نظيره الروسي في موسكو اليوم\nارتفاع أسعار النفط\nالبنك المركزي يبقي أسعار الفائدة دون تغيير للمرة الثالثة\nمباراة الليلة\nأمطار غزيرة على المناطق الشمالية";
        assert!(soft_line_breaks(headlines).is_empty());
        // Many tiny lines.
        assert!(soft_line_breaks(&"سطر قصير\n".repeat(50)).is_empty());
        assert!(soft_line_breaks("").is_empty());
    }

    #[test]
    fn crlf_wrapped_text_marks_the_newline() {
        let text = wrapped(PARAGRAPH, 70).replace('\n', "\r\n");
        let newlines: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
        assert_eq!(soft_line_breaks(&text), newlines);
    }
}
