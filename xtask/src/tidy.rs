//! `cargo xtask tidy`: source hygiene rules, enforced as this crate's tests.
//!
//! The rules are `#[cfg(test)]` code, so `cargo test --workspace` enforces
//! them too; the `tidy` command just runs `cargo test -p xtask`. They read
//! the Rust sources under `crates/` (and `xtask/` for placeholders), skipping
//! `target` directories and lines that are comments, and check that:
//!
//! 1. `unsafe` blocks, functions and impls appear only in allowlisted files;
//! 2. every `unsafe {` has a `// SAFETY:` comment just above it;
//! 3. there is no `todo!`, `unimplemented!` or ignored test;
//! 4. every atomic `Ordering` other than `SeqCst` passed in `bytecast`'s
//!    sources is justified by an `// ORDERING:` comment on or above its line.

use anyhow::Result;

use crate::cmd::{self, cargo, Tally};

pub(crate) fn run(tally: &mut Tally) -> Result<()> {
    cmd::run_tests(cargo().args(["test", "-p", "xtask"]), tally)
}

/// The checks, as pure functions from a file's text to offending line numbers.
#[cfg(test)]
mod rules {
    /// How far above an `unsafe {` line its `SAFETY:` comment may start.
    const SAFETY_WINDOW: usize = 6;
    /// How far above an ordering argument its `ORDERING:` comment may be.
    const ORDERING_WINDOW: usize = 4;

    /// Written as concatenations so that this file does not match itself.
    const PLACEHOLDERS: &[&str] = &[
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("#[", "ignore"),
    ];
    const UNSAFE_ITEMS: &[&str] = &["unsafe {", "unsafe impl", "unsafe fn"];
    const ORDERINGS: &[&str] = &["Relaxed", "Acquire", "Release", "AcqRel"];

