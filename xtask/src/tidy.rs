//! `cargo xtask tidy`: source and document hygiene rules, enforced as this crate's tests.
//!
//! The rules are `#[cfg(test)]` code, so `cargo test --workspace` enforces
//! them too; the `tidy` command just runs `cargo test -p xtask`. The source
//! rules read the Rust sources under `crates/` (and `xtask/` for placeholders),
//! skipping `target` directories and lines that are comments, and check that:
//!
//! 1. `unsafe` blocks, functions and impls appear only in allowlisted files;
//! 2. every `unsafe {` has a `// SAFETY:` comment just above it;
//! 3. there is no `todo!`, `unimplemented!` or ignored test;
//! 4. every atomic `Ordering` other than `SeqCst` passed in `bytecast`'s
//!    sources is justified by an `// ORDERING:` comment on or above its line.
//!
//! The document rules (`tidy/docs.rs`) check that:
//!
//! 5. no text file of the repository but `CHANGELOG.md` mentions development
//!    history: numbered stops or working periods of past work, issue numbers,
//!    dates and times of day, short commit hashes;
//! 6. every relative link of `README.md`, `docs/*.md` and the crate READMEs
//!    names an existing file, and an existing heading where it has an anchor;
//! 7. `README.md`'s layout table names every crate directory under `crates/` and
//!    every top-level folder, and its documents table names every entry of `docs/`;
//! 8. the READMEs of published crates have no relative links (crates.io shows
//!    them away from the repository).
//!
//! Every failure lists each offending `file:line`.

use anyhow::Result;

use crate::cmd::{self, cargo, Tally};

/// `tidy`: this crate's tests, the rules among them.
pub(crate) fn run(tally: &mut Tally) -> Result<()> {
    cmd::run_tests(cargo().args(["test", "-p", "xtask"]), tally)
}

