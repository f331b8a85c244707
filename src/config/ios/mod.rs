//! The IOS dialect: a running configuration as `show running-config` prints it, or as
//! pasted into `configure terminal`, read the way IOS reads it.
//!
//! - Keywords may be abbreviated to any unambiguous prefix (`int tun1`, `crypt isa key`),
//!   case-insensitively; interface names with or without a space (`Tunnel 1`).
//! - A sub-command belongs to the last mode opened, indented or not. At column 0 IOS
//!   tries the current mode first, then the global one (which leaves the mode); a line
//!   neither knows stays in the mode, ignored there with a warning, as when pasting.
//! - Lines outside crypto and tunnels (hostname aside) are skipped with their blocks and
//!   summed up by kind in one line, not a warning each; `banner` blocks end at their
//!   delimiter. `configure terminal`, `end`, `exit`, `write`, `do ...` are accepted.
//! - No diagnostic shows a secret: echoed lines are redacted.
//!
//! Entering an existing mode again edits it, as on IOS (`crypto isakmp policy 10` twice
//! is one policy).

mod crypto;
mod global;
mod interface;
pub(crate) mod names;
mod peers;
mod table;
mod type7;
pub(crate) mod values;
mod vrf;

pub(crate) use crypto::{apply_policy_line, apply_profile_line, transforms_of};
pub(crate) use global::add_map;
pub(crate) use peers::apply_isakmp_profile_line;

use super::error::Diagnostics;
use super::model::*;
use super::redact::redacted;
use table::{lookup, matching, Command};

/// Why a line was not applied.
pub(crate) enum Bad {
    /// Outside the supported subset: warned about and ignored.
    Unsupported,
    /// A supported command with a wrong value: the file is rejected.
    Error(String),
}

impl From<String> for Bad {
    fn from(message: String) -> Self {
        Bad::Error(message)
    }
}

pub(crate) type Res = Result<(), Bad>;

/// One line being handled: its number, text and words, and the words after the
/// command's keywords.
pub(crate) struct Cx<'w> {
    pub line: u32,
    pub text: &'w str,
    pub words: &'w [&'w str],
    pub args: &'w [&'w str],
}

/// What a command does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Act<H> {
    Do(H),
    /// Accepted without effect; docs/ios-mapping.md says why.
    Quiet,
    /// Not done by ikev1d, and its absence changes what the router does: warned.
    Warn(&'static str),
    /// Global only: outside crypto and tunnels, skipped with its block.
    Skip,
}

/// A sub-command handler: the mode's item, the line, the diagnostics.
pub(crate) type Sub<T> = fn(&mut T, &Cx, &mut Diagnostics) -> Res;

/// The block kinds that have a command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Policy,
    TransformSet,
    IpsecProfile,
    Keyring,
    IsakmpProfile,
    Interface,
    Vrf,
    AddressFamily,
}

#[derive(Debug, Clone)]
enum Mode {
    Global,
    Policy(usize),
    TransformSet(usize),
    IpsecProfile(usize),
    Keyring(usize),
    IsakmpProfile(usize),
    /// One interface, or several (`interface range`).
    Interface(Vec<usize>),
    Vrf(usize),
    /// `address-family` inside `vrf definition`.
    AddressFamily(usize),
    /// A block whose opening line was an error (reported): its sub-commands are its
    /// own, and not applied.
    Failed(Block),
    /// A crypto block ikev1d does not support (`crypto map`), warned about at its
    /// line with its sub-commands.
    Unsupported,
    /// Outside crypto and tunnels: counted under the block's kind. Physical interfaces
    /// know the interface sub-commands, so that a pasted block stays together.
    Skipped {
        interface: bool,
    },
    /// Inside a `banner`, until the delimiter.
    Banner {
        delimiter: String,
    },
}

impl Mode {
    fn block(&self) -> Option<Block> {
        Some(match self {
            Mode::Policy(_) => Block::Policy,
            Mode::TransformSet(_) => Block::TransformSet,
            Mode::IpsecProfile(_) => Block::IpsecProfile,
            Mode::Keyring(_) => Block::Keyring,
            Mode::IsakmpProfile(_) => Block::IsakmpProfile,
            Mode::Interface(_) | Mode::Skipped { interface: true } => Block::Interface,
            Mode::Vrf(_) => Block::Vrf,
            Mode::AddressFamily(_) => Block::AddressFamily,
            Mode::Failed(b) => *b,
            _ => return None,
        })
    }
}

