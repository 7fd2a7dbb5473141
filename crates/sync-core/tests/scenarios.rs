//! Scenario tests of the planner: one small world per rule, written down as a spec in
//! `tests/scenarios/*.scenario` (the format is described in `tests/scenarios/README.md`).
//!
//! For every file: build the merge base, the local disk and Dropbox from `[base]`, `[local]`
//! and `[remote]`; check the first plan against `[first plan]`; then let the model executor
//! (`tests/model`) carry out plan after plan, shuffled, until the planner has nothing left,
//! and check both sides against `[result]`. That is done once per seed in `SEEDS`: the result
//! must not depend on the order in which the operations of a round complete.
//!
//! `SCENARIO=text` runs only the files whose name contains `text`; `SCENARIO_PRINT=1` prints
//! what each scenario actually does (first plan and result), for writing new ones;
//! `PLANNER_TRACE=1` prints every plan.

mod model;

use model::{Entry, Fs, converge, observe_local, observe_remote, split_base};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use sync_core::path::{is_within, key, parent};
use sync_core::{Op, Settings, Trees, plan};

/// Scenarios that fail because the planner breaks the rule they describe (file stems). A
/// scenario listed here that passes fails the test, so the list cannot go stale.
const KNOWN_FAILURES: &[&str] = &[];

/// Seeds for shuffling the operations of each round; every one must reach the `[result]`.
const SEEDS: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8];

const SECTIONS: &[&str] = &[
    "base",
    "local",
    "remote",
    "settings",
    "first plan",
    "result",
    "local result",
    "remote result",
];

/// One line of a tree listing.
#[derive(Clone, Debug)]
struct Line {
    /// Line number in the file (0 for folders implied by a path below them).
    no: usize,
    /// Display path with a leading `/`, without a trailing one.
    path: String,
    folder: bool,
    /// File content, if given (`= content`).
    content: Option<Vec<u8>>,
    /// `<- old/path`: the same node as `old/path` in `[base]`, moved.
    from: Option<String>,
    /// `[new]`: a new node even where `[base]` has one of that name and kind.
    new: bool,
    /// `[touched]`: a new revision even if the content is the same.
    touched: bool,
}

#[derive(Debug, Default)]
struct Scenario {
    base: Vec<Line>,
    local: Option<Vec<Line>>,
    remote: Option<Vec<Line>>,
    settings: Settings,
    first_plan: Vec<String>,
    result: Option<Vec<Line>>,
    local_result: Option<Vec<Line>>,
    remote_result: Option<Vec<Line>>,
}

// ---- parsing

/// Decode `\u{XXXX}` escapes (for names that differ only in Unicode form).
fn unescape(s: &str, no: usize) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\u{") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 3..];
        let end = tail
            .find('}')
            .ok_or_else(|| format!("line {no}: unterminated \\u{{...}}"))?;
        let c = u32::from_str_radix(&tail[..end], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("line {no}: bad escape \\u{{{}}}", &tail[..end]))?;
        out.push(c);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Printable form: anything but visible ASCII as `\u{XXXX}`, so that Unicode forms show.
fn escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c.to_string()
            } else {
                format!("\\u{{{:x}}}", c as u32)
            }
        })
        .collect()
}

/// `docs/a.txt` or `docs/` → `/docs/a.txt`, `/docs`.
fn scenario_path(p: &str, no: usize) -> Result<String, String> {
    let p = unescape(p.trim(), no)?;
    let bare = p.strip_suffix('/').unwrap_or(&p);
    if bare.is_empty() || bare.starts_with('/') || bare.split('/').any(str::is_empty) {
        return Err(format!(
            "line {no}: bad path {p:?} (write `dir/name`, no leading slash)"
        ));
    }
    Ok(format!("/{bare}"))
}

