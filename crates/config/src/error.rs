//! Errors of reading and validating `ferryman.toml`.
//!
//! Every message starts with `FILE:LINE:COL` (or just `FILE` when the file itself cannot be
//! read), says what is wrong, and ends with what to do about it.
//!
//! This file is longer than our ~500 lines on purpose: [`ConfigError`] is the catalogue of every
//! message the configuration can give, one variant each, and reads best whole. Split by section
//! it would become nested enums, changing the public type that callers and tests match on.
//! [`ConfigErrors`], the list of them, is in `error/list.rs`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::secret::SecretKind;

mod list;

pub use list::ConfigErrors;

/// Result whose error is the whole list of problems found in a config file.
pub type Result<T, E = ConfigErrors> = std::result::Result<T, E>;

/// A position in the config file, printed as `FILE:LINE:COL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The config file, as given to [`Config::load`](crate::Config::load) or
    /// [`Config::parse`](crate::Config::parse).
    pub path: Arc<Path>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// One problem found in a config file.
///
/// I/O errors are kept behind an [`Arc`] so that the error stays [`Clone`]; their text is part
/// of the message rather than a `source()`, so that printing a chain does not repeat it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("{}: cannot read the config file: {cause}: check the path given to ferryman (`--config FILE`, else the variable FERRYMAN_CONFIG, else /etc/ferryman/ferryman.toml) and the file's permissions", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        cause: Arc<std::io::Error>,
    },

    /// The file is not valid TOML, or a value has the wrong type.
    #[error(
        "{at}: {message}: fix this line; every key is documented in config/ferryman.example.toml"
    )]
    Syntax {
        /// Where.
        at: Location,
        /// The parser's message.
        message: String,
    },

    /// A key that Ferryman does not know, most often a typo.
    #[error("{at}: unknown key `{key}` {}: {}", in_table(table), unknown_key_hint(suggestion.as_deref(), known))]
    UnknownKey {
        /// Where.
        at: Location,
        /// The key as written.
        key: String,
        /// Dotted path of the table that holds it; empty for the top level.
        table: String,
        /// The keys allowed in that table.
        known: Vec<String>,
        /// The known key nearest to `key`, when one is close enough to be what was meant.
        suggestion: Option<String>,
    },

    /// A value of the wrong type, e.g. a string where a number goes.
    #[error("{at}: `{key}` is {found}, but it must be {expected}: fix the value; every key is documented in config/ferryman.example.toml")]
    WrongType {
        /// Where the value is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// What the value is, in words (`the string "x"`).
        found: String,
        /// What the key takes, in words (`an integer`).
        expected: String,
    },

    /// A value of the right type that its key does not take (an unknown task name).
    #[error("{at}: `{key}`: {message}: fix the value; every key is documented in config/ferryman.example.toml")]
    InvalidValue {
        /// Where the value is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// What is wrong with it.
        message: String,
    },

    /// A required key is absent.
    #[error("{at}: missing required key `{key}`: add it (see config/ferryman.example.toml)")]
    MissingKey {
        /// Where the enclosing table starts.
        at: Location,
        /// Dotted path of the missing key.
        key: String,
    },

    /// A value that must not be empty is empty.
    #[error(
        "{at}: `{key}` is empty: set it to a non-empty value, or remove it to use the default"
    )]
    EmptyValue {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
    },

    /// An empty string in a command given as an array.
    #[error("{at}: `{key}[{index}]` is an empty string: remove it; each element of the array is passed to the program as one argument, as is")]
    EmptyCommandArgument {
        /// Where the element is.
        at: Location,
        /// Dotted path of the command key.
        key: String,
        /// 0-based position of the element in the array.
        index: usize,
    },

    /// A duration string that humantime cannot parse.
    #[error("{at}: `{key}` = \"{value}\" is not a duration ({reason}): write it like \"500ms\", \"5s\" or \"2m\"")]
    InvalidDuration {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// The parser's message.
        reason: String,
    },

    /// A duration outside the allowed range.
    #[error("{at}: `{key}` = \"{value}\" is out of range: use a duration from {} to {}", humantime::format_duration(*min), humantime::format_duration(*max))]
    DurationOutOfRange {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// Smallest allowed value.
        min: Duration,
        /// Largest allowed value.
        max: Duration,
    },

    /// An integer outside the allowed range (also one too large for any integer).
    #[error("{at}: `{key}` = {value} is out of range: use a number from {min} to {max}")]
    IntegerOutOfRange {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },

    /// A string that is not one of the values a key allows.
    #[error("{at}: `{key}` = \"{value}\" is not allowed here: use one of: {}", allowed.join(", "))]
    InvalidChoice {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// The allowed values.
        allowed: Vec<String>,
    },

    /// A port number outside 1..=65535.
    #[error("{at}: `{key}` = {value} is not a TCP port: use a number from 1 to 65535")]
    InvalidPort {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
    },

    /// Two settings use the same port.
    #[error("{at}: `{key}` uses port {port}, which is also `{other_key}`: change one of them")]
    PortClash {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The other key that has this port.
        other_key: String,
        /// The shared port.
        port: u16,
    },

    /// A port list such as `"40100-40119,40200"` that does not parse.
    #[error("{at}: `{key}` = \"{value}\" is not a valid port list ({reason}): write ports and inclusive ranges separated by commas, e.g. \"40100-40119,40200\"")]
    InvalidPortList {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Two clusters share a sender port.
    #[error("{at}: sender port {port} of cluster `{cluster}` is also in the sender ports of cluster `{other_cluster}` ({other_at}): give each cluster its own ports")]
    PortPoolOverlap {
        /// Where (the later cluster's `scheduler-db-servers-sender-ports`).
        at: Location,
        /// The cluster whose pool is reported.
        cluster: String,
        /// The cluster it overlaps with.
        other_cluster: String,
        /// Where the other cluster's pool is.
        other_at: Location,
        /// The first shared port.
        port: u16,
    },

    /// A name (cluster, server, schema) with characters that are not allowed.
    #[error("{at}: {what} `{value}` is not valid: use 1 to 64 characters from {allowed}")]
    InvalidName {
        /// Where.
        at: Location,
        /// What kind of name, e.g. "cluster name".
        what: &'static str,
        /// The name as written.
        value: String,
        /// The allowed characters, for the message.
        allowed: &'static str,
    },

    /// A host or address that is empty or contains whitespace.
    #[error("{at}: `{key}` = {value:?} is not a host name or address: it must be non-empty and contain no whitespace")]
    InvalidHost {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
    },

    /// A path on a database host that is not absolute.
    #[error("{at}: `{key}` = {value:?} is not an absolute path: paths on the database host must start with `/`")]
    RelativeServerPath {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
    },

    /// A task listed twice in `agent.tasks`.
    #[error("{at}: task `{task}` is listed twice in `agent.tasks`: remove the duplicate")]
    DuplicateTask {
        /// Where the second occurrence is.
        at: Location,
        /// The task.
        task: ferryman_proto::Task,
    },

    /// A 5-field cron string: ours have seconds first.
    #[error("{at}: `{key}` = \"{value}\" has 5 fields, but Ferryman cron strings have 6 with seconds first (`sec min hour dom mon dow`): write \"0 {value}\" to run at second 0")]
    CronSecondsMissing {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
    },

    /// A cron string that does not parse.
    #[error("{at}: `{key}` = \"{value}\" is not a valid cron schedule ({reason}): the 6 fields are `sec min hour dom mon dow`, e.g. \"0 0 1 * * *\" for 01:00:00 every day")]
    InvalidCron {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The file defines no cluster.
    #[error("{at}: no cluster is defined: add a [clusters.NAME] table and its [[clusters.NAME.servers]]")]
    NoClusters {
        /// Start of the file.
        at: Location,
    },

    /// A channel that would carry data in plain TCP beyond this host, with no key saying so.
    #[error("{at}: {what} would cross the network in plain TCP; {fix}")]
    PlainTcp {
        /// Where the listener or the cluster is configured.
        at: Location,
        /// The channel.
        what: String,
        /// The keys that secure it, or say that plain TCP is wanted.
        fix: String,
    },

    /// A cluster without servers.
    #[error("{at}: cluster `{cluster}` has no servers: add a [[clusters.{cluster}.servers]] table for each database server")]
    NoServers {
        /// Where the cluster is named.
        at: Location,
        /// The cluster.
        cluster: String,
    },

    /// Two servers with the same name.
    #[error("{at}: server name `{name}` is also used at {other_at}: give every server a unique name across the whole file")]
    DuplicateServerName {
        /// Where.
        at: Location,
        /// The name.
        name: String,
        /// The other server with this name.
        other_at: Location,
    },

    /// Two servers with the same host and port.
    #[error("{at}: {host}:{port} is also the address of server `{other_server}` ({other_at}): fix `host` or `port`")]
    DuplicateAddress {
        /// Where.
        at: Location,
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The other server with this address.
        other_server: String,
        /// Where that server is.
        other_at: Location,
    },

    /// `db-servers-backup-hosts` names a server that the cluster does not have.
    #[error("{at}: `clusters.{cluster}.db-servers-backup-hosts` names `{host}`, which is not a server of cluster `{cluster}`: use one of: {}", known.join(", "))]
    UnknownBackupHost {
        /// Where.
        at: Location,
        /// The cluster.
        cluster: String,
        /// The name as written.
        host: String,
        /// The cluster's server names.
        known: Vec<String>,
    },

    /// `db-servers-backup-hosts` names a server twice.
    #[error("{at}: `clusters.{cluster}.db-servers-backup-hosts` lists `{host}` twice: remove the duplicate")]
    DuplicateBackupHost {
        /// Where the second occurrence is.
        at: Location,
        /// The cluster.
        cluster: String,
        /// The name.
        host: String,
    },

    /// An entry of `galera-link.masters` that is not `"host:port"`.
    #[error("{at}: `{key}` lists {value:?}, which is not a master ({reason}): write it as \"host:port\" (or \"host\" for port 3306)")]
    InvalidMaster {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The entry as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An entry of `galera-link.ignore-domain-ids` that cannot be used.
    #[error("{at}: `{key}` lists domain {domain}, but {reason}: list each of this cluster's own GTID domains once")]
    InvalidDomainId {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The domain.
        domain: u32,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Two clusters replicate from each other without ignoring their own GTID domains.
    #[error("{at}: clusters `{cluster}` and `{other}` replicate from each other (master-master): `clusters.{cluster}.galera-link.ignore-domain-ids` is empty, so every transaction `{cluster}` writes would come back to it from `{other}`; list `{cluster}`'s own GTID domains (its nodes' wsrep_gtid_domain_id and gtid_domain_id, e.g. [10, 1]), which must differ from `{other}`'s")]
    MasterMasterDomains {
        /// The `[clusters.NAME.galera-link]` table.
        at: Location,
        /// The cluster without ignored domains.
        cluster: String,
        /// The cluster it replicates from, which replicates from it.
        other: String,
    },

    /// `galera-link` timings that would let two nodes replicate at once.
    #[error("{at}: `{key}`: {detail}: the replicating node renews its lease before each attempt on a master, so an attempt plus one interval must fit in the heartbeat timeout; raise heartbeat-timeout or lower the others")]
    GaleraLinkTiming {
        /// Where the table is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The values.
        detail: String,
    },

    /// An entry of `verify-expected-databases` that cannot be a database name.
    #[error("{at}: `{key}` lists {value:?}, which is not a database name ({reason}): write the name as is, 1 to 64 characters without NUL")]
    InvalidDatabaseName {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The entry as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An entry of `verify-nonempty-tables` that is not `"database.table"`.
    #[error("{at}: `{key}` lists {value:?}, which is not a table ({reason}): write it as \"database.table\" (split at the first `.`), each part 1 to 64 characters without NUL")]
    InvalidTableName {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The entry as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Both keys of a secret are set: `password-file` and `password-env` of a credential, or
    /// `api-token-file` and `api-token-env`.
    #[error("{at}: `{key}` sets both `{}` and `{}`: keep only one", kind.file_key(), kind.env_key())]
    BothSecretSources {
        /// Where the `*-env` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// Dotted path of the table (or inline table) that holds the two keys.
        key: String,
    },

    /// The secret file cannot be read.
    #[error("{at}: {kind} file `{}` cannot be read: {cause}: create the file with mode 0600 or fix `{}`", path.display(), kind.file_key())]
    SecretFileUnreadable {
        /// Where the `*-file` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// The resolved path.
        path: PathBuf,
        /// Why.
        cause: Arc<std::io::Error>,
    },

    /// The secret file is a directory, socket, device…
    #[error("{at}: {kind} file `{}` is not a regular file: point `{}` at a file with mode 0600", path.display(), kind.file_key())]
    SecretFileNotRegular {
        /// Where the `*-file` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// The resolved path.
        path: PathBuf,
    },

    /// The secret file is readable by group or others.
    #[error("{at}: {kind} file `{}` has mode {mode:04o}, so group or others can access it: run `chmod 600 {}`", path.display(), path.display())]
    SecretFileMode {
        /// Where the `*-file` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// The resolved path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The secret file holds nothing (once one trailing newline is removed).
    #[error("{at}: {kind} file `{}` is empty: write the {kind} into it, or remove `{}` to {}", path.display(), kind.file_key(), kind.when_absent())]
    SecretFileEmpty {
        /// Where the `*-file` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// The resolved path.
        path: PathBuf,
    },

    /// The variable named by the `*-env` key is not set.
    #[error("{at}: environment variable `{var}` (`{}`) is not set: export it before starting ferryman, or fix `{}`", kind.env_key(), kind.env_key())]
    SecretEnvUnset {
        /// Where the `*-env` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// The variable.
        var: String,
    },

    /// The variable named by the `*-env` key is set but empty.
    #[error("{at}: environment variable `{var}` (`{}`) is empty: set it to the {kind}, or remove `{}` to {}", kind.env_key(), kind.env_key(), kind.when_absent())]
    SecretEnvEmpty {
        /// Where the `*-env` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// The variable.
        var: String,
    },

    /// The variable named by the `*-env` key is not valid UTF-8.
    #[error("{at}: environment variable `{var}` (`{}`) is not valid UTF-8: set it to a UTF-8 {kind}", kind.env_key())]
    SecretEnvNotUnicode {
        /// Where the `*-env` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// The variable.
        var: String,
    },

    /// An entry of `agent.stream-destinations` that is not `"host:port"`.
    #[error("{at}: `{key}` lists {value:?}, which is not a destination: write it as \"host:port\" (the manager's `monitoring-address` and `stream-port`, or a legacy receiver's address and port)")]
    InvalidDestination {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The entry as written.
        value: String,
    },

    /// A `[repositories.local]` table: `local` is the manager's own repository.
    #[error("{at}: `[repositories.local]`: the name `local` is reserved for the manager's own repository in `manager.monitoring-datadir`, which needs no table: give this repository another name (and use it in the clusters' `backup-repositories`)")]
    ReservedRepositoryName {
        /// Where the table is named.
        at: Location,
    },

    /// A key of a repository of another kind, e.g. `bucket` with `kind = "local"`.
    #[error("{at}: `{key}` is a key of repositories with kind = \"{takes}\", but this one has kind = \"{kind}\": remove it, or change `kind`")]
    RepositoryKeyOfOtherKind {
        /// Where the key is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The table's kind.
        kind: &'static str,
        /// The kind that takes the key.
        takes: &'static str,
    },

    /// A `bucket` that S3 does not allow.
    #[error("{at}: `{key}` = {value:?} is not a valid S3 bucket name ({reason}): use 3 to 63 characters from a-z, 0-9, `.` and `-`, starting and ending with a letter or a digit, e.g. \"ferryman-backups\"")]
    InvalidBucket {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An `endpoint` that is not an `http://` or `https://` URL without path or query.
    #[error("{at}: `{key}` = {value:?} is not an S3 endpoint ({reason}): write it as \"http://host:port\" or \"https://host\", without a path or query; remove it to use AWS")]
    InvalidEndpoint {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A `prefix` that is not `/`-separated names.
    #[error("{at}: `{key}` = {value:?} is not a valid prefix ({reason}): write names of A-Z, a-z, 0-9, `_`, `.` and `-` (not starting with `.`) separated by single `/`, without a `/` at either end, at most 512 bytes, e.g. \"ferryman/prod\"")]
    InvalidPrefix {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Both `access-key-id` and `access-key-id-env` are set.
    #[error("{at}: `{key}` sets both `access-key-id` and `access-key-id-env`: keep only one")]
    BothAccessKeyIdSources {
        /// Where `access-key-id-env` is.
        at: Location,
        /// Dotted path of the repository's table.
        key: String,
    },

    /// One half of an S3 key pair without the other.
    #[error("{at}: `{key}` sets `{set}` but neither `{}` nor `{}`: an S3 key pair needs both halves: set one of them, or remove `{set}` to let the manager use its AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables", missing[0], missing[1])]
    IncompleteS3KeyPair {
        /// Where the key that is set is.
        at: Location,
        /// Dotted path of the repository's table.
        key: String,
        /// The key of the half that is set.
        set: &'static str,
        /// The keys that could give the other half.
        missing: [&'static str; 2],
    },

    /// The variable named by `access-key-id-env` is not set, is empty or is not UTF-8.
    #[error("{at}: environment variable `{var}` (`{key}`) {problem}: set it to the S3 access key ID before starting ferryman, or fix `{key}`")]
    AccessKeyIdEnv {
        /// Where `access-key-id-env` is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The variable.
        var: String,
        /// What is wrong: "is not set", "is empty" or "is not valid UTF-8".
        problem: &'static str,
    },

    /// `backup-repositories` names a repository that is not defined.
    #[error("{at}: `clusters.{cluster}.backup-repositories` names `{name}`, which is not a repository: use one of: {} (`local` is the manager's own, in `manager.monitoring-datadir`), or add a [repositories.{name}] table", known.join(", "))]
    UnknownRepository {
        /// Where the name is.
        at: Location,
        /// The cluster.
        cluster: String,
        /// The name as written.
        name: String,
        /// `local`, then the names of the `[repositories.NAME]` tables.
        known: Vec<String>,
    },

    /// `backup-repositories` names a repository twice.
    #[error(
        "{at}: `clusters.{cluster}.backup-repositories` lists `{name}` twice: remove the duplicate"
    )]
    DuplicateRepository {
        /// Where the second occurrence is.
        at: Location,
        /// The cluster.
        cluster: String,
        /// The name.
        name: String,
    },

    /// An `age-recipients` entry that is not an age X25519 public key.
    #[error("{at}: `{key}` lists {value:?}, which is not an age public key ({reason}): write the `age1...` line that `age-keygen` prints as \"Public key\" (`age-keygen -y KEYFILE` prints it again from the key file)")]
    InvalidAgeRecipient {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The entry as written (a public key: not a secret).
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An age identity (file or variable) that does not hold X25519 secret keys.
    #[error("{at}: the age identity of `{key}-file`/`{key}-env` ({origin}) cannot be used: {reason}: make one with `age-keygen -o FILE` and `chmod 600 FILE`, and keep a copy of it away from the manager (without it the backups cannot be read)")]
    InvalidAgeIdentity {
        /// Where the key naming the identity is.
        at: Location,
        /// Dotted path of the keys, less `-file`/`-env`.
        key: String,
        /// `file PATH` or `environment variable NAME`.
        origin: String,
        /// What is wrong (a line number, never the line).
        reason: String,
    },

    /// Both `age-recipients` and an identity, the identity not among the recipients.
    #[error("{at}: the age identity in {origin} (public key {public}) is not among `{key}`: the manager would store backups it cannot read back: add its public key to `{key}`, or remove the identity to keep the repository write-only")]
    AgeIdentityNotRecipient {
        /// Where the key naming the identity is.
        at: Location,
        /// Dotted path of `age-recipients`.
        key: String,
        /// `file PATH` or `environment variable NAME`.
        origin: String,
        /// The identity's public key(s).
        public: String,
    },

    /// The first of `backup-repositories` is encrypted without an identity.
    #[error("{at}: `clusters.{cluster}.backup-repositories` starts with `{name}`, which is write-only (age-recipients without age-identity-file): the first repository stores the backups and the manager reads them back from it to verify, copy and reseed: give [repositories.{name}] an `age-identity-file`, or list a readable repository first")]
    WriteOnlyFirstRepository {
        /// Where the name is.
        at: Location,
        /// The cluster.
        cluster: String,
        /// The repository.
        name: String,
    },

    /// `backup-repositories = []`.
    #[error("{at}: `clusters.{cluster}.backup-repositories` is empty: list at least one repository, e.g. [\"local\"]; the first stores the cluster's backups, the others receive copies")]
    NoBackupRepositories {
        /// Where the list is.
        at: Location,
        /// The cluster.
        cluster: String,
    },

    /// A name used by both an email and a webhook channel: routes name channels by name alone.
    #[error("{at}: channel name `{name}` is also used by [notifications.email.{name}] ({other_at}): email and webhook channels share one namespace, since a route names its channel by name alone: rename one of them")]
    DuplicateChannelName {
        /// Where the webhook channel is named.
        at: Location,
        /// The name.
        name: String,
        /// Where the email channel of the same name is.
        other_at: Location,
    },

    /// An SMTP password (`password-file` / `password-env`) without `user`.
    #[error("{at}: `{table}` sets `{key}` but no `user`: the password is only sent with a login: set `user` to the SMTP login, or remove `{key}` to send mail without logging in")]
    SmtpPasswordWithoutUser {
        /// Where the password key is.
        at: Location,
        /// Dotted path of the channel's table.
        table: String,
        /// The password key that is set: `password-file` or `password-env`.
        key: &'static str,
    },

    /// An SMTP `user` without a password.
    #[error("{at}: `{table}.user` is set but neither `password-file` nor `password-env`: an SMTP login needs its password: set one of them (a file with mode 0600, or an environment variable), or remove `user` to send mail without logging in")]
    SmtpUserWithoutPassword {
        /// Where `user` is.
        at: Location,
        /// Dotted path of the channel's table.
        table: String,
    },

    /// A `from` or `to` address without `@`.
    #[error("{at}: `{key}` = {value:?} is not a mail address: write it as \"name@example.com\" (or \"Name <name@example.com>\")")]
    InvalidMailAddress {
        /// Where the address is.
        at: Location,
        /// Dotted path of the key (with the index of a `to` entry).
        key: String,
        /// The address as written.
        value: String,
    },

    /// `to = []`.
    #[error("{at}: `{key}` is empty: list at least one address, e.g. [\"dba@example.com\"]")]
    NoMailRecipients {
        /// Where the list is.
        at: Location,
        /// Dotted path of the key.
        key: String,
    },

    /// A webhook `url` that is not `http://` or `https://` with a host.
    #[error("{at}: `{key}` = {value:?} is not a webhook URL ({reason}): write it as \"https://host/path\" (or \"http://host:port/path\")")]
    InvalidWebhookUrl {
        /// Where.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A route's `channel` that names no channel.
    #[error(
        "{at}: `{key}` = \"{name}\" is not a channel: {}",
        unknown_channel_hint(name, known)
    )]
    UnknownChannel {
        /// Where the name is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The name as written.
        name: String,
        /// The channels' names, email and webhook, sorted.
        known: Vec<String>,
    },

    /// A route's `clusters` entry that names no cluster.
    #[error("{at}: `{key}` lists `{name}`, which is not a cluster: use one of: {}, or leave `clusters` out (or empty) to route every cluster's events", known.join(", "))]
    UnknownRouteCluster {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The name as written.
        name: String,
        /// The clusters' names.
        known: Vec<String>,
    },

    /// A route's `kinds` entry that is not an event kind.
    #[error("{at}: `{key}` lists `{value}`, which is not an event kind: use one of: {}, or leave `kinds` out (or empty) to route every kind", known.join(", "))]
    UnknownEventKind {
        /// Where the entry is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The entry as written.
        value: String,
        /// Every event kind ([`EVENT_KINDS`](crate::EVENT_KINDS)).
        known: Vec<String>,
    },

    /// A value listed twice in a list where each may appear once (`to`, a route's `clusters`
    /// or `kinds`).
    #[error("{at}: `{key}` lists `{value}` twice: remove the duplicate")]
    DuplicateEntry {
        /// Where the second occurrence is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The value.
        value: String,
    },

    /// A key that `onpremise-ssh = true` needs is absent.
    #[error("{at}: `onpremise-ssh = true` needs `{key}`: {next}")]
    OnPremiseSshKeyMissing {
        /// Where the server's table starts.
        at: Location,
        /// Dotted path of the missing key.
        key: String,
        /// What to set it to.
        next: &'static str,
    },
}

/// `in [TABLE]`, or `at the top level`.
fn in_table(table: &str) -> String {
    if table.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in [{table}]")
    }
}

/// The next step for an unknown key: the key meant, else every key allowed.
fn unknown_key_hint(suggestion: Option<&str>, known: &[String]) -> String {
    match suggestion {
        Some(key) => format!("did you mean `{key}`?"),
        None if known.is_empty() => "this table takes no keys: remove it".to_owned(),
        None => format!(
            "check the spelling; known keys here are: {}",
            known.join(", ")
        ),
    }
}

/// The next step for a route naming an unknown channel: the channels there are, and how to add
/// one.
fn unknown_channel_hint(name: &str, known: &[String]) -> String {
    let add = format!("add a [notifications.email.{name}] or [notifications.webhook.{name}] table");
    if known.is_empty() {
        format!("no channel is defined: {add}")
    } else {
        format!("use one of: {}, or {add}", known.join(", "))
    }
}
