//! A front-door VRF (`tunnel vrf RED`) as the engine keys negotiations by it: the name of
//! its Linux VRF device, which is at most 15 bytes (IFNAMSIZ), kept inline so that the
//! key stays `Copy`. `None` where an `Option<Fvrf>` is: the global table.

use std::fmt;

/// Linux interface names hold 15 bytes (IFNAMSIZ with its NUL).
const MAX_LEN: usize = 15;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fvrf {
    len: u8,
    name: [u8; MAX_LEN],
}

impl Fvrf {
    /// `None` for a name no VRF device can have (the configuration refuses those).
    pub fn new(name: &str) -> Option<Fvrf> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_LEN {
            return None;
        }
        let mut f = Fvrf {
            len: bytes.len() as u8,
            name: [0; MAX_LEN],
        };
        f.name[..bytes.len()].copy_from_slice(bytes);
        Some(f)
    }

    pub fn as_str(&self) -> &str {
        // Built from a &str, cut nowhere else.
        std::str::from_utf8(&self.name[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The front-door VRF of a configuration value (`tunnel vrf`, a keyring's `vrf`).
    pub fn of(name: Option<&str>) -> Option<Fvrf> {
        name.and_then(Fvrf::new)
    }
}

impl fmt::Display for Fvrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Fvrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fvrf({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vrf_device_name_fits_and_a_longer_one_does_not() {
        let red = Fvrf::new("RED").unwrap();
        assert_eq!((red.as_str(), red.to_string()), ("RED", "RED".to_string()));
        assert_eq!(Fvrf::new("RED"), Some(red));
        assert_ne!(Fvrf::new("GREEN"), Some(red));
        assert_eq!(Fvrf::new("INTERNET-TRANS1").unwrap().as_str().len(), 15);
        assert_eq!(Fvrf::new("INTERNET-TRANSIT"), None);
        assert_eq!(Fvrf::new(""), None);
        assert_eq!(Fvrf::of(None), None);
    }
}