fn parse_line(no: usize, text: &str, moves_allowed: bool) -> Result<Line, String> {
    let mut s = text.trim();
    let (mut new, mut touched) = (false, false);
    loop {
        if let Some(rest) = s.strip_suffix("[new]") {
            new = true;
            s = rest.trim_end();
        } else if let Some(rest) = s.strip_suffix("[touched]") {
            touched = true;
            s = rest.trim_end();
        } else {
            break;
        }
    }
    let (lhs, content) = match s.split_once(" = ") {
        Some((l, c)) => (l.trim(), Some(c.trim())),
        None => match s.strip_suffix(" =") {
            Some(l) => (l.trim(), Some("")),
            None => (s, None),
        },
    };
    let (path, from) = match lhs.split_once(" <- ") {
        Some((p, f)) => (p.trim(), Some(f.trim())),
        None => (lhs, None),
    };
    let folder = path.ends_with('/');
    if (new || touched || from.is_some()) && !moves_allowed {
        return Err(format!(
            "line {no}: `<-`, [new] and [touched] belong in [local] and [remote]"
        ));
    }
    if let Some(f) = from {
        if f.ends_with('/') != folder {
            return Err(format!(
                "line {no}: `{path} <- {f}`: both end in `/` (a folder) or neither does"
            ));
        }
    }
    if folder && content.is_some() {
        return Err(format!("line {no}: a folder (`{path}`) has no content"));
    }
    // In [local] and [remote] a file without content is the base's, unchanged.
    if !folder && content.is_none() && from.is_none() && !moves_allowed {
        return Err(format!(
            "line {no}: `{path}`: a file needs `= content`, a folder ends in `/`"
        ));
    }
    Ok(Line {
        no,
        path: scenario_path(path, no)?,
        folder,
        content: content
            .map(|c| unescape(c, no).map(String::into_bytes))
            .transpose()?,
        from: from.map(|f| scenario_path(f, no)).transpose()?,
        new,
        touched,
    })
}

fn parse(text: &str) -> Result<Scenario, String> {
    let mut sections: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let line = match raw.find(" # ") {
            Some(at) => &raw[..at],
            None => raw,
        }
        .trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            if !SECTIONS.contains(&name.as_str()) {
                return Err(format!(
                    "line {no}: unknown section [{name}] (known: {SECTIONS:?})"
                ));
            }
            if sections.insert(name.clone(), vec![]).is_some() {
                return Err(format!("line {no}: [{name}] appears twice"));
            }
            current = Some(name);
            continue;
        }
        let Some(section) = &current else {
            return Err(format!("line {no}: text before the first [section]"));
        };
        sections
            .get_mut(section)
            .unwrap_or_else(|| unreachable!())
            .push((no, line.to_string()));
    }
    let listing = |name: &str, moves: bool| -> Result<Option<Vec<Line>>, String> {
        sections
            .get(name)
            .map(|lines| {
                lines
                    .iter()
                    .map(|(no, l)| parse_line(*no, l, moves))
                    .collect()
            })
            .transpose()
    };
    let mut sc = Scenario {
        base: listing("base", false)?.unwrap_or_default(),
        local: listing("local", true)?,
        remote: listing("remote", true)?,
        result: listing("result", false)?,
        local_result: listing("local result", false)?,
        remote_result: listing("remote result", false)?,
        settings: Settings {
            host: "lab".into(),
            date: "2026-11-27".into(),
            excluded: vec![],
        },
        ..Scenario::default()
    };
    if sc.result.is_none() && (sc.local_result.is_none() || sc.remote_result.is_none()) {
        return Err("no [result] (or [local result] and [remote result])".into());
    }
    let Some(first_plan) = sections.get("first plan") else {
        return Err("no [first plan] (leave it empty if nothing is to be done)".into());
    };
    for (no, l) in first_plan {
        sc.first_plan.push(normalise_op(&unescape(l, *no)?));
    }
    sc.first_plan.sort();
    for (no, l) in sections.get("settings").into_iter().flatten() {
        let (name, value) = l
            .split_once('=')
            .ok_or_else(|| format!("line {no}: settings are `name = value`"))?;
        let value = value.trim();
        match name.trim() {
            "host" => sc.settings.host = value.into(),
            "date" => sc.settings.date = value.into(),
            "excluded" => {
                for p in value.split(',') {
                    sc.settings.excluded.push(key(&scenario_path(p, *no)?));
                }
            }
            other => return Err(format!("line {no}: unknown setting {other:?}")),
        }
    }
    Ok(sc)
}

