//! Fuzzes image reference parsing: `Reference::parse` must never panic, and a parsed reference must
//! print to a string that parses back to the same value.
#![no_main]

use kiln_oci::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(reference) = Reference::parse(text) {
        let shown = reference.to_string();
        let again = Reference::parse(&shown).unwrap_or_else(|e| panic!("{text:?} -> {shown:?} does not re-parse: {e}"));
        assert_eq!(again, reference, "{text:?} -> {shown:?}");
    }
});
