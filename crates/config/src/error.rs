//! Configuration errors: each names the file, the key path and what is
//! wrong.

/// One problem in a configuration file: `file: key.path: message`, or
/// `file: message` for a problem of the whole file (unreadable, syntax).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// Key path, e.g. `rule "Cards".severity.medium` (empty for syntax errors).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// All problems found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