#[cfg(test)]
mod docs;

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

    use super::{docs, rules};
    use crate::{checks::PUBLISHED, cmd::project_root};

    /// The only files allowed to contain `unsafe` code: the core's ring and synchronisation
    /// primitives, the firmware's heap setup and superloop waker, and the test that builds
    /// wakers whose `clone` and `drop` panic (only a raw waker vtable can).
    const UNSAFE_ALLOWLIST: &[&str] = &[
        "crates/bytecast/src/ring.rs",
        "crates/bytecast/src/sync.rs",
        "crates/bytecast-firmware/src/lib.rs",
        "crates/bytecast/tests/panicking_wakers.rs",
    ];

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
        read_all(&root, paths)
    }

    /// The text of each of `paths`, with its path relative to `root`.
    fn read_all(root: &Path, paths: Vec<PathBuf>) -> Vec<Source> {
        paths
            .into_iter()
            .map(|path| Source {
                text: fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                path: relative(root, &path),
            })
            .collect()
    }

    /// The entries of `dir`, sorted.
    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("readable directory entry").path())
            .collect();
        found.sort();
        found
    }

    fn file_name(path: &Path) -> String {
        path.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
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

    /// Files exempt from the history rule: where history belongs, and generated lock files.
    const HISTORY_EXEMPT: &[&str] = &["CHANGELOG.md", "Cargo.lock", "fuzz/Cargo.lock"];
    /// Folders of data, not text, that the history rule skips: fuzz inputs.
    const DATA_DIRS: &[&str] = &["fuzz/corpus", "fuzz/regressions", "fuzz/artifacts"];
    /// Extensions of the text files the history rule reads (plus extensionless scripts in `.ci/`).
    const TEXT_EXTENSIONS: &[&str] = &["rs", "md", "toml", "sh", "svg", "txt", "yml", "yaml"];

    /// Every file under `dir` (an absolute path), skipping `.git`, `target` and `DATA_DIRS`.
    fn all_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("readable directory entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                let skipped = name == ".git"
                    || name.starts_with("target")
                    || DATA_DIRS.contains(&relative(root, &path).as_str());
                if !skipped {
                    all_files(root, &path, out);
                }
            } else {
                out.push(path);
            }
        }
    }

    /// The repository's text files that the history rule reads, relative to the root.
    fn text_files() -> Vec<Source> {
        let root = project_root();
        let mut paths = Vec::new();
        all_files(&root, &root, &mut paths);
        paths.sort();
        paths
            .into_iter()
            .filter_map(|path| {
                let rel = relative(&root, &path);
                let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
                let text = match ext.as_deref() {
                    Some(ext) => TEXT_EXTENSIONS.contains(&ext),
                    None => rel.starts_with(".ci/") || !rel.contains('/'),
                };
                if !text || HISTORY_EXEMPT.contains(&rel.as_str()) {
                    return None;
                }
                let text = fs::read_to_string(&path).ok()?;
                Some(Source { path: rel, text })
            })
            .collect()
    }

    /// `README.md`, `docs/*.md` and every crate's `README.md`.
    fn markdown_documents() -> Vec<Source> {
        let root = project_root();
        let mut paths = vec![root.join("README.md")];
        paths.extend(
            entries(&root.join("docs"))
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "md")),
        );
        for krate in crate_dirs() {
            let readme = root.join("crates").join(&krate).join("README.md");
            if readme.exists() {
                paths.push(readme);
            }
        }
        read_all(&root, paths)
    }

    /// The names of the directories under `crates/`, sorted.
    fn crate_dirs() -> Vec<String> {
        entries(&project_root().join("crates"))
            .into_iter()
            .filter(|p| p.is_dir())
            .map(|p| file_name(&p))
            .collect()
    }

    /// Fails listing every `(path, line, problem)`, one per line.
    fn report(findings: Vec<String>, problem: &str) {
        assert!(
            findings.is_empty(),
            "{problem} ({} found):\n  {}",
            findings.len(),
            findings.join("\n  ")
        );
    }

    #[test]
    fn no_history_outside_the_changelog() {
        let findings: Vec<String> = text_files()
            .iter()
            .flat_map(|source| {
                let lines: Vec<&str> = source.text.lines().collect();
                docs::history_mentions(&source.text)
                    .into_iter()
                    .map(move |finding| {
                        let text: String =
                            lines[finding.line - 1].trim().chars().take(100).collect();
                        format!("{}:{}: {}: {text}", source.path, finding.line, finding.what)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        report(
            findings,
            "development history outside CHANGELOG.md (say what is true now; history goes to \
             CHANGELOG.md, references to a heading or a test name)",
        );
    }

    #[test]
    fn relative_links_resolve() {
        let root = project_root();
        let mut findings = Vec::new();
        for source in markdown_documents() {
            let dir = Path::new(&source.path).parent().unwrap_or(Path::new(""));
            for link in docs::links(&source.text) {
                if docs::is_external(&link.target) {
                    continue;
                }
                let (file, anchor) = match link.target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (link.target.as_str(), None),
                };
                let target = if file.is_empty() {
                    root.join(&source.path)
                } else {
                    root.join(dir).join(file)
                };
                let at = format!("{}:{}: `{}`", source.path, link.line, link.target);
                if !target.exists() {
                    findings.push(format!("{at}: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if target.extension().is_some_and(|e| e == "md") {
                    let text = fs::read_to_string(&target).unwrap_or_default();
                    if !docs::anchors(&text).iter().any(|a| a == anchor) {
                        findings.push(format!("{at}: no heading with that anchor"));
                    }
                }
            }
        }
        report(findings, "relative links that do not resolve");
    }

    #[test]
    fn readme_layout_names_every_crate_and_folder() {
        let root = project_root();
        let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
        let layout = docs::section(&readme, "Layout").expect("README.md has a `## Layout` section");
        let mut missing = Vec::new();
        for krate in crate_dirs() {
            if !layout.contains(&format!("`crates/{krate}/")) {
                missing.push(format!("README.md: crates/{krate}/"));
            }
        }
        let folders: Vec<String> = entries(&root)
            .into_iter()
            .filter(|p| p.is_dir())
            .map(|p| file_name(&p))
            .filter(|name| !name.starts_with('.') && !name.starts_with("target"))
            .collect();
        for folder in folders {
            if !layout.contains(&format!("`{folder}/")) {
                missing.push(format!("README.md: {folder}/"));
            }
        }
        report(
            missing,
            "folders the layout table of README.md does not name",
        );
    }

    #[test]
    fn readme_documents_name_every_doc() {
        let root = project_root();
        let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
        let documents =
            docs::section(&readme, "Documents").expect("README.md has a `## Documents` section");
        let docs: Vec<String> = entries(&root.join("docs"))
            .into_iter()
            .map(|p| {
                if p.is_dir() {
                    format!("docs/{}/", file_name(&p))
                } else {
                    format!("docs/{}", file_name(&p))
                }
            })
            .collect();
        let missing: Vec<String> = docs
            .into_iter()
            .filter(|entry| !documents.contains(entry.as_str()))
            .map(|entry| format!("README.md: {entry}"))
            .collect();
        report(
            missing,
            "entries of docs/ the documents table of README.md does not name",
        );
    }

    #[test]
    fn published_readmes_have_no_relative_links() {
        let root = project_root();
        let mut findings = Vec::new();
        for krate in PUBLISHED {
            let path = format!("crates/{krate}/README.md");
            let text = fs::read_to_string(root.join(&path))
                .unwrap_or_else(|e| panic!("{path}: {e} (each published crate has a README)"));
            for link in docs::links(&text) {
                if !docs::is_external(&link.target) && !link.target.starts_with('#') {
                    findings.push(format!("{path}:{}: `{}`", link.line, link.target));
                }
            }
        }
        report(
            findings,
            "relative links in a published crate's README (they break on crates.io; use \
             absolute links)",
        );
    }
}
