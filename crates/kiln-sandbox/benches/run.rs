//! Fixed cost of one sandboxed `true` (written below).
fn main() {}
