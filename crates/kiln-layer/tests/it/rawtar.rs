//! A raw tar writer for crafting layers, hostile ones included: headers are assembled byte by byte,
//! independently of the code under test.

/// One ustar header, field by field.
#[derive(Clone)]
pub(crate) struct Hdr {
    pub(crate) name: Vec<u8>,
    pub(crate) typeflag: u8,
    pub(crate) size: u64,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) mtime: u64,
    pub(crate) link: Vec<u8>,
    pub(crate) major: u32,
    pub(crate) minor: u32,
    pub(crate) prefix: Vec<u8>,
    /// Replace the computed checksum (to corrupt it).
    pub(crate) checksum: Option<u32>,
}

impl Hdr {
    pub(crate) fn new(name: &str, typeflag: u8) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            typeflag,
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: Vec::new(),
            major: 0,
            minor: 0,
            prefix: Vec::new(),
            checksum: None,
        }
    }

    pub(crate) fn bytes(&self) -> [u8; 512] {
        let mut h = [0u8; 512];
        let put = |h: &mut [u8; 512], at: usize, len: usize, v: &[u8]| {
            let n = v.len().min(len);
            h[at..at + n].copy_from_slice(&v[..n]);
        };
        let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
            let s = format!("{:0width$o}", v, width = len - 1);
            put(h, at, len, s.as_bytes());
        };
        put(&mut h, 0, 100, &self.name);
        octal(&mut h, 100, 8, u64::from(self.mode));
        octal(&mut h, 108, 8, self.uid);
        octal(&mut h, 116, 8, self.gid);
        octal(&mut h, 124, 12, self.size);
        octal(&mut h, 136, 12, self.mtime);
        h[156] = self.typeflag;
        put(&mut h, 157, 100, &self.link);
        put(&mut h, 257, 6, b"ustar\0");
        put(&mut h, 263, 2, b"00");
        octal(&mut h, 329, 8, u64::from(self.major));
        octal(&mut h, 337, 8, u64::from(self.minor));
        put(&mut h, 345, 155, &self.prefix);
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        let sum = self.checksum.unwrap_or(sum);
        put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
        h
    }
}

/// A tar stream assembled from raw headers.
#[derive(Default, Clone)]
pub(crate) struct RawTar {
    pub(crate) bytes: Vec<u8>,
}

impl RawTar {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn header(&mut self, h: &Hdr) -> &mut Self {
        self.bytes.extend_from_slice(&h.bytes());
        self
    }

    /// Member data followed by zero padding to 512 bytes.
    pub(crate) fn data(&mut self, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(data);
        self.bytes.resize(self.bytes.len().next_multiple_of(512), 0);
        self
    }

    pub(crate) fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let mut h = Hdr::new(name, b'0');
        h.size = data.len() as u64;
        self.header(&h).data(data)
    }

    pub(crate) fn dir(&mut self, name: &str) -> &mut Self {
        let mut h = Hdr::new(name, b'5');
        h.mode = 0o755;
        self.header(&h)
    }

    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Hdr::new(name, b'2');
        h.link = target.as_bytes().to_vec();
        self.header(&h)
    }

    pub(crate) fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut h = Hdr::new(name, b'1');
        h.link = target.as_bytes().to_vec();
        self.header(&h)
    }

    /// A PAX extended header (type `x`) with these records; the next header is the member it applies to.
    pub(crate) fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (key, value) in records {
            let rest = 3 + key.len() + value.len();
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {key}=").as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        let mut h = Hdr::new("PaxHeaders.0/x", b'x');
        h.size = data.len() as u64;
        self.header(&h).data(&data)
    }

    /// A GNU long name (`L`) or long link (`K`) pseudo-member; GNU magic, as GNU tar writes it.
    pub(crate) fn gnu_long(&mut self, typeflag: u8, value: &[u8]) -> &mut Self {
        let mut h = Hdr::new("././@LongLink", typeflag);
        h.size = value.len() as u64 + 1;
        let mut bytes = h.bytes();
        bytes[257..265].copy_from_slice(b"ustar  \0");
        bytes[148..156].fill(b' ');
        let sum: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
        bytes[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.bytes.extend_from_slice(&bytes);
        let mut data = value.to_vec();
        data.push(0);
        self.data(&data)
    }

    pub(crate) fn end(&mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0; 1024]);
        self.bytes.clone()
    }
}