    /// A source line with its 1-based number.
    #[derive(Debug, Clone, Copy)]
    struct Line<'a> {
        number: usize,
        text: &'a str,
        is_comment: bool,
    }

    /// Splits `text` into lines, marking `//` comment lines and lines inside
    /// `/* ... */` block comments.
    fn lines(text: &str) -> Vec<Line<'_>> {
        let mut in_block = false;
        let mut lines = Vec::new();
        for (index, text) in text.lines().enumerate() {
            let trimmed = text.trim_start();
            let opens_block = trimmed.starts_with("/*");
            let is_comment = in_block || opens_block || trimmed.starts_with("//");
            if opens_block || in_block {
                in_block = !text.contains("*/");
            }
            lines.push(Line {
                number: index + 1,
                text,
                is_comment,
            });
        }
        lines
    }

    fn code_lines<'a>(lines: &'a [Line<'a>]) -> impl Iterator<Item = (usize, &'a Line<'a>)> {
        lines
            .iter()
            .enumerate()
            .filter(|(_, line)| !line.is_comment)
    }

    /// The text after the first `//` of `line`, if any.
    fn line_comment(line: &str) -> Option<&str> {
        line.find("//").map(|start| &line[start + 2..])
    }

    /// Whether any of `lines` has a `//` comment containing `tag`.
    fn has_tagged_comment(lines: &[Line<'_>], tag: &str) -> bool {
        lines
            .iter()
            .any(|line| line_comment(line.text).is_some_and(|comment| comment.contains(tag)))
    }

    fn is_ident_char(c: char) -> bool {
        c.is_alphanumeric() || c == '_'
    }

    /// Byte offsets where `needle` occurs in `line` not preceded by an
    /// identifier character (so `unsafe fn` does not match `not_unsafe fn`).
    fn token_starts<'a>(line: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
        line.match_indices(needle)
            .map(|(start, _)| start)
            .filter(|&start| !line[..start].ends_with(is_ident_char))
    }

    fn contains_token(line: &str, needle: &str) -> bool {
        token_starts(line, needle).next().is_some()
    }

    /// Lines with `unsafe {`, `unsafe impl` or `unsafe fn`.
    pub(super) fn unsafe_uses(text: &str) -> Vec<usize> {
        let lines = lines(text);
        code_lines(&lines)
            .filter(|(_, line)| {
                UNSAFE_ITEMS
                    .iter()
                    .any(|item| contains_token(line.text, item))
            })
            .map(|(_, line)| line.number)
            .collect()
    }

    /// `unsafe {` lines without a `// ... SAFETY:` comment in the lines above.
    pub(super) fn unjustified_unsafe_blocks(text: &str) -> Vec<usize> {
        let lines = lines(text);
        code_lines(&lines)
            .filter(|(_, line)| contains_token(line.text, "unsafe {"))
            .filter(|&(index, _)| {
                let above = &lines[index.saturating_sub(SAFETY_WINDOW)..index];
                !has_tagged_comment(above, "SAFETY:")
            })
            .map(|(_, line)| line.number)
            .collect()
    }

    /// Lines with a placeholder macro (`todo`, `unimplemented`) or an ignore attribute.
    pub(super) fn placeholders(text: &str) -> Vec<usize> {
        let lines = lines(text);
        code_lines(&lines)
            .filter(|(_, line)| {
                PLACEHOLDERS
                    .iter()
                    .any(|needle| contains_token(line.text, needle))
            })
            .map(|(_, line)| line.number)
            .collect()
    }

    /// Lines passing `Relaxed`, `Acquire`, `Release` or `AcqRel` as an
    /// argument without an `// ORDERING:` comment on or just above them.
    /// `use` declarations are skipped, even when they span several lines.
    pub(super) fn unjustified_orderings(text: &str) -> Vec<usize> {
        let lines = lines(text);
        let mut in_use = false;
        let mut unjustified = Vec::new();
        for (index, line) in code_lines(&lines) {
            in_use = in_use || is_use_declaration(line.text);
            if in_use {
                in_use = !line.text.contains(';');
                continue;
            }
            let next = lines.get(index + 1).map_or("", |next| next.text);
            let here_and_above = &lines[index.saturating_sub(ORDERING_WINDOW)..=index];
            if passes_ordering(line.text, next) && !has_tagged_comment(here_and_above, "ORDERING:")
            {
                unjustified.push(line.number);
            }
        }
        unjustified
    }

    /// Whether `line` starts a `use` declaration, with any visibility.
    fn is_use_declaration(line: &str) -> bool {
        let line = line.trim_start();
        let line = match line.strip_prefix("pub") {
            Some(rest) if rest.starts_with('(') => {
                rest.split_once(')').map_or(rest, |(_, rest)| rest)
            }
            Some(rest) => rest,
            None => line,
        };
        line.trim_start().starts_with("use ")
    }

    /// Whether an ordering identifier in `line` is followed by `)` or `,`, as
    /// in `load(Acquire)` or `Ordering::Release,`. Spaces may come between,
    /// and an identifier ending the line is followed by the `next` line.
    fn passes_ordering(line: &str, next: &str) -> bool {
        ORDERINGS.iter().any(|ordering| {
            token_starts(line, ordering).any(|start| {
                let mut after = line[start + ordering.len()..].trim_start();
                if after.is_empty() {
                    after = next.trim_start();
                }
                after.starts_with(')') || after.starts_with(',')
            })
        })
    }

    mod tests {
        use super::*;

        #[test]
        fn classifies_comment_lines() {
            let text = "a\n// b\n  /// c\n/* d\n e\n */ \nf /* g */\n/* h */\ni";
            let comments: Vec<bool> = lines(text).iter().map(|line| line.is_comment).collect();
            assert_eq!(
                comments,
                [false, true, true, true, true, true, false, true, false]
            );
        }

        #[test]
        fn finds_unsafe_uses() {
            let text = "fn a() {}\n\
                        unsafe fn b() {}\n\
                        unsafe impl Send for X {}\n\
                        let y = unsafe { z() };\n\
                        // unsafe { in a comment }\n\
                        not_unsafe fn c() {}\n\
                        #![forbid(unsafe_code)]\n\
                        pub(crate) unsafe fn d() {}";
            assert_eq!(unsafe_uses(text), [2, 3, 4, 8]);
        }

        #[test]
        fn unsafe_blocks_need_a_safety_comment_above() {
            let ok = "// SAFETY: the pointer is valid.\nlet y = unsafe { *p };";
            assert!(unjustified_unsafe_blocks(ok).is_empty());
            let missing = "let x = 1;\nlet y = unsafe { *p };";
            assert_eq!(unjustified_unsafe_blocks(missing), [2]);
            let same_line_only = "let y = unsafe { *p }; // SAFETY: no";
            assert_eq!(unjustified_unsafe_blocks(same_line_only), [1]);
            let not_a_comment = "let s = \"SAFETY:\";\nlet y = unsafe { *p };";
            assert_eq!(unjustified_unsafe_blocks(not_a_comment), [2]);
        }

        #[test]
        fn safety_comment_may_start_a_longer_comment() {
            let text = "// SAFETY: a long\n// justification\n// over\n// five\n// lines\n\
                        unsafe { f() }";
            assert!(unjustified_unsafe_blocks(text).is_empty());
            let too_far = format!("// SAFETY: x\n{}unsafe {{ f() }}", "//\n".repeat(6));
            assert_eq!(unjustified_unsafe_blocks(&too_far), [8]);
        }

        #[test]
        fn unsafe_fn_and_impl_need_no_safety_comment() {
            assert!(
                unjustified_unsafe_blocks("unsafe fn f() {}\nunsafe impl Send for X {}").is_empty()
            );
        }

        #[test]
        fn finds_placeholders() {
            let text = format!(
                "fn a() {{ {}) }}\n{}\n// {})\nfn b() {{ {}) }}\nlet my_{}) = 1;",
                PLACEHOLDERS[0], PLACEHOLDERS[2], PLACEHOLDERS[0], PLACEHOLDERS[1], PLACEHOLDERS[0],
            );
            assert_eq!(placeholders(&text), [1, 2, 4]);
        }

        #[test]
        fn orderings_need_a_comment() {
            let text = "x.load(Ordering::Acquire);\n\
                        x.store(1, Release);\n\
                        x.compare_exchange(a, b, AcqRel, Relaxed)\n\
                        x.load(Ordering::SeqCst);\n\
                        match o { Ordering::Relaxed => {} }";
            assert_eq!(unjustified_orderings(text), [1, 2, 3]);
        }

        #[test]
        fn ordering_comment_on_the_line_or_up_to_four_above() {
            let same_line = "x.load(Acquire); // ORDERING: pairs with the Release in push";
            assert!(unjustified_orderings(same_line).is_empty());
            let above = "// ORDERING: pairs with push\nlet a = 1;\nlet b = 2;\nlet c = 3;\n\
                         x.load(Acquire);";
            assert!(unjustified_orderings(above).is_empty());
            let too_far = format!("// ORDERING: x\n{}x.load(Acquire);", "a;\n".repeat(4));
            assert_eq!(unjustified_orderings(&too_far), [6]);
        }

        #[test]
        fn multi_line_arguments_are_checked() {
            let text = "x.compare_exchange(\n    a,\n    b,\n    Ordering::AcqRel,\n    \
                        Ordering::Acquire,\n    Ordering::Relaxed\n);";
            assert_eq!(unjustified_orderings(text), [4, 5, 6]);
        }

        #[test]
        fn orderings_in_comments_names_and_use_declarations_are_ignored() {
            let text = "use core::sync::atomic::Ordering::{Acquire, Release};\n\
                        pub(crate) use core::sync::atomic::{\n    AtomicUsize,\n    \
                        Ordering::{AcqRel, Relaxed},\n};\n\
                        // x.load(Acquire)\n\
                        fn release(x: Released, y: MyAcquire) {}\n\
                        let Released = 1;";
            assert!(unjustified_orderings(text).is_empty());
        }

        #[test]
        fn recognises_use_declarations() {
            assert!(is_use_declaration("use a::b;"));
            assert!(is_use_declaration("  pub use a::b;"));
            assert!(is_use_declaration("pub(crate) use a::{"));
            assert!(is_use_declaration("pub(in crate::x) use a::b;"));
            assert!(!is_use_declaration("let used = 1;"));
            assert!(!is_use_declaration("user(Acquire);"));
        }
    }
}