/// The lines with every folder they imply, by path (so parents come before children).
fn with_parents(lines: &[Line]) -> Result<BTreeMap<String, Line>, String> {
    let mut all: BTreeMap<String, Line> = BTreeMap::new();
    for l in lines {
        if all.insert(l.path.clone(), l.clone()).is_some() {
            return Err(format!("line {}: {} is listed twice", l.no, l.path));
        }
    }
    for l in lines {
        let mut p = parent(&l.path);
        while !p.is_empty() {
            match all.get(p) {
                Some(f) if !f.folder => {
                    return Err(format!(
                        "line {}: {} lies below the file {}",
                        l.no, l.path, f.path
                    ));
                }
                Some(_) => {}
                None => {
                    all.insert(
                        p.to_string(),
                        Line {
                            no: 0,
                            path: p.to_string(),
                            folder: true,
                            content: None,
                            from: None,
                            new: false,
                            touched: false,
                        },
                    );
                }
            }
            p = parent(p);
        }
    }
    Ok(all)
}

/// Two names Dropbox cannot hold side by side.
fn check_keys(fs: &Fs, what: &str) -> Result<(), String> {
    let mut seen: BTreeMap<String, &String> = BTreeMap::new();
    for p in fs.entries.keys() {
        if let Some(other) = seen.insert(key(p), p) {
            return Err(format!(
                "{what}: {} and {} differ only in case or Unicode form",
                escape(other),
                escape(p)
            ));
        }
    }
    Ok(())
}

/// The agreed state both sides start from.
fn build_base(lines: &[Line]) -> Result<Fs, String> {
    let mut fs = Fs {
        case_insensitive: true,
        ..Fs::default()
    };
    for (path, l) in with_parents(lines)? {
        let ident = fs.ident();
        fs.entries.insert(
            path,
            Entry {
                folder: l.folder,
                content: l.content.unwrap_or_default(),
                ident,
                rev: if l.folder { 0 } else { 1 },
            },
        );
    }
    check_keys(&fs, "[base]")?;
    Ok(fs)
}

/// Replace one side's entries (as split from the base) by the listing. A node keeps its
/// identity (inode or Dropbox id, and revision) when the listing names where it was in the
/// base: its own path, `<- old/path`, or the path below a folder listed with `<-`.
fn build_side(fs: &mut Fs, lines: &[Line], what: &str) -> Result<(), String> {
    let old = std::mem::take(&mut fs.entries);
    let all = with_parents(lines)?;
    let mut used: BTreeMap<u64, String> = BTreeMap::new();
    for (path, l) in &all {
        let source = match &l.from {
            Some(f) => f.clone(),
            None => {
                let mut source = path.clone();
                let mut p = parent(path);
                while !p.is_empty() {
                    if let Some(f) = all.get(p).and_then(|a| a.from.as_ref()) {
                        source = format!("{f}{}", &path[p.len()..]);
                        break;
                    }
                    p = parent(p);
                }
                source
            }
        };
        let kept = old
            .get(&source)
            .filter(|e| !l.new && e.folder == l.folder)
            .cloned();
        if l.from.is_some() && kept.is_none() {
            return Err(format!(
                "{what} line {}: {source} is not a {} in [base]",
                l.no,
                if l.folder { "folder" } else { "file" }
            ));
        }
        let entry = match kept {
            Some(mut e) => {
                if let Some(c) = &l.content {
                    if *c != e.content {
                        e.content = c.clone();
                        e.rev += 1;
                    }
                }
                if l.touched {
                    e.rev += 1;
                }
                if let Some(earlier) = used.insert(e.ident, path.clone()) {
                    return Err(format!(
                        "{what} line {}: {path} and {earlier} are both the base's {source}",
                        l.no
                    ));
                }
                e
            }
            None => {
                let Some(content) = l.content.clone().or_else(|| l.folder.then(Vec::new)) else {
                    return Err(format!(
                        "{what} line {}: {path} is not in [base]: give it `= content`",
                        l.no
                    ));
                };
                Entry {
                    folder: l.folder,
                    content,
                    ident: fs.ident(),
                    rev: if l.folder { 0 } else { 1 },
                }
            }
        };
        fs.entries.insert(path.clone(), entry);
    }
    if fs.case_insensitive {
        check_keys(fs, what)?;
    }
    Ok(())
}

// ---- rendering

