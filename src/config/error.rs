//! Diagnostics of the configuration: every one names its file and line, as a compiler
//! would (`FILE:LINE: message`), so editors and `ikev1d check` users can jump to it.

use std::fmt;

/// A configuration error: the configuration is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when no single line is to blame (e.g. the file cannot be read).
    pub line: u32,
    pub message: String,
}

/// Something accepted but worth knowing: weak algorithms, unsupported lines (ignored),
/// values below IOS's minimums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: String,
    pub line: u32,
    pub message: String,
}

fn location(f: &mut fmt::Formatter<'_>, file: &str, line: u32) -> fmt::Result {
    if line == 0 {
        write!(f, "{file}: ")
    } else {
        write!(f, "{file}:{line}: ")
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        location(f, &self.file, self.line)?;
        f.write_str(&self.message)
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        location(f, &self.file, self.line)?;
        write!(f, "warning: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Why a configuration was rejected: all its errors (at least one), plus the warnings
/// found on the way, so `check` can show both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigWarning>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects diagnostics while parsing and validating one file.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    pub file: String,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigWarning>,
}

impl Diagnostics {
    pub fn new(file: &str) -> Self {
        Diagnostics {
            file: file.to_string(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn error(&mut self, line: u32, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            message: message.into(),
        });
    }

    pub fn warn(&mut self, line: u32, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            file: self.file.clone(),
            line,
            message: message.into(),
        });
    }

    /// Diagnostics in file order (a stable sort keeps same-line ones in the order found).
    pub fn finish(mut self) -> (Vec<ConfigError>, Vec<ConfigWarning>) {
        self.errors.sort_by_key(|e| e.line);
        self.warnings.sort_by_key(|w| w.line);
        (self.errors, self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_message() {
        let mut d = Diagnostics::new("r2.conf");
        d.error(7, "no such profile PRO");
        d.warn(3, "DES is weak");
        d.error(0, "cannot read");
        let (errors, warnings) = d.finish();
        assert_eq!(errors[0].to_string(), "r2.conf: cannot read");
        assert_eq!(errors[1].to_string(), "r2.conf:7: no such profile PRO");
        assert_eq!(warnings[0].to_string(), "r2.conf:3: warning: DES is weak");
    }
}
