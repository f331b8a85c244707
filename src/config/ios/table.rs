//! IOS command matching. A mode's commands are keyword paths (`crypto isakmp policy`);
//! a line's words resolve against them as IOS's parser does: at each position, any
//! unambiguous prefix of the keywords possible there (case-insensitive, an exact word
//! winning over longer ones), the longest path that matches winning. The words after
//! the path are the command's arguments.

use crate::config::words::starts_with_ignore_case;

/// How many arguments a command takes after its path (for the few where the count is
/// what tells a sub-command from a global one: `vrf BLUE` in an ISAKMP profile, `vrf
/// definition BLUE` globally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Args {
    Any,
    Exactly(usize),
    /// `ip route-cache [cef]` is not `ip route 192.0.2.0 255.255.255.0 Tunnel1`.
    AtMost(usize),
}

#[derive(Debug)]
pub(crate) struct Command<A> {
    pub path: &'static str,
    pub args: Args,
    pub action: A,
}

/// A command with any arguments.
pub(crate) const fn cmd<A>(path: &'static str, action: A) -> Command<A> {
    Command {
        path,
        args: Args::Any,
        action,
    }
}

/// A command with exactly `n` arguments.
pub(crate) const fn cmd_n<A>(path: &'static str, n: usize, action: A) -> Command<A> {
    Command {
        path,
        args: Args::Exactly(n),
        action,
    }
}

/// A command with at most `n` arguments.
pub(crate) const fn cmd_max<A>(path: &'static str, n: usize, action: A) -> Command<A> {
    Command {
        path,
        args: Args::AtMost(n),
        action,
    }
}

/// The command `words` invoke and where its arguments start.
pub(crate) fn lookup<'t, A>(
    table: &'t [Command<A>],
    words: &[&str],
) -> Option<(&'t Command<A>, usize)> {
    matching(table, words).map(|m| (m.command, m.depth))
}

/// A command found, how many keywords it took, and whether each was written out in
/// full (not abbreviated).
pub(crate) struct Match<'t, A> {
    pub command: &'t Command<A>,
    pub depth: usize,
    pub exact: bool,
}

impl<A> Match<'_, A> {
    /// How strongly the line names this command: more keywords, then written out.
    pub fn strength(&self) -> (usize, bool) {
        (self.depth, self.exact)
    }
}

/// The keyword `token` names among `keywords` (repeats allowed): the same word
/// (case-insensitively), else the only one it is a prefix of (see `words::pick`, which
/// this is for a stream).
fn resolve<'k>(token: &str, keywords: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    if token.is_empty() {
        return None;
    }
    let mut only = None;
    let mut ambiguous = false;
    for k in keywords {
        if k.eq_ignore_ascii_case(token) {
            return Some(k);
        }
        if starts_with_ignore_case(k, token) {
            match only {
                None => only = Some(k),
                Some(o) if o != k => ambiguous = true,
                Some(_) => {}
            }
        }
    }
    (!ambiguous).then_some(only).flatten()
}

pub(crate) fn matching<'t, A>(table: &'t [Command<A>], words: &[&str]) -> Option<Match<'t, A>> {
    // Each command still in the running, with the keywords of its path not yet matched.
    let mut alive: Vec<(&'t Command<A>, &'static str)> =
        table.iter().map(|c| (c, c.path)).collect();
    let mut best = None;
    let mut exact = true;
    for depth in 0..=words.len() {
        let args = words.len() - depth;
        // A command complete at this depth is the fallback for deeper ones.
        if let Some((command, _)) = alive.iter().find(|(c, rest)| {
            rest.is_empty()
                && match c.args {
                    Args::Any => true,
                    Args::Exactly(n) => n == args,
                    Args::AtMost(n) => args <= n,
                }
        }) {
            best = Some(Match {
                command,
                depth,
                exact,
            });
        }
        if depth == words.len() {
            break;
        }
        let next = |rest: &'static str| rest.split(' ').next().filter(|k| !k.is_empty());
        let Some(word) = resolve(
            words[depth],
            alive.iter().filter_map(|(_, rest)| next(rest)),
        ) else {
            break;
        };
        exact &= words[depth].eq_ignore_ascii_case(word);
        alive.retain(|(_, rest)| next(rest) == Some(word));
        for (_, rest) in &mut alive {
            *rest = rest.split_once(' ').map_or("", |(_, tail)| tail);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_resolve_like_ios() {
        let table = [
            cmd("crypto isakmp policy", 1),
            cmd("crypto isakmp key", 2),
            cmd("crypto isakmp keepalive", 3),
            cmd("crypto ipsec profile", 4),
            cmd("crypto", 5),
            cmd("interface", 6),
            cmd("ip route", 7),
            cmd("ip", 8),
            cmd_n("vrf", 1, 9),
        ];
        let hit = |line: &str| {
            let w: Vec<&str> = line.split_whitespace().collect();
            lookup(&table, &w).map(|(c, at)| (c.action, at))
        };
        assert_eq!(hit("crypto isakmp policy 10"), Some((1, 3)));
        assert_eq!(hit("crypt isa pol 10"), Some((1, 3)));
        assert_eq!(hit("CRYPTO ISAKMP KEY s address 0.0.0.0"), Some((2, 3)));
        // `ke` is ambiguous (key, keepalive): the line falls back to `crypto`.
        assert_eq!(hit("crypto isakmp ke x"), Some((5, 1)));
        assert_eq!(hit("crypto isakmp keep 10"), Some((3, 3)));
        assert_eq!(hit("int tun1"), Some((6, 1)));
        assert_eq!(hit("ip route 0.0.0.0 0.0.0.0 Tunnel1"), Some((7, 2)));
        assert_eq!(hit("ip ssh version 2"), Some((8, 1)));
        // `i` is ambiguous (interface, ip).
        assert_eq!(hit("i tun1"), None);
        assert_eq!(hit("vrf BLUE"), Some((9, 1)));
        assert_eq!(hit("vrf definition BLUE"), None);
        assert_eq!(hit("router ospf 1"), None);
        assert_eq!(hit(""), None);
    }
}
