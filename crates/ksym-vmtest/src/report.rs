//! What a scenario ends with, and the `KSYM-TEST` / `KSYM-INFO` lines the
//! QEMU harness reads from the console.

use std::io::Write;

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    /// Cannot run here (no modules, not allowed to change the kernel, ...).
    Skip(String),
}

/// Prints one line per outcome, prefixed; counts them.
pub struct Reporter<W: Write> {
    prefix: String,
    out: W,
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl<W: Write> Reporter<W> {
    pub fn new(prefix: String, out: W) -> Self {
        Reporter {
            prefix,
            out,
            passed: 0,
            failed: 0,
            skipped: 0,
        }
    }

    /// A measurement or fact worth reading in the console log.
    pub fn info(&mut self, name: &str, text: &str) {
        let _ = writeln!(self.out, "KSYM-INFO {}/{name}: {text}", self.prefix);
        let _ = self.out.flush();
    }

    pub fn outcome(&mut self, name: &str, outcome: &Outcome) {
        let p = &self.prefix;
        let line = match outcome {
            Outcome::Pass => {
                self.passed += 1;
                format!("KSYM-TEST PASS {p}/{name}")
            }
            Outcome::Fail(why) => {
                self.failed += 1;
                format!("KSYM-TEST FAIL {p}/{name}: {}", one_line(why))
            }
            Outcome::Skip(why) => {
                self.skipped += 1;
                format!("KSYM-TEST SKIP {p}/{name}: {}", one_line(why))
            }
        };
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }

    pub fn passed(&self) -> usize {
        self.passed
    }

    pub fn failed(&self) -> usize {
        self.failed
    }

    pub fn skipped(&self) -> usize {
        self.skipped
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The console reader takes one line per result.
fn one_line(s: &str) -> String {
    s.replace('\n', "; ")
}
