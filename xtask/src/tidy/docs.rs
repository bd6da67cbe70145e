//! Rules for documents and comments, as pure functions from a file's text to findings:
//! no development history outside `CHANGELOG.md`, and markdown links that resolve.
//!
//! History is what a reader cannot check against the repository as it is: the numbered
//! stops and the working periods of past development, issue numbers, dates and times of day,
//! short commit hashes. [`line_history`] lists the shapes. They are word-based, so that
//! ordinary prose ("a reader that stops polling", "issues a fence") and code (`0x9e37_79b9`,
//! `stop.load(..)`) pass. The words are spelled with `concat!` here, so that this file passes
//! its own rule.

/// One finding: the 1-based line and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    pub(super) line: usize,
    pub(super) what: String,
}

/// Words that, just before the word for a stop, make it a stop of past work.
const STOP_DETERMINERS: &[&str] = &[
    "this", "each", "every", "earlier", "previous", "last", "next", "later", "same",
];
/// The word for a working period, singular and plural.
const WORKING_PERIOD: [&str; 2] = [concat!("ses", "sion"), concat!("ses", "sions")];

/// A word of `line`: a maximal run of ASCII letters, digits and `_`, with its byte range.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    start: usize,
    end: usize,
    text: &'a str,
}

fn words(line: &str) -> Vec<Word<'_>> {
    let bytes = line.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_word(bytes[i]) {
            let start = i;
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            out.push(Word {
                start,
                end: i,
                text: &line[start..i],
            });
        } else {
            i += 1;
        }
    }
    out
}

fn is_number(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

/// What separates two words: the text between them.
fn between<'a>(line: &'a str, a: &Word<'_>, b: &Word<'_>) -> &'a str {
    &line[a.end..b.start]
}

/// Every history mention of `text`, line by line.
pub(super) fn history_mentions(text: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for what in line_history(line) {
            findings.push(Finding {
                line: index + 1,
                what,
            });
        }
    }
    findings
}

/// The history mentions of one line, each described.
fn line_history(line: &str) -> Vec<String> {
    let words = words(line);
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let lower = w.text.to_ascii_lowercase();
        let next = words.get(i + 1);
        let prev = i.checked_sub(1).map(|p| &words[p]);
        let gap_to_next = next.map(|n| between(line, w, n));
        // A stop or stops: before a number, after a word of `STOP_DETERMINERS`, or possessive.
        if lower == "stop" || lower == "stops" {
            let numbered = next.is_some_and(|n| is_number(n.text))
                && gap_to_next.is_some_and(|g| g.trim().is_empty() && !g.is_empty());
            let determined = prev.is_some_and(|p| {
                STOP_DETERMINERS.contains(&p.text.to_ascii_lowercase().as_str())
                    && between(line, p, w).trim().is_empty()
            });
            let possessive = line[w.end..].starts_with("'s")
                || (lower == "stops" && line[w.end..].starts_with('\''));
            if numbered || determined || possessive {
                found.push(format!("a stop (`{}`)", context(line, w)));
            }
        }
        if WORKING_PERIOD.contains(&lower.as_str()) {
            found.push(format!("a working period (`{}`)", context(line, w)));
        }
        // An issue or issues before a number (or `#` and a number), or possessive.
        if lower == "issue" || lower == "issues" {
            let numbered = next.is_some_and(|n| is_number(n.text))
                && gap_to_next.is_some_and(|g| matches!(g.trim(), "" | "#"));
            if numbered || line[w.end..].starts_with("'s") {
                found.push(format!("an issue (`{}`)", context(line, w)));
            }
        }
        // "#5" after a space, a bracket or the start of the line (not "#555" in an attribute).
        if is_number(w.text) && w.start > 0 && line.as_bytes()[w.start - 1] == b'#' {
            let before = line[..w.start - 1].chars().next_back();
            if before.is_none_or(|c| c.is_whitespace() || c == '(' || c == '[') {
                found.push(format!("an issue number (`#{}`)", w.text));
            }
        }
        if is_date(line, &words, i) {
            found.push(format!("a date (`{}`)", &line[w.start..words[i + 2].end]));
        }
        if is_time(line, &words, i) {
            found.push(format!(
                "a time of day (`{}`)",
                &line[w.start..words[i + 1].end]
            ));
        }
        if is_short_hash(w.text) {
            found.push(format!("a short commit hash (`{}`)", w.text));
        }
    }
    found
}

/// A few words around `w`, for the report.
fn context<'a>(line: &'a str, w: &Word<'_>) -> &'a str {
    let start = line[..w.start]
        .char_indices()
        .rev()
        .nth(12)
        .map_or(0, |(i, _)| i);
    let end = line[w.end..]
        .char_indices()
        .nth(12)
        .map_or(line.len(), |(i, _)| w.end + i);
    line[start..end].trim()
}