/// How strongly `table` knows `words`, as a command or as its `no` form.
fn claims<H>(table: &[Command<Act<H>>], words: &[&str]) -> Option<(usize, bool)> {
    match matching(table, words) {
        Some(m) => Some(m.strength()),
        None if is_no(words) => matching(table, &words[1..]).map(|m| (m.depth + 1, m.exact)),
        None => None,
    }
}

fn is_no(words: &[&str]) -> bool {
    words.len() > 1 && words[0].eq_ignore_ascii_case("no")
}

impl Block {
    fn claims(self, words: &[&str]) -> Option<(usize, bool)> {
        match self {
            Block::Policy => claims(crypto::POLICY, words),
            Block::TransformSet => claims(crypto::TRANSFORM_SET, words),
            Block::IpsecProfile => claims(crypto::IPSEC_PROFILE, words),
            Block::Keyring => claims(peers::KEYRING, words),
            Block::IsakmpProfile => claims(peers::ISAKMP_PROFILE, words),
            Block::Interface => claims(interface::TABLE, words),
            Block::Vrf => claims(vrf::VRF, words),
            Block::AddressFamily => claims(vrf::ADDRESS_FAMILY, words),
        }
    }
}

/// What a line came to.
enum Outcome {
    Applied(Res),
    Quiet,
    Warn(&'static str),
    /// A global `Skip` command, by its keywords.
    Skip(&'static str),
    Unknown,
}

/// Look `words` up in `table` and run the handler found with `call`.
fn run<H: Copy>(
    table: &[Command<Act<H>>],
    words: &[&str],
    line: u32,
    text: &str,
    call: impl FnOnce(H, &Cx) -> Res,
) -> Outcome {
    match lookup(table, words) {
        Some((c, at)) => match c.action {
            Act::Do(h) => Outcome::Applied(call(
                h,
                &Cx {
                    line,
                    text,
                    words,
                    args: &words[at..],
                },
            )),
            Act::Quiet => Outcome::Quiet,
            Act::Skip => Outcome::Skip(c.path),
            Act::Warn(hint) => Outcome::Warn(hint),
        },
        // `no X` for a sub-command X of the mode: back to IOS's default, which is
        // ikev1d's (explicit `no` forms such as `no shutdown` are table entries).
        None if is_no(words) && lookup(table, &words[1..]).is_some() => Outcome::Quiet,
        None => Outcome::Unknown,
    }
}

/// A command's single value.
pub(crate) fn one<'w>(cx: &Cx<'w>) -> Result<&'w str, Bad> {
    match cx.args {
        [a] => Ok(a),
        _ => Err(Bad::Error(format!(
            "`{}`: expected one value",
            redacted(cx.words)
        ))),
    }
}

/// A command that takes no value (`shutdown`, `ipv6 enable`): anything after it is
/// not a form ikev1d knows.
pub(crate) fn no_value(cx: &Cx) -> Res {
    if cx.args.is_empty() {
        Ok(())
    } else {
        Err(Bad::Unsupported)
    }
}

/// The index of the item `is` finds, or of `new()` pushed at the end: entering an
/// existing mode again edits it, as on IOS.
pub(crate) fn find_or_push<T>(
    items: &mut Vec<T>,
    is: impl Fn(&T) -> bool,
    new: impl FnOnce() -> T,
) -> usize {
    match items.iter().position(is) {
        Some(i) => i,
        None => {
            items.push(new());
            items.len() - 1
        }
    }
}

/// Apply `f` to each interface of the mode (several for `interface range`).
fn each(tunnels: &mut [Tunnel], ids: &[usize], mut f: impl FnMut(&mut Tunnel) -> Res) -> Res {
    ids.iter().try_for_each(|&i| f(&mut tunnels[i]))
}

pub(crate) struct Parser<'d> {
    cfg: Config,
    mode: Mode,
    diag: &'d mut Diagnostics,
}

/// Parse IOS text. Errors and warnings go to `diag`; the model holds what was understood.
pub(crate) fn parse(text: &str, diag: &mut Diagnostics) -> Config {
    let mut p = Parser {
        cfg: Config {
            file: diag.file.clone(),
            ..Config::default()
        },
        mode: Mode::Global,
        diag,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        p.line(raw, line);
    }
    p.cfg
}

