//! `modsniff man`: a real manual page.
//!
//! - groff formats it without a warning (`-ww`);
//! - it has the sections a man page has (NAME, SYNOPSIS, DESCRIPTION, EXIT STATUS,
//!   ENVIRONMENT, EXAMPLES, SEE ALSO) and every command's own;
//! - every option that `modsniff COMMAND --help` shows is on the formatted page, with each of
//!   its names: the page is taken from the `--help` text's own definition, and this reads the
//!   `--help` text, not that definition;
//! - every exit status `--help` states has its paragraph;
//! - it names no page that does not exist: no per-command page (`modsniff-read(1)`), and each
//!   other page it names is one that `man -w` finds where that page's program is installed.
//!
//! Without groff the formatting checks SKIP (the others read the roff source).

use crate::common::*;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};

fn page_source() -> String {
    let o = run(&["man"]);
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout).unwrap()
}

/// The page as `man` shows it, in plain ASCII (no bold, no underline), 100 columns wide;
/// None without groff.
fn formatted(src: &str) -> Option<String> {
    let mut child = match Command::new("groff")
        .args(["-man", "-Tascii", "-ww", "-P-cbou", "-rLL=100n"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            eprintln!(
                "SKIP man page formatting: groff is not installed (apt-get install groff-base)"
            );
            return None;
        }
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(src.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "groff: {out:?}");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "groff warns:\n{warnings}");
    Some(String::from_utf8(out.stdout).unwrap())
}

/// The commands `modsniff --help` lists (but `help`).
fn commands() -> Vec<String> {
    let o = run(&["--help"]);
    let help = String::from_utf8(o.stdout).unwrap();
    let list = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The option names (`-w`, `--write`) that `modsniff ARGS --help` lists.
fn options_in_help(args: &[&str]) -> BTreeSet<String> {
    let mut a = args.to_vec();
    a.push("--help");
    let o = run(&a);
    assert!(o.status.success(), "{a:?}: {o:?}");
    let help = String::from_utf8(o.stdout).unwrap();
    let mut names = BTreeSet::new();
    for line in help.lines() {
        let l = line.trim_start();
        // An option's line starts with its names: `-w, --write <FILE>` or `--drain <SECS>`.
        if !l.starts_with('-') || line.len() - l.len() > 6 {
            continue;
        }
        for word in l.split([' ', ',']) {
            let w = word.split('=').next().unwrap();
            if w.len() > 1
                && w.starts_with('-')
                && w[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && w != "--"
            {
                names.insert(w.to_string());
            } else if !w.is_empty() {
                break;
            }
        }
    }
    names
}

#[test]
fn man_page_has_every_option_and_the_sections_of_a_man_page() {
    let src = page_source();
    assert!(src.starts_with(".TH modsniff 1 "), "{}", &src[..60]);
    let Some(page) = formatted(&src) else {
        return;
    };
    let commands = commands();
    assert!(
        ["read", "live", "run", "completions", "man", "schema"]
            .iter()
            .all(|c| commands.iter().any(|d| d == c)),
        "{commands:?}"
    );
    let headings: Vec<&str> = page
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with("modsniff(1)"))
        .collect();
    for want in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(headings.contains(&want), "no {want} in {headings:?}");
    }
    for c in &commands {
        assert!(
            page.contains(&format!("   modsniff {c}\n")),
            "no section for {c}"
        );
        assert!(
            page.contains(&format!("modsniff {c} ")) || page.contains(&format!("modsniff {c}\n")),
            "{c} not in the synopsis"
        );
    }
    // Every option of every command, each of its names, as its --help shows it.
    let mut checked = 0;
    let mut each: Vec<Vec<&str>> = vec![vec![]];
    each.extend(commands.iter().map(|c| vec![c.as_str()]));
    for args in &each {
        let names = options_in_help(args);
        assert!(names.contains("--help"), "{args:?}: {names:?}");
        for n in &names {
            // Whole words: `--host` is not found inside `--host-name`.
            let found = page.match_indices(n.as_str()).any(|(i, _)| {
                let after = page[i + n.len()..].chars().next();
                let before = page[..i].chars().next_back();
                !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            });
            assert!(found, "modsniff {args:?}: {n} is not on the page");
            checked += 1;
        }
    }
    eprintln!(
        "man page: {checked} option names of {} commands found",
        commands.len()
    );
    assert!(checked > 60, "{checked}");
    // EXIT STATUS: each status --help states, with its paragraph.
    let exit = page
        .split("\nEXIT STATUS\n")
        .nth(1)
        .unwrap()
        .split("\nENVIRONMENT\n")
        .next()
        .unwrap();
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    let stated: Vec<&str> = help
        .split("Exit status:")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let code = t.split_whitespace().next()?;
            (l.len() - t.len() == 2 && code.chars().all(|c| c.is_ascii_digit())).then_some(code)
        })
        .collect();
    assert_eq!(stated, ["0", "1", "2"]);
    for code in stated {
        assert!(
            exit.lines()
                .any(|l| l.trim_start().starts_with(&format!("{code}      "))),
            "exit status {code}:\n{exit}"
        );
    }
    assert!(exit.contains("128 + the"), "run's signal status");
}

#[test]
fn man_page_names_only_pages_that_exist() {
    let src = page_source();
    // `.BR name (N)` and `name(N)` in text.
    let mut refs = BTreeSet::new();
    for line in src.lines() {
        if let Some(rest) = line.strip_prefix(".BR ") {
            let mut w = rest.split_whitespace();
            if let (Some(name), Some(sec)) = (w.next(), w.next())
                && sec.starts_with('(')
            {
                refs.insert(format!(
                    "{}{}",
                    name.replace("\\-", "-"),
                    sec.trim_end_matches(',')
                ));
            }
        }
    }
    let plain = src
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fR", "");
    for (i, _) in plain.match_indices("modsniff-") {
        let word: String = plain[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-()".contains(*c))
            .collect();
        assert!(!word.contains('('), "a per-command page: {word}");
    }
    assert!(!refs.is_empty());
    // A system whose packages install no man pages (a slim container) shows nothing either way.
    let has_pages = Command::new("man")
        .args(["-w", "1", "ls"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    for r in &refs {
        let (name, sec) = r.trim_end_matches(')').split_once('(').unwrap();
        assert!(!name.starts_with("modsniff"), "{r}");
        // Where the program is installed, its page is: `man -w` finds it.
        let program = if name == "pcap-filter" {
            "tcpdump"
        } else {
            name
        };
        let installed = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let man = Command::new("man")
            .args(["-w", sec, name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match man {
            Ok(s) if installed && has_pages => {
                assert!(s.success(), "{r}: {program} is installed, its page is not")
            }
            _ => eprintln!("SKIP man -w {r}: {program}, man or man pages are not installed here"),
        }
    }
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["pcap-filter(7)", "tcpdump(8)", "tshark(1)"]
    );
}
