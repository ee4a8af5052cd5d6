//! Docker's default capability set, the only capabilities a sandboxed command can ever hold.

/// `(number, name)` of every capability in Docker's (and containerd's) default set.
pub const DEFAULT_CAPABILITIES: &[(u32, &str)] = &[
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (4, "CAP_FSETID"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (8, "CAP_SETPCAP"),
    (10, "CAP_NET_BIND_SERVICE"),
    (13, "CAP_NET_RAW"),
    (18, "CAP_SYS_CHROOT"),
    (27, "CAP_MKNOD"),
    (29, "CAP_AUDIT_WRITE"),
    (31, "CAP_SETFCAP"),
];

/// [`DEFAULT_CAPABILITIES`] as a bit mask (bit n = capability n): `0xa80425fb`.
pub fn default_capability_mask() -> u64 {
    DEFAULT_CAPABILITIES.iter().fold(0, |mask, (cap, _)| mask | (1u64 << cap))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mask_matches_what_docker_shows_in_proc_status() {
        // `grep CapBnd /proc/self/status` in a BuildKit RUN step prints 00000000a80425fb.
        assert_eq!(super::default_capability_mask(), 0xa804_25fb);
    }
}
