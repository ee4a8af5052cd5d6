//! The secret detectors, declared as data: one [`SecretRule`] per kind of credential, with the literal
//! keywords that must appear before its regular expression is tried, the capture group holding the
//! secret, and where it applies. Documentation is generated from this table ([`crate::docs`]).

use crate::Level;

/// Where a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Any text file, and config/history strings.
    Anywhere,
    /// Only `.env`-style files (`.env`, `.env.*`, `*.env`) and config/history assignments.
    Assignments,
    /// Only files whose path ends with one of these suffixes.
    PathSuffix(&'static [&'static str]),
}

/// One secret detector.
#[derive(Debug, Clone, Copy)]
pub struct SecretRule {
    /// Stable ID (`aws-access-key-id`), used in reports and ignore files.
    pub id: &'static str,
    /// What it finds.
    pub title: &'static str,
    /// How bad a leak is.
    pub level: Level,
    /// Literal strings (matched case-insensitively) of which one must occur before the regex runs.
    pub keywords: &'static [&'static str],
    /// The regular expression (Rust `regex` syntax, on bytes).
    pub pattern: &'static str,
    /// The capture group holding the secret (0: the whole match).
    pub group: usize,
    /// Another regex the same file must match (e.g. `"type": "service_account"` for GCP keys).
    pub requires: Option<&'static str>,
    /// Where it applies.
    pub scope: Scope,
}

/// Every detector. Patterns follow the token formats the vendors document (prefixes and lengths).
pub const RULES: &[SecretRule] = &[
    SecretRule {
        id: "private-key",
        title: "Private key (PEM)",
        level: Level::Critical,
        keywords: &["PRIVATE KEY-----"],
        pattern: r"-----BEGIN[ A-Z0-9]{0,20} PRIVATE KEY(?: BLOCK)?-----\s*[A-Za-z0-9+/=:,\- \r\n]{64,}",
        group: 0,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "aws-access-key-id",
        title: "AWS access key ID",
        level: Level::High,
        keywords: &["AKIA", "ASIA", "ABIA", "ACCA"],
        pattern: r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "aws-secret-access-key",
        title: "AWS secret access key",
        level: Level::Critical,
        keywords: &["aws_secret", "awssecret", "aws-secret", "secretaccesskey", "secret_access_key"],
        pattern: r#"(?i)(?:aws_?|-)?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b"#,
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "gcp-service-account",
        title: "GCP service-account key (JSON)",
        level: Level::Critical,
        keywords: &["\"private_key\""],
        pattern: r#""private_key"\s*:\s*"(-----BEGIN[^"]{64,})""#,
        group: 1,
        requires: Some(r#""type"\s*:\s*"service_account""#),
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "gcp-api-key",
        title: "Google API key",
        level: Level::High,
        keywords: &["AIza"],
        pattern: r"\b(AIza[0-9A-Za-z_\-]{35})\b",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "azure-storage-key",
        title: "Azure storage account key (connection string)",
        level: Level::Critical,
        keywords: &["AccountKey="],
        pattern: r"AccountName=[^;\s]+;\s*AccountKey=([A-Za-z0-9+/]{86}==)",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "azure-client-secret",
        title: "Azure AD client secret",
        level: Level::High,
        keywords: &["azure_client_secret", "azure-client-secret", "azureclientsecret"],
        pattern: r#"(?i)azure[_\-]?client[_\-]?secret["']?\s*[:=]\s*["']?([A-Za-z0-9_~.\-]{34,40})"#,
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "github-token",
        title: "GitHub token",
        level: Level::High,
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        pattern: r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "gitlab-token",
        title: "GitLab personal access token",
        level: Level::High,
        keywords: &["glpat-"],
        pattern: r"\b(glpat-[A-Za-z0-9_\-]{20})\b",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "slack-token",
        title: "Slack token",
        level: Level::High,
        keywords: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        pattern: r"\b(xox[abprs]-[0-9]{8,}-[A-Za-z0-9-]{8,})\b",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "slack-webhook",
        title: "Slack incoming-webhook URL",
        level: Level::High,
        keywords: &["hooks.slack.com"],
        pattern: r"(https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "stripe-key",
        title: "Stripe secret or restricted key",
        level: Level::Critical,
        keywords: &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        pattern: r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,99})\b",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "npm-token",
        title: "npm access token",
        level: Level::High,
        keywords: &["npm_", "_authToken"],
        pattern: r"\b(npm_[A-Za-z0-9]{36})\b|_authToken\s*=\s*([^\s$][^\s]{15,})",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "pypi-token",
        title: "PyPI upload token",
        level: Level::High,
        keywords: &["pypi-AgEIcHlwaS5vcmc"],
        pattern: r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
        group: 1,
        requires: None,
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "docker-config-auth",
        title: "Registry credentials in a Docker config",
        level: Level::High,
        keywords: &["\"auth\""],
        pattern: r#""auth"\s*:\s*"([A-Za-z0-9+/]{8,}={0,2})""#,
        group: 1,
        requires: Some(r#""auths"\s*:"#),
        scope: Scope::PathSuffix(&[".docker/config.json", ".dockercfg", "containers/auth.json"]),
    },
    SecretRule {
        id: "kubeconfig",
        title: "Kubernetes credentials in a kubeconfig",
        level: Level::Critical,
        keywords: &["client-key-data", "token:"],
        pattern: r"(?m)^\s*(?:client-key-data|token):\s*([A-Za-z0-9+/=_.\-]{20,})\s*$",
        group: 1,
        requires: Some(r"(?m)^kind:\s*Config\s*$"),
        scope: Scope::Anywhere,
    },
    SecretRule {
        id: "env-secret",
        title: "Password, secret or token assigned in a .env file, ENV, LABEL or build argument",
        level: Level::High,
        keywords: &["pass", "secret", "token", "key", "credential", "pwd"],
        pattern: r#"(?im)^\s*(?:export\s+)?([A-Za-z0-9_.\-]*(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)[A-Za-z0-9_]*)\s*=\s*["']?([^"'\s#]+)"#,
        group: 2,
        requires: None,
        scope: Scope::Assignments,
    },
];

/// Whether a value assigned to a secret-looking name is a real secret rather than a placeholder
/// (`changeme`, `${VAR}`, `<token>`, `true`, short or single-character-class values).
pub fn nontrivial_value(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    if v.len() < 8 || v.starts_with('$') || v.starts_with('<') || v.starts_with('{') || v.starts_with('%') {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    const PLACEHOLDERS: &[&str] = &[
        "changeme",
        "change_me",
        "password",
        "passw0rd",
        "example",
        "secret",
        "placeholder",
        "redacted",
        "xxxxxxxx",
        "your_",
        "your-",
        "dummy",
        "notset",
        "undefined",
        "/run/secrets/",
        "/var/run/secrets/",
        "true",
        "false",
        "null",
        "none",
    ];
    if PLACEHOLDERS.iter().any(|p| lower.starts_with(p) || lower == *p) {
        return false;
    }
    // A path or file name is a reference to a secret, not the secret (`API_KEY_FILE=/etc/key`).
    if v.starts_with('/') || v.starts_with("./") {
        return false;
    }
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
        v.bytes().any(|b| !b.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|c| **c).count() >= 2
}
