//! Unit tests of source lines on small synthetic inputs.