impl Parser<'_> {
    fn line(&mut self, raw: &str, number: u32) {
        if let Mode::Banner { delimiter } = &self.mode {
            if raw.contains(delimiter.as_str()) {
                self.mode = Mode::Global;
            }
            self.cfg.skipped.lines += 1;
            return;
        }
        let text = raw.trim();
        if text.is_empty() || text.starts_with('!') {
            return;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.iter().any(|w| is_placeholder(w)) {
            return self.diag.error(
                number,
                format!(
                    "`{}` still holds a placeholder of the template: replace each <...> with your value",
                    redacted(&words)
                ),
            );
        }
        let indented = raw.starts_with([' ', '\t']);
        if matches!(self.mode, Mode::Global) {
            return self.global_line(&words, text, number);
        }
        if indented {
            return self.sub_line(&words, text, number);
        }
        // IOS tries the current mode first, then the global one, which leaves it. IOS
        // checks the whole line; comparing keywords, a global command written out in
        // full beats a mode's abbreviation (`ip route ...` is not `ip route-cache`).
        let here = self.mode.block().and_then(|b| b.claims(&words));
        let global = matching(global::TABLE, &words).map(|m| m.strength());
        match (here, global) {
            (Some(h), Some(g)) if g > h => {
                self.mode = Mode::Global;
                self.global_line(&words, text, number)
            }
            (None, Some(_)) => {
                self.mode = Mode::Global;
                self.global_line(&words, text, number)
            }
            // The mode's, or neither's: it stays in the mode (`load-interval 30` pasted
            // at column 0 must not end `interface Tunnel1`).
            _ => self.sub_line(&words, text, number),
        }
    }

    fn global_line(&mut self, words: &[&str], text: &str, line: u32) {
        match run(global::TABLE, words, line, text, |h, cx| h(self, cx)) {
            Outcome::Applied(r) => self.report(r, line, words),
            Outcome::Quiet => self.mode = Mode::Global,
            Outcome::Skip(path) => self.skip(global::skip_kind(path, words), None, false),
            Outcome::Warn(hint) => {
                self.diag.warn(
                    line,
                    format!(
                        "unsupported command, ignored with its sub-commands: `{}`{}",
                        redacted(words),
                        hint_text(hint)
                    ),
                );
                self.mode = Mode::Unsupported;
            }
            // Not a command ikev1d knows: outside crypto and tunnels, skipped.
            Outcome::Unknown => self.skip(words[0].to_ascii_lowercase(), None, false),
        }
    }

    /// Count a skipped block's first line and enter it.
    pub(crate) fn skip(&mut self, kind: String, name: Option<String>, interface: bool) {
        let s = &mut self.cfg.skipped;
        s.lines += 1;
        let k = s.kinds.entry(kind).or_default();
        k.count += 1;
        k.names.extend(name);
        self.mode = Mode::Skipped { interface };
    }

    fn sub_line(&mut self, words: &[&str], text: &str, line: u32) {
        // Mode changes IOS accepts anywhere.
        match words {
            [w] if w.eq_ignore_ascii_case("end") => return self.mode = Mode::Global,
            [w] if w.eq_ignore_ascii_case("exit") => {
                self.mode = match self.mode {
                    Mode::AddressFamily(i) => Mode::Vrf(i),
                    _ => Mode::Global,
                };
                return;
            }
            [w, ..] if w.eq_ignore_ascii_case("do") => return,
            _ => {}
        }
        match self.mode {
            Mode::Global => return self.global_line(words, text, line),
            Mode::Skipped { .. } => {
                self.cfg.skipped.lines += 1;
                return;
            }
            // Said once, at the block's line ("ignored with its sub-commands").
            Mode::Unsupported | Mode::Failed(_) | Mode::Banner { .. } => return,
            _ => {}
        }
        let diag = &mut *self.diag;
        let cfg = &mut self.cfg;
        let outcome = match &self.mode {
            Mode::Policy(i) => run(crypto::POLICY, words, line, text, |h, cx| {
                h(&mut cfg.policies[*i], cx, diag)
            }),
            Mode::TransformSet(i) => run(crypto::TRANSFORM_SET, words, line, text, |h, cx| {
                h(&mut cfg.transform_sets[*i], cx, diag)
            }),
            Mode::IpsecProfile(i) => run(crypto::IPSEC_PROFILE, words, line, text, |h, cx| {
                h(&mut cfg.profiles[*i], cx, diag)
            }),
            Mode::Keyring(i) => run(peers::KEYRING, words, line, text, |h, cx| {
                h(&mut cfg.keyrings[*i], cx, diag)
            }),
            Mode::IsakmpProfile(i) => run(peers::ISAKMP_PROFILE, words, line, text, |h, cx| {
                h(&mut cfg.isakmp_profiles[*i], cx, diag)
            }),
            Mode::Interface(ids) => run(interface::TABLE, words, line, text, |h, cx| {
                each(&mut cfg.tunnels, ids, |t| h(t, cx, diag))
            }),
            Mode::Vrf(i) => run(vrf::VRF, words, line, text, |h, cx| {
                h(&mut cfg.vrfs[*i], cx, diag)
            }),
            Mode::AddressFamily(i) => run(vrf::ADDRESS_FAMILY, words, line, text, |h, cx| {
                h(&mut cfg.vrfs[*i], cx, diag)
            }),
            _ => Outcome::Quiet,
        };
        // `address-family` / `exit-address-family` move between a VRF's two modes.
        if let Mode::Vrf(i) | Mode::AddressFamily(i) = self.mode {
            self.mode = vrf::next_mode(i, words, &self.mode);
        }
        match outcome {
            Outcome::Applied(r) => self.report(r, line, words),
            Outcome::Quiet | Outcome::Skip(_) => {}
            Outcome::Warn(hint) => self.unsupported_here(line, words, hint),
            Outcome::Unknown => self.unsupported_here(line, words, ""),
        }
    }

    fn report(&mut self, result: Res, line: u32, words: &[&str]) {
        match result {
            Ok(()) => {}
            Err(Bad::Unsupported) if matches!(self.mode, Mode::Global) => self.diag.warn(
                line,
                format!("unsupported command, ignored: `{}`", redacted(words)),
            ),
            Err(Bad::Unsupported) => self.unsupported_here(line, words, ""),
            Err(Bad::Error(message)) => self.diag.error(line, message),
        }
    }

    /// A sub-command of the current mode that ikev1d does not apply.
    fn unsupported_here(&mut self, line: u32, words: &[&str], hint: &str) {
        let within = self
            .mode_name()
            .map_or(String::new(), |m| format!(" in `{m}`"));
        self.diag.warn(
            line,
            format!(
                "unsupported{within}, ignored: `{}`{}",
                redacted(words),
                hint_text(hint)
            ),
        );
    }

    /// The current mode as IOS's command that opened it.
    fn mode_name(&self) -> Option<String> {
        let c = &self.cfg;
        Some(match &self.mode {
            Mode::Policy(i) => format!("crypto isakmp policy {}", c.policies[*i].priority),
            Mode::TransformSet(i) => {
                format!("crypto ipsec transform-set {}", c.transform_sets[*i].name)
            }
            Mode::IpsecProfile(i) => format!("crypto ipsec profile {}", c.profiles[*i].name),
            Mode::Keyring(i) => format!("crypto keyring {}", c.keyrings[*i].name),
            Mode::IsakmpProfile(i) => {
                format!("crypto isakmp profile {}", c.isakmp_profiles[*i].name)
            }
            Mode::Interface(ids) => {
                let names: Vec<String> = ids.iter().map(|&i| c.tunnels[i].name()).collect();
                format!("interface {}", names.join(", "))
            }
            Mode::Vrf(i) | Mode::AddressFamily(i) => {
                let v = &c.vrfs[*i];
                if v.ip_vrf {
                    format!("ip vrf {}", v.name)
                } else {
                    format!("vrf definition {}", v.name)
                }
            }
            _ => return None,
        })
    }
}

