//! The crate's layers hold: every `crate::` and `super::` path in `src/`
//! (`use` groups included) reaches only a module that the layer table in
//! `src/lib.rs` allows. A fixture that reaches upward must fail the same
//! check, so the check cannot quietly stop seeing violations.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module's row of the table.
#[derive(Debug)]
struct Row {
    layer: u32,
    may_use: BTreeSet<String>,
    tests_only: bool,
}

/// One path that leaves its module for one the table does not allow.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    line: usize,
    from: String,
    to: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layer table of `src/lib.rs`'s module doc.
fn table(lib: &str) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! |") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Ok(layer) = cells[0].parse::<u32>() else {
            continue;
        };
        let name = |cell: &str| cell.trim().trim_matches('`').to_string();
        let may_use = cells[3]
            .split(',')
            .map(name)
            .filter(|m| !m.is_empty())
            .collect();
        rows.insert(
            name(cells[1]),
            Row {
                layer,
                may_use,
                tests_only: cells[2].contains("(tests only)"),
            },
        );
    }
    rows
}

/// Names `lib.rs` re-exports at the crate root, and the module of each.
fn root_names(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let (module, items) = rest.split_once("::").expect("pub use module::items");
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            names.insert(item.trim().to_string(), module.to_string());
        }
    }
    names
}

/// `source` with comments, string and char literals blanked out (newlines
/// kept, so line numbers still hold).
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char(chars.get(i.wrapping_sub(1)).copied())
        {
            // Raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(chars[i..j.min(chars.len())].iter().map(|&ch| blank(ch)));
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{2014}'.
            let mut j = i + 3;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            out.extend(
                chars[i..(j + 1).min(chars.len())]
                    .iter()
                    .map(|&ch| blank(ch)),
            );
            i = j + 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // 'x' (a lifetime such as 'a has no closing quote there).
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

fn identifier(text: &[char], mut i: usize) -> (String, usize) {
    while text.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let start = i;
    while ident_char(text.get(i).copied()) {
        i += 1;
    }
    (text[start..i].iter().collect(), i)
}

/// The first segment of every item of a `{…}` group starting at `text[i]`.
fn group_heads(text: &[char], i: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    let mut j = i;
    while j < text.len() {
        match text[j] {
            '{' => {
                depth += 1;
                expecting = depth == 1;
                j += 1;
            }
            '}' => {
                depth -= 1;
                j += 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                expecting = true;
                j += 1;
            }
            c if expecting && depth == 1 && (c.is_alphabetic() || c == '_') => {
                let (name, end) = identifier(text, j);
                heads.push(name);
                expecting = false;
                j = end;
            }
            _ => j += 1,
        }
    }
    heads
}

/// Where each `crate::`/`super::` path of a file leads: the top-level
/// module (or crate-root name) it names, with its line. `module` is the
/// file's module path (`["hnsw", "insert"]`).
fn references(module: &[String], source: &str) -> Vec<(usize, String)> {
    let text: Vec<char> = strip(source).chars().collect();
    let mut found = Vec::new();
    let mut line = 1;
    // Inline `mod name {` blocks deepen `super::`; their brace depths.
    let mut inline_modules: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let starts = |at: usize, word: &str| {
        word.chars()
            .enumerate()
            .all(|(k, c)| text.get(at + k) == Some(&c))
            && !ident_char(at.checked_sub(1).and_then(|p| text.get(p)).copied())
    };
    while i < text.len() {
        match text[i] {
            '\n' => line += 1,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if inline_modules.last() == Some(&depth) {
                    inline_modules.pop();
                }
            }
            _ => {}
        }
        if starts(i, "mod ") {
            let (_, end) = identifier(&text, i + 4);
            let mut k = end;
            while text.get(k).is_some_and(|c| c.is_whitespace()) {
                k += 1;
            }
            if text.get(k) == Some(&'{') {
                inline_modules.push(depth);
            }
        }
        let (at_root, mut next) = if starts(i, "crate::") {
            (true, i + 7)
        } else if starts(i, "super::") {
            let mut supers = 0;
            let mut j = i;
            while "super::"
                .chars()
                .enumerate()
                .all(|(k, c)| text.get(j + k) == Some(&c))
            {
                supers += 1;
                j += 7;
            }
            let here = module.len() + inline_modules.len();
            if supers >= here {
                (true, j)
            } else {
                // Within the file's own top-level module (or an inline one).
                i = j;
                continue;
            }
        } else {
            i += 1;
            continue;
        };
        if at_root {
            while text.get(next).is_some_and(|c| c.is_whitespace()) {
                next += 1;
            }
            if text.get(next) == Some(&'{') {
                for head in group_heads(&text, next) {
                    found.push((line, head));
                }
            } else {
                let (name, _) = identifier(&text, next);
                found.push((line, if name.is_empty() { "*".into() } else { name }));
            }
        }
        i = next;
    }
    found
}