fn normalise_op(s: &str) -> String {
    escape(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn show(path: &str) -> &str {
    path.strip_prefix('/').unwrap_or(path)
}

/// The compact text form of an operation used in `[first plan]`.
fn render_op(op: &Op, t: &Trees) -> String {
    let display = |k: &str| {
        t.local
            .get(k)
            .map(|n| n.path.clone())
            .or_else(|| t.remote.get(k).map(|n| n.path.clone()))
            .or_else(|| t.synced.get(k).map(|n| n.path.clone()))
            .unwrap_or_else(|| k.to_string())
    };
    let s = match op {
        Op::Upload { local, base, .. } => format!(
            "upload {}{}",
            show(&local.path),
            if base.is_some() { " (update)" } else { "" }
        ),
        Op::Download {
            remote, replace, ..
        } => format!(
            "download {}{}",
            show(&remote.path),
            if replace.is_some() { " (replace)" } else { "" }
        ),
        Op::CreateRemoteFolder { local, .. } => {
            format!("create remote folder {}", show(&local.path))
        }
        Op::CreateLocalFolder { remote, .. } => {
            format!("create local folder {}", show(&remote.path))
        }
        Op::DeleteRemote { remote, .. } => format!("delete remote {}", show(&remote.path)),
        Op::DeleteLocal { local, .. } => format!("delete local {}", show(&local.path)),
        Op::MoveRemote {
            from_path, to_path, ..
        } => format!("move remote {} -> {}", show(from_path), show(to_path)),
        Op::MoveLocal {
            from_path, to_path, ..
        } => format!("move local {} -> {}", show(from_path), show(to_path)),
        Op::SetAside { local, to_path, .. } => {
            format!("set aside {} -> {}", show(&local.path), show(to_path))
        }
        Op::RenameClash { local, to_path, .. } => {
            format!("rename clash {} -> {}", show(&local.path), show(to_path))
        }
        Op::Agree { key } => format!("agree {}", show(&display(key))),
        Op::Forget { key } => format!("forget {}", show(&display(key))),
    };
    normalise_op(&s)
}

fn render_entry(path: &str, folder: bool, content: &[u8]) -> String {
    if folder {
        format!("{}/", escape(show(path)))
    } else {
        format!(
            "{} = {}",
            escape(show(path)),
            escape(&String::from_utf8_lossy(content))
        )
    }
}

fn listing(fs: &Fs) -> Vec<String> {
    fs.entries
        .iter()
        .map(|(p, e)| render_entry(p, e.folder, &e.content))
        .collect()
}

fn expected_listing(lines: &[Line]) -> Result<Vec<String>, String> {
    Ok(with_parents(lines)?
        .values()
        .map(|l| render_entry(&l.path, l.folder, l.content.as_deref().unwrap_or_default()))
        .collect())
}

/// Expected against actual, line by line: `-` only expected, `+` only actual.
fn diff(expected: &[String], actual: &[String]) -> String {
    let (e, a): (BTreeSet<&String>, BTreeSet<&String>) =
        (expected.iter().collect(), actual.iter().collect());
    let mut all: Vec<&String> = e.union(&a).copied().collect();
    all.sort();
    let mut out = String::new();
    for l in all {
        let mark = match (e.contains(l), a.contains(l)) {
            (true, true) => ' ',
            (true, false) => '-',
            _ => '+',
        };
        out.push_str(&format!("      {mark} {l}\n"));
    }
    if out.is_empty() {
        out.push_str("        (nothing)\n");
    }
    out.trim_end().to_string()
}

// ---- running

fn observe(trees: &mut Trees, local: &Fs, remote: &Fs) {
    let (l, c) = observe_local(local, &trees.synced);
    trees.local = l;
    trees.clashes = c;
    trees.remote = observe_remote(remote);
}

/// Converged, apart from what the settings exclude.
fn converged_outside_exclusions(t: &Trees, s: &Settings) -> bool {
    let keep = |k: &String| !s.excluded.iter().any(|e| is_within(k, e));
    let mut t = t.clone();
    t.local.retain(|k, _| keep(k));
    t.remote.retain(|k, _| keep(k));
    t.synced.retain(|k, _| keep(k));
    t.converged()
}

/// Run one scenario; the problems found, empty if it passes.
fn run(file: &Path, print: bool) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let sc = parse(&text)?;
    let base = build_base(&sc.base)?;
    let (mut local, mut remote, synced) = split_base(&base);
    if let Some(lines) = &sc.local {
        build_side(&mut local, lines, "[local]")?;
    }
    if let Some(lines) = &sc.remote {
        build_side(&mut remote, lines, "[remote]")?;
    }
    let mut trees = Trees {
        synced,
        ..Trees::default()
    };
    observe(&mut trees, &local, &remote);
    let both = sc.result.as_deref();
    let want_local = expected_listing(sc.local_result.as_deref().or(both).unwrap_or_default())?;
    let want_remote = expected_listing(sc.remote_result.as_deref().or(both).unwrap_or_default())?;

    let mut problems = vec![];
    let mut first: Vec<String> = plan(&trees, &sc.settings)
        .ops
        .iter()
        .map(|op| render_op(op, &trees))
        .collect();
    first.sort();
    if print {
        eprintln!("  [first plan]");
        for l in &first {
            eprintln!("    {l}");
        }
    }
    if first != sc.first_plan {
        problems.push(format!(
            "[first plan] differs:\n{}",
            diff(&sc.first_plan, &first)
        ));
    }
    for &seed in SEEDS {
        let (mut t, mut l, mut r) = (trees.clone(), local.clone(), remote.clone());
        let outcome = converge(&mut t, &mut l, &mut r, &sc.settings, seed);
        let (got_local, got_remote) = (listing(&l), listing(&r));
        if print && seed == SEEDS[0] {
            eprintln!("  [local result] after {outcome:?} rounds");
            for e in &got_local {
                eprintln!("    {e}");
            }
            eprintln!("  [remote result]");
            for e in &got_remote {
                eprintln!("    {e}");
            }
        }
        let mut wrong = vec![];
        if let Err(e) = outcome {
            wrong.push(format!("the model world broke: {e}"));
        } else {
            if !t.clashes.is_empty() {
                wrong.push(format!("clashes left: {:?}", t.clashes));
            }
            if !converged_outside_exclusions(&t, &sc.settings) {
                wrong.push(format!(
                    "the trees did not converge:\n  local {:?}\n  remote {:?}\n  synced {:?}",
                    t.local, t.remote, t.synced
                ));
            }
        }
        if got_local != want_local {
            wrong.push(format!(
                "the local result differs:\n{}",
                diff(&want_local, &got_local)
            ));
        }
        if got_remote != want_remote {
            wrong.push(format!(
                "the remote result differs:\n{}",
                diff(&want_remote, &got_remote)
            ));
        }
        if !wrong.is_empty() {
            // One seed's account is enough.
            problems.push(format!(
                "with shuffle seed {seed}: {}",
                wrong.join("\n    ")
            ));
            break;
        }
    }
    Ok(problems)
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            name.ends_with(".scenario") || name == "README.md",
            "{}: scenario files end in .scenario",
            f.display()
        );
    }
    files.retain(|f| f.extension().is_some_and(|e| e == "scenario"));
    files
}

#[test]
fn scenarios() {
    let filter = std::env::var("SCENARIO").unwrap_or_default();
    let print = std::env::var("SCENARIO_PRINT").is_ok();
    let files = scenario_files();
    assert!(!files.is_empty(), "no scenario files found");
    let mut failures = vec![];
    let mut ran = 0;
    for file in &files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let name = format!("tests/scenarios/{stem}.scenario");
        if !stem.contains(&filter) {
            continue;
        }
        ran += 1;
        if print {
            eprintln!("{name}");
        }
        let known = KNOWN_FAILURES.contains(&stem);
        match run(file, print) {
            Err(e) => failures.push(format!("{name}: cannot be read: {e}")),
            Ok(problems) if problems.is_empty() && known => failures.push(format!(
                "{name} passes now: remove it from KNOWN_FAILURES in tests/scenarios.rs"
            )),
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) if known => {
                eprintln!("{name}: known failure\n  {}", problems.join("\n  "));
            }
            Ok(problems) => failures.push(format!("{name}:\n  {}", problems.join("\n  "))),
        }
    }
    assert!(ran > 0, "no scenario matches SCENARIO={filter:?}");
    assert!(
        failures.is_empty(),
        "{} of {ran} scenarios failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
