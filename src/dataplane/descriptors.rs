//! The process's descriptor budget (RLIMIT_NOFILE): a hub of thousands of tunnels
//! needs more than the soft limit services start with (systemd's 1024), and running
//! out shows up as EMFILE at tunnel K, far from its cause.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The soft and hard RLIMIT_NOFILE.
pub fn limit() -> std::io::Result<(u64, u64)> {
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?)
}

/// What `ensure` did about a need of descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// The soft limit already covers the need.
    Enough { soft: u64 },
    /// The soft limit was raised to the hard limit, which covers it.
    Raised { from: u64, to: u64 },
    /// Even the hard limit is below the need (the soft limit raised to it).
    Short { hard: u64 },
}

/// The soft limit to set for `need` descriptors, and what that gives.
fn plan(soft: u64, hard: u64, need: u64) -> (Option<u64>, Budget) {
    if soft >= need {
        return (None, Budget::Enough { soft });
    }
    // The whole hard limit, not just `need`: a reload or Virtual-Access interfaces may
    // add tunnels later.
    let raise = (hard > soft).then_some(hard);
    let budget = if hard >= need {
        Budget::Raised {
            from: soft,
            to: hard,
        }
    } else {
        Budget::Short { hard }
    };
    (raise, budget)
}

/// Make room for `need` descriptors: raise the soft limit up to the hard limit when
/// it is below `need` (an unprivileged process may; beyond the hard limit it may not).
pub fn ensure(need: u64) -> std::io::Result<Budget> {
    let (soft, hard) = limit()?;
    let (raise, budget) = plan(soft, hard, need);
    if let Some(to) = raise {
        setrlimit(Resource::RLIMIT_NOFILE, to, hard)?;
    }
    Ok(budget)
}

/// What EMFILE means to someone running the daemon, for an error that ends in it.
pub(crate) fn explain_emfile() -> String {
    match limit() {
        Ok((soft, _)) => format!(
            "the process reached its descriptor limit (RLIMIT_NOFILE {soft}): raise \
             LimitNOFILE= in the systemd unit (ulimit -n)"
        ),
        Err(_) => "the process reached its descriptor limit (RLIMIT_NOFILE): raise \
                   LimitNOFILE= in the systemd unit (ulimit -n)"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_goes_up_to_the_hard_one_when_short() {
        assert_eq!(
            plan(20_000, 20_000, 10_100),
            (None, Budget::Enough { soft: 20_000 })
        );
        assert_eq!(
            plan(1024, 524_288, 10_100),
            (
                Some(524_288),
                Budget::Raised {
                    from: 1024,
                    to: 524_288
                }
            )
        );
        assert_eq!(
            plan(1024, 4096, 10_100),
            (Some(4096), Budget::Short { hard: 4096 })
        );
        assert_eq!(
            plan(4096, 4096, 10_100),
            (None, Budget::Short { hard: 4096 })
        );
    }

    /// The process's own limit, read back after `ensure` of what it already has.
    #[test]
    fn ensure_within_the_soft_limit_changes_nothing() {
        let (soft, hard) = limit().unwrap();
        assert_eq!(ensure(soft).unwrap(), Budget::Enough { soft });
        assert_eq!(limit().unwrap(), (soft, hard));
    }
}
