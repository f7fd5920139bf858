//! Who may ask: the bearer token (read from a file only its owner can read,
//! compared in constant time), and the rule that a listener off loopback
//! needs one.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use subtle::{ConstantTimeEq, ConstantTimeLess};

use crate::ServeError;

/// Shortest token taken: guessing one must be hopeless.
const MIN_TOKEN_LEN: usize = 16;

/// A bearer token. Its `Debug` does not show it.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A token from its text (surrounding whitespace dropped).
    pub fn new(text: &str) -> Result<Token, ServeError> {
        let t = text.trim();
        if t.len() < MIN_TOKEN_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ServeError::Token(format!(
                "a token is at least {MIN_TOKEN_LEN} printable characters without spaces"
            )));
        }
        Ok(Token(t.as_bytes().to_vec()))
    }

    /// Reads the token from `path`, refusing a file that anyone but its
    /// owner may read or write.
    pub fn from_file(path: &Path) -> Result<Token, ServeError> {
        let bad = |why: String| ServeError::Token(format!("{}: {why}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "mode {:o}: others may read it (chmod 600 it)",
                mode & 0o777
            )));
        }
        if meta.len() > 4096 {
            return Err(bad("larger than a token".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        Token::new(&text).map_err(|e| bad(e.to_string()))
    }

    /// Whether an `Authorization` header value is `Bearer <this token>`.
    /// The time taken depends on the lengths only, never on where the
    /// bytes differ.
    pub fn admits(&self, header: Option<&[u8]>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let same_len = (given.len() as u64).ct_eq(&(self.0.len() as u64));
        // Compare over the expected token's length, whatever was given.
        let mut same = same_len;
        for (i, want) in self.0.iter().enumerate() {
            let in_range = (i as u64).ct_lt(&(given.len() as u64));
            let got = given.get(i).copied().unwrap_or(0);
            same &= got.ct_eq(want) & in_range;
        }
        same.into()
    }
}

/// Refuses to listen off loopback without a token.
pub fn check_listen(addr: &SocketAddr, token: Option<&Token>) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(ServeError::Token(format!(
            "{addr} is not a loopback address: give --token-file (kernel addresses defeat KASLR)"
        )));
    }
    Ok(())
}