/// `YYYY-MM-DD` starting at word `i`.
fn is_date(line: &str, words: &[Word<'_>], i: usize) -> bool {
    let (Some(y), Some(m), Some(d)) = (words.get(i), words.get(i + 1), words.get(i + 2)) else {
        return false;
    };
    let two = |w: &Word<'_>, max: u32| {
        w.text.len() == 2 && is_number(w.text) && (1..=max).contains(&w.text.parse().unwrap_or(0))
    };
    y.text.len() == 4
        && is_number(y.text)
        && (y.text.starts_with("19") || y.text.starts_with("20"))
        && between(line, y, m) == "-"
        && between(line, m, d) == "-"
        && two(m, 12)
        && two(d, 31)
}

/// `HH:MM` (two-digit hour 00 to 23, minutes 00 to 59) starting at word `i`, not part of a
/// longer `a:b:c` chain of numbers that is not a time (`::` paths have no digits).
fn is_time(line: &str, words: &[Word<'_>], i: usize) -> bool {
    let (Some(h), Some(m)) = (words.get(i), words.get(i + 1)) else {
        return false;
    };
    let in_range = |w: &Word<'_>, max: u32| {
        w.text.len() == 2 && is_number(w.text) && w.text.parse::<u32>().is_ok_and(|v| v <= max)
    };
    let before = line[..h.start].chars().next_back();
    in_range(h, 23)
        && in_range(m, 59)
        && between(line, h, m) == ":"
        && !before.is_some_and(|c| c == ':' || c == '.' || c.is_ascii_digit())
}

/// A word of 7 to 12 lowercase hexadecimal digits with at least one letter and one digit, as
/// `git log --oneline` prints. `0x…` literals are not matched (the `x` is part of the word),
/// nor are full 40-digit hashes, words of letters only (`deadbeef`, `facade`) or numbers.
fn is_short_hash(word: &str) -> bool {
    (7..=12).contains(&word.len())
        && word.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_lowercase())
}

/// A link of a markdown file: its 1-based line and its target as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Link {
    pub(super) line: usize,
    pub(super) target: String,
}

/// Every inline link and image (`[text](target)`, `![alt](target)`) and reference definition
/// (`[label]: target`) of a markdown text, outside fenced code blocks and code spans.
pub(super) fn links(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let line = without_code_spans(raw);
        let mut push = |target: &str| {
            let target = target.trim();
            let target = target
                .strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
                .unwrap_or(target);
            // A title after the target: `(path "title")`.
            let target = target.split_whitespace().next().unwrap_or("");
            if !target.is_empty() {
                out.push(Link {
                    line: index + 1,
                    target: target.to_owned(),
                });
            }
        };
        if let Some(rest) = line.trim_start().strip_prefix('[') {
            if let Some((label, target)) = rest.split_once("]:") {
                if !label.contains(']') {
                    push(target);
                    continue;
                }
            }
        }
        let mut rest = line.as_str();
        while let Some(open) = rest.find("](") {
            let after = &rest[open + 2..];
            let mut depth = 0usize;
            let mut end = None;
            for (i, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let Some(end) = end else { break };
            push(&after[..end]);
            rest = &after[end + 1..];
        }
    }
    out
}