/// `<peer-address>`: how the shipped template marks what must be edited before the
/// daemon may start (a fresh install must not answer anyone with a known key).
fn is_placeholder(word: &str) -> bool {
    word.len() > 2
        && word.starts_with('<')
        && word.ends_with('>')
        && word[1..word.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn hint_text(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!(" ({hint})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commands accepted without effect, by their keywords.
    fn quiet<H>(table: &[Command<Act<H>>]) -> Vec<&'static str> {
        table
            .iter()
            .filter(|c| matches!(c.action, Act::Quiet))
            .map(|c| c.path)
            .collect()
    }

    /// docs/ios-mapping.md says why each command accepted without effect has none.
    #[test]
    fn every_silently_accepted_command_is_documented() {
        let doc = include_str!("../../../docs/ios-mapping.md");
        let all = [
            quiet(global::TABLE),
            quiet(crypto::IPSEC_PROFILE),
            quiet(interface::TABLE),
            quiet(vrf::VRF),
            quiet(vrf::ADDRESS_FAMILY),
        ]
        .concat();
        assert!(all.len() > 30, "{all:?}");
        for path in all {
            // `conf` is documented as `conf t`, `building` as its whole line.
            let written = match path {
                "conf" => "conf t",
                "building" => "Building configuration...",
                "current configuration" => "Current configuration : N bytes",
                p => p,
            };
            assert!(
                doc.contains(&format!("`{written}")),
                "{path} is not in docs/ios-mapping.md"
            );
        }
    }
}