/// The module path of a file under `src/`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The violations in one file of module path `module`.
fn check_file(
    module: &[String],
    source: &str,
    table: &BTreeMap<String, Row>,
    roots: &BTreeMap<String, String>,
) -> Vec<Violation> {
    let own = &module[0];
    let row = table
        .get(own)
        .unwrap_or_else(|| panic!("module {own} is not in src/lib.rs's layer table"));
    references(module, source)
        .into_iter()
        .filter_map(|(line, name)| {
            let target = if table.contains_key(&name) {
                name
            } else if let Some(module) = roots.get(&name) {
                module.clone()
            } else {
                return Some(Violation {
                    line,
                    from: module.join("::"),
                    to: format!("crate::{name} (not a module of the table)"),
                });
            };
            let allowed =
                &target == own || row.may_use.contains(&target) || table[&target].tests_only;
            (!allowed).then(|| Violation {
                line,
                from: module.join("::"),
                to: target,
            })
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_layer_table_points_down_only() {
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let table = table(&lib);
    assert!(table.len() >= 12, "the table has {} rows", table.len());
    for (module, row) in &table {
        for used in &row.may_use {
            let used_row = table
                .get(used)
                .unwrap_or_else(|| panic!("{module} may use {used}, which the table lacks"));
            assert!(
                used_row.layer < row.layer
                    || (used_row.layer == 0 && row.layer == 0 && used != module),
                "{module} (layer {}) may use {used} (layer {}): not below it",
                row.layer,
                used_row.layer
            );
        }
    }
    // Within layer 0 modules may use each other; no cycle among them.
    for (module, row) in table.iter().filter(|(_, r)| r.layer == 0) {
        for used in &row.may_use {
            assert!(
                !table[used].may_use.contains(module),
                "{module} and {used} may use each other"
            );
        }
    }
}

#[test]
fn every_path_in_src_reaches_only_what_its_layer_may_use() {
    let src = root().join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let (table, roots) = (table(&lib), root_names(&lib));
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut modules = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative == Path::new("lib.rs") {
            continue;
        }
        let module = module_path(relative);
        modules.insert(module[0].clone());
        let source = fs::read_to_string(file).unwrap();
        violations.extend(
            check_file(&module, &source, &table, &roots)
                .into_iter()
                .map(|v| {
                    format!(
                        "src/{}:{}: {} uses {}",
                        relative.display(),
                        v.line,
                        v.from,
                        v.to
                    )
                }),
        );
    }
    let listed: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(
        modules, listed,
        "the table lists exactly the modules in src/"
    );
    assert!(
        violations.is_empty(),
        "upward or sideways paths:\n{}",
        violations.join("\n")
    );
}

#[test]
fn a_file_that_reaches_upward_fails_the_check() {
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let (table, roots) = (table(&lib), root_names(&lib));
    let fixture = fs::read_to_string(root().join("tests/fixtures/store_reaching_up.rs")).unwrap();
    // Checked as if it were src/store/reaching_up.rs.
    let module = vec!["store".to_string(), "reaching_up".to_string()];
    let found: Vec<(usize, String)> = check_file(&module, &fixture, &table, &roots)
        .into_iter()
        .map(|v| (v.line, v.to))
        .collect();
    let expected: Vec<(usize, String)> = fixture
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let (_, marker) = line.split_once("// VIOLATION: ")?;
            Some(
                marker
                    .split(", ")
                    .map(move |to| (i + 1, to.trim().to_string())),
            )
        })
        .flatten()
        .collect();
    assert!(expected.len() >= 6, "the fixture marks its violations");
    assert_eq!(found, expected);
}

/// Lines of `source` before its `#[cfg(test)]` module (all of it if none).
fn lines_before_tests(source: &str) -> usize {
    let lines: Vec<&str> = source.lines().collect();
    lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len())
}

#[test]
fn no_file_in_src_has_more_than_700_lines_of_code_before_its_tests() {
    const LIMIT: usize = 700;
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // Files that are test modules themselves (`#[cfg(test)] mod name;`).
    let mut test_only = BTreeSet::new();
    for file in &files {
        let source = fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        for w in lines.windows(2) {
            if w[0].trim() == "#[cfg(test)]" {
                if let Some(name) = w[1]
                    .trim()
                    .strip_prefix("mod ")
                    .and_then(|m| m.strip_suffix(';'))
                {
                    let dir = file.parent().unwrap();
                    let dir = if file.ends_with("mod.rs") || file.ends_with("lib.rs") {
                        dir.to_path_buf()
                    } else {
                        dir.join(file.file_stem().unwrap())
                    };
                    test_only.insert(dir.join(format!("{name}.rs")));
                }
            }
        }
    }
    let mut long = Vec::new();
    for file in files.iter().filter(|f| !test_only.contains(*f)) {
        let count = lines_before_tests(&fs::read_to_string(file).unwrap());
        if count > LIMIT {
            long.push(format!(
                "{}: {count} lines",
                file.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    assert!(test_only.len() >= 5, "test-only files found: {test_only:?}");
    assert!(
        long.is_empty(),
        "files over {LIMIT} lines before their tests:\n{}",
        long.join("\n")
    );
}
