//! kiln-sbom integration tests.