/// The rules applied to the repository's files.
#[cfg(test)]
mod tests {
    use std::{
        fs,
        path::{Path, PathBuf},
    };

    use super::rules;
    use crate::cmd::project_root;

    /// The only files allowed to contain `unsafe` code.
    const UNSAFE_ALLOWLIST: &[&str] =
        &["crates/bytecast/src/ring.rs", "crates/bytecast/src/sync.rs"];

    /// A Rust source file, with its path relative to the project root.
    struct Source {
        path: String,
        text: String,
    }

    /// Every `.rs` file under `dir` (relative to the project root), skipping
    /// `target` and hidden directories.
    fn sources(dir: &str) -> Vec<Source> {
        let root = project_root();
        let mut paths = Vec::new();
        collect_rs_files(&root.join(dir), &mut paths);
        assert!(!paths.is_empty(), "no .rs files under {dir}/");
        paths.sort();
        paths
            .into_iter()
            .map(|path| Source {
                text: fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                path: relative(&root, &path),
            })
            .collect()
    }

    fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("readable directory entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    collect_rs_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    fn relative(root: &Path, path: &Path) -> String {
        let relative = path.strip_prefix(root).unwrap_or(path);
        let parts: Vec<_> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        parts.join("/")
    }

    /// Fails listing `path:line` of every line `rule` reports in `sources`.
    fn check(sources: &[Source], rule: fn(&str) -> Vec<usize>, problem: &str) {
        let offending: Vec<String> = sources
            .iter()
            .flat_map(|source| {
                rule(&source.text)
                    .into_iter()
                    .map(move |line| format!("{}:{line}", source.path))
            })
            .collect();
        assert!(
            offending.is_empty(),
            "{problem}:\n  {}",
            offending.join("\n  ")
        );
    }

    #[test]
    fn unsafe_only_in_allowlisted_files() {
        let sources: Vec<Source> = sources("crates")
            .into_iter()
            .filter(|source| !UNSAFE_ALLOWLIST.contains(&source.path.as_str()))
            .collect();
        check(
            &sources,
            rules::unsafe_uses,
            &format!("`unsafe` outside the allowlist {UNSAFE_ALLOWLIST:?} (xtask/src/tidy.rs)"),
        );
    }

    #[test]
    fn unsafe_blocks_have_safety_comments() {
        check(
            &sources("crates"),
            rules::unjustified_unsafe_blocks,
            "`unsafe {` without a `// SAFETY:` comment in the 6 lines above",
        );
    }

    #[test]
    fn no_placeholders_or_ignored_tests() {
        let mut sources = sources("crates");
        sources.extend(self::sources("xtask"));
        check(
            &sources,
            rules::placeholders,
            "placeholder macro (todo, unimplemented) or ignored test",
        );
    }

    #[test]
    fn atomic_orderings_are_justified() {
        check(
            &sources("crates/bytecast/src"),
            rules::unjustified_orderings,
            "atomic ordering without an `// ORDERING:` comment on the line or the 4 lines above",
        );
    }
}