/// `line` with the contents of its `` `code spans` `` blanked out.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(c);
        } else if in_code {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `target` leaves the repository (a URL or an e-mail address).
pub(super) fn is_external(target: &str) -> bool {
    let scheme = target.split_once(':').map(|(s, _)| s);
    scheme.is_some_and(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// The anchors of a markdown text's headings, as GitHub makes them: lowercase, punctuation
/// other than `-` and `_` removed, spaces turned into `-`, `-1`, `-2`... after repeats.
pub(super) fn anchors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let hashes = trimmed.bytes().take_while(|&b| b == b'#').count();
        if !(1..=6).contains(&hashes) || !trimmed[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(trimmed[hashes..].trim());
        let repeats = out
            .iter()
            .filter(|a| {
                **a == base
                    || a.strip_prefix(&base)
                        .and_then(|r| r.strip_prefix('-'))
                        .is_some_and(is_number)
            })
            .count();
        out.push(if repeats == 0 {
            base
        } else {
            format!("{base}-{repeats}")
        });
    }
    out
}

fn slug(heading: &str) -> String {
    heading
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The text of the section under the heading `## title` (up to the next heading of the same
/// or a higher level), if there is one.
pub(super) fn section<'a>(text: &'a str, title: &str) -> Option<&'a str> {
    let heading = format!("## {title}\n");
    let start = text.find(&heading)? + heading.len();
    let rest = &text[start..];
    let end = rest
        .match_indices("\n## ")
        .chain(rest.match_indices("\n# "))
        .map(|(i, _)| i)
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whats(text: &str) -> Vec<String> {
        history_mentions(text).into_iter().map(|f| f.what).collect()
    }

    // Fixtures are built with `concat!` so that this file does not match itself.

    #[test]
    fn finds_stops() {
        for text in [
            concat!("### St", "op 12: why"),
            concat!("as st", "op 11's open question"),
            concat!("run in this st", "op"),
            concat!("in every earlier st", "op"),
            concat!("between the two st", "ops' medians"),
            concat!("st", "ops 7 to 12"),
        ] {
            assert!(!whats(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn ordinary_stops_pass() {
        for text in [
            "A reader that stops polling right after a frame",
            "let stop = Arc::new(AtomicBool::new(false));",
            "stop.store(true, Relaxed);",
            "writers stop writing and close",
            "put stops at the reservation",
            "pub(crate) struct Stop(Arc<AtomicBool>);",
            "a stop flag, the 2-worker runtime",
        ] {
            assert_eq!(whats(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn finds_sessions_and_issues() {
        for text in [
            concat!("not finished within the ses", "sion"),
            concat!("## Targets of is", "sue 5"),
            concat!("fixed in is", "sue ", "#12"),
            concat!("The is", "sue's target"),
            concat!("see ", "#42 for"),
            concat!("(", "#42)"),
        ] {
            assert!(!whats(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn ordinary_issues_and_hashes_pass() {
        for text in [
            "`baton_check(was)` issues a fence",
            "<text x=\"10\" y=\"38\" fill=\"#555\">",
            "#[derive(Debug)]",
            "let s = r#\"x\"#;",
            "format!(\"{x:#?}\")",
        ] {
            assert_eq!(whats(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn finds_dates_and_times() {
        assert_eq!(whats(concat!("| 2026", "-11-26 | deep run")).len(), 1);
        assert_eq!(whats(concat!("the 03", ":20 run")).len(), 1);
        assert_eq!(whats(concat!("runs of 03", ":07–03", ":23 UTC")).len(), 2);
    }

    #[test]
    fn ordinary_numbers_pass() {
        for text in [
            "crossbeam::utils::CachePadded",
            "ratio 16:9 and 1:4",
            "std::mem::size_of::<u64>()",
            "a range 0..=12:",
            "version 1.95.0, ports 8080:80",
            "x 1000-10-99",
            "12.34:56",
        ] {
            assert_eq!(whats(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn finds_short_hashes_only() {
        assert_eq!(whats(concat!("on `78566", "7e`")).len(), 1);
        assert_eq!(whats(concat!("commit 4e729", "07 and more")).len(), 1);
        for text in [
            "const SEED: u64 = 0x9e37_79b9_7f4a_7c15;",
            "let k = 0xdeadbeef12;",
            "facade deadbeef accede",
            "1234567 frames, 12345678901",
            "a full hash 785667e0000000000000000000000000000000ab",
            "AB12CD34 in capitals",
        ] {
            assert_eq!(whats(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn reports_line_numbers() {
        let text = concat!("ok\nthe 03", ":20 run\nok");
        assert_eq!(history_mentions(text)[0].line, 2);
    }

    #[test]
    fn extracts_links() {
        let text = "see [a](docs/a.md) and ![img](b.svg \"title\")\n\
                    `[not](a link)` and [x](<c d.md#anchor>)\n\
                    ```\n[in](fence.md)\n```\n\
                    [ref]: e.md#top\n\
                    [y](https://example.com/(x)) [z](f(1).md)";
        let targets: Vec<String> = links(text).into_iter().map(|l| l.target).collect();
        assert_eq!(
            targets,
            [
                "docs/a.md",
                "b.svg",
                "c",
                "e.md#top",
                "https://example.com/(x)",
                "f(1).md"
            ]
        );
        assert!(is_external("https://example.com"));
        assert!(is_external("mailto:a@b"));
        assert!(!is_external("docs/a.md"));
        assert!(!is_external("#anchor"));
    }

    #[test]
    fn anchors_follow_github() {
        let text = "# Title\n## Publication: the baton\n```\n## not a heading\n```\n\
                    ### `io::ErrorKind` mapping\n## Exclusive copies (memcpy while no weak reader exists)\n\
                    ## Title\n#no-space";
        assert_eq!(
            anchors(text),
            [
                "title",
                "publication-the-baton",
                "ioerrorkind-mapping",
                "exclusive-copies-memcpy-while-no-weak-reader-exists",
                "title-1"
            ]
        );
    }

    #[test]
    fn sections_end_at_the_next_heading() {
        let text = "# T\n## Layout\n| a |\n### sub\nb\n## Documents\nc\n";
        assert_eq!(section(text, "Layout"), Some("| a |\n### sub\nb"));
        assert_eq!(section(text, "Documents"), Some("c\n"));
        assert_eq!(section(text, "Missing"), None);
    }
}
