//! GeoIP generalisation: an analytics profile keeps a client's country and autonomous system
//! (AS) instead of its address.
//!
//! [`GeoDb`] holds up to three MaxMind DB (`.mmdb`) files: a country database, a city database
//! and an ASN database, each optional. The country comes from the country database, else from
//! the city database; the English city name from the city database; the AS number and
//! organisation from the ASN database. Files are read into memory with the crate's safe
//! `Reader::from_source(Vec<u8>)` (no memory map), so a file replaced on disk never changes
//! under a reader.
//!
//! # Reloading
//!
//! The open readers sit behind `RwLock<Arc<Readers>>`. A lookup takes the read lock only to
//! clone the `Arc` (see [`GeoDb::snapshot`] to do that once per batch), and
//! [`GeoDb::reload_if_changed`] reads and parses a changed file *outside* the lock, then holds
//! the write lock only to swap the pointer. Every swap bumps a generation number (drawn from a
//! process-wide counter, so two databases never share one), which lets a per-worker
//! [`GeoCache`] notice a reload with one atomic load per lookup. `arc-swap` would make the
//! pointer read lock-free, but with a per-worker cache in front the lock is only taken on cache
//! misses, so it is not worth a dependency.
//!
//! # Rendering
//!
//! [`GeoDb::generalise`] writes `GB AS2856`, `GB`, `AS2856` or `-` (nothing known);
//! [`GeoDb::generalise_token`] writes the space-free form `GB-AS2856` for fields that cannot
//! hold a space (e.g. the client field of a Common Log Format line). Only validated values are
//! rendered (a two-letter code, a number), so a hostile database cannot inject text into a log.

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use maxminddb::{MaxMindDbError, Reader};
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// Paths of the databases; each optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoConfig {
    /// A GeoIP2/GeoLite2 Country (or City) database: gives the country.
    pub country: Option<PathBuf>,
    /// A GeoIP2/GeoLite2 City database: gives the city, and the country when there is no
    /// country database or it has no record for the address.
    pub city: Option<PathBuf>,
    /// A GeoLite2 ASN (or GeoIP2 ISP) database: gives the AS number and organisation.
    pub asn: Option<PathBuf>,
}

/// What an address generalises to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 code of the country the address is located in (not the registered
    /// country), e.g. `GB`.
    pub country: Option<String>,
    /// English name of the city.
    pub city: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub as_org: Option<String>,
}

/// How [`GeoInfo::render`] joins the country and the AS number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    /// `GB AS2856`.
    #[default]
    Spaced,
    /// `GB-AS2856`, for fields that cannot hold a space.
    Token,
}

impl GeoInfo {
    /// Appends the analytics form to `out`: the country, then `AS<number>`, joined by a space
    /// ([`Style::Spaced`]) or a hyphen ([`Style::Token`]); `-` when neither is known.
    pub fn render(&self, style: Style, out: &mut Vec<u8>) {
        let country = self.country.as_deref();
        match (country, self.asn) {
            (None, None) => out.push(b'-'),
            (Some(c), None) => out.extend_from_slice(c.as_bytes()),
            (c, Some(asn)) => {
                if let Some(c) = c {
                    out.extend_from_slice(c.as_bytes());
                    out.push(match style {
                        Style::Spaced => b' ',
                        Style::Token => b'-',
                    });
                }
                out.extend_from_slice(b"AS");
                push_u32(out, asn);
            }
        }
    }
}

fn push_u32(out: &mut Vec<u8>, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Which of the three databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    /// The country database.
    Country,
    /// The city database.
    City,
    /// The ASN database.
    Asn,
}

impl std::fmt::Display for DbKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DbKind::Country => "country",
            DbKind::City => "city",
            DbKind::Asn => "ASN",
        })
    }
}

impl DbKind {
    /// Whether a database of `database_type` (from its metadata) can serve this kind. Only a
    /// type that clearly names another kind is refused, so third-party databases still open.
    fn accepts(self, database_type: &str) -> bool {
        let t = database_type.to_ascii_lowercase();
        match self {
            DbKind::Asn => !(t.contains("city") || t.contains("country")),
            DbKind::Country | DbKind::City => {
                !["asn", "isp", "anonymous", "connection-type", "domain"]
                    .iter()
                    .any(|other| t.contains(other))
            }
        }
    }
}

/// Errors opening or reloading a database. Each names the database and its path.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file is missing or unreadable.
    #[error("cannot read the GeoIP {kind} database {}: {source}", path.display())]
    Io {
        /// Which database.
        kind: DbKind,
        /// Its configured path.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid MaxMind DB (corrupt, truncated, or another format).
    #[error("the GeoIP {kind} database {} is not a valid MaxMind DB: {source}", path.display())]
    Invalid {
        /// Which database.
        kind: DbKind,
        /// Its configured path.
        path: PathBuf,
        /// What the reader found wrong.
        #[source]
        source: MaxMindDbError,
    },
    /// The file is a valid MaxMind DB of the wrong kind, e.g. a City database configured as
    /// the ASN database.
    #[error(
        "the GeoIP {kind} database {} is of type {database_type:?}, which has no {kind} data",
        path.display()
    )]
    WrongType {
        /// Which database.
        kind: DbKind,
        /// Its configured path.
        path: PathBuf,
        /// The `database_type` in its metadata.
        database_type: String,
    },
}

/// What identifies one version of a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    dev: u64,
    #[cfg(unix)]
    ino: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            dev: meta.dev(),
            #[cfg(unix)]
            ino: meta.ino(),
        }
    }
}

/// One open database.
struct Db {
    reader: Reader<Vec<u8>>,
    stamp: Stamp,
}

impl Db {
    /// Opens the file, stamps the open handle (so the stamp matches the bytes read, even if
    /// the path is replaced meanwhile), reads it whole and parses it.
    fn open(kind: DbKind, path: &Path) -> Result<Self, GeoError> {
        let io = |source| GeoError::Io {
            kind,
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut buf).map_err(io)?;
        let reader = Reader::from_source(buf).map_err(|source| GeoError::Invalid {
            kind,
            path: path.to_path_buf(),
            source,
        })?;
        let database_type = &reader.metadata().database_type;
        if !kind.accepts(database_type) {
            return Err(GeoError::WrongType {
                kind,
                path: path.to_path_buf(),
                database_type: database_type.clone(),
            });
        }
        Ok(Db {
            reader,
            stamp: Stamp::of(&meta),
        })
    }
}

// Only the fields used are decoded; the decoder skips the rest.
#[derive(Deserialize)]
struct LocationRecord<'a> {
    #[serde(borrow, default)]
    country: Option<CountryRecord<'a>>,
    #[serde(borrow, default)]
    city: Option<CityRecord<'a>>,
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct CityRecord<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

/// An ISO 3166-1 alpha-2 code, or nothing: anything else in a database is not rendered.
fn iso_code(code: Option<&str>) -> Option<String> {
    code.filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        .map(str::to_owned)
}

/// Looks `ip` up in `db`; a decoding error in a damaged record counts as "not found".
fn decode<'a, T: Deserialize<'a>>(db: &'a Db, ip: IpAddr) -> Option<T> {
    db.reader.lookup(ip).ok()?.decode().ok()?
}

/// The readers open at one moment.
struct Readers {
    country: Option<Arc<Db>>,
    city: Option<Arc<Db>>,
    asn: Option<Arc<Db>>,
    generation: u64,
}

impl Readers {
    fn slot(&self, kind: DbKind) -> &Option<Arc<Db>> {
        match kind {
            DbKind::Country => &self.country,
            DbKind::City => &self.city,
            DbKind::Asn => &self.asn,
        }
    }

    fn slot_mut(&mut self, kind: DbKind) -> &mut Option<Arc<Db>> {
        match kind {
            DbKind::Country => &mut self.country,
            DbKind::City => &mut self.city,
            DbKind::Asn => &mut self.asn,
        }
    }

    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let ip = canonical(ip);
        let mut info = GeoInfo::default();
        if let Some(db) = &self.country {
            if let Some(rec) = decode::<LocationRecord>(db, ip) {
                info.country = iso_code(rec.country.and_then(|c| c.iso_code));
            }
        }
        if let Some(db) = &self.city {
            if let Some(rec) = decode::<LocationRecord>(db, ip) {
                if info.country.is_none() {
                    info.country = iso_code(rec.country.and_then(|c| c.iso_code));
                }
                info.city = rec
                    .city
                    .and_then(|c| c.names)
                    .and_then(|n| n.en)
                    .map(str::to_owned);
            }
        }
        if let Some(db) = &self.asn {
            if let Some(rec) = decode::<AsnRecord>(db, ip) {
                info.asn = rec.autonomous_system_number;
                info.as_org = rec.autonomous_system_organization.map(str::to_owned);
            }
        }
        info
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is looked up (and cached) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Generation numbers come from one process-wide counter, so a [`GeoCache`] used with two
/// databases in turn never mistakes one's generation for the other's. 0 is never issued.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// Reload bookkeeping: serialises reloads and remembers replacements that failed to open.
#[derive(Default)]
struct ReloadState {
    /// Per kind, the stamp of a replacement that failed to open: it is not read again (and its
    /// error not reported again) until the file changes once more.
    failed: [Option<Option<Stamp>>; 3],
}

fn kind_index(kind: DbKind) -> usize {
    match kind {
        DbKind::Country => 0,
        DbKind::City => 1,
        DbKind::Asn => 2,
    }
}

/// The open databases, shareable across threads (`Send + Sync`), reloaded when a file
/// changes on disk (see [`GeoDb::reload_if_changed`]).
pub struct GeoDb {
    config: GeoConfig,
    readers: RwLock<Arc<Readers>>,
    generation: AtomicU64,
    reload: Mutex<ReloadState>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("config", &self.config)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// The databases as they were at one moment: take one per batch of lookups to touch the
/// shared lock once. A reload does not affect a snapshot already taken.
#[derive(Clone)]
pub struct GeoSnapshot(Arc<Readers>);

impl GeoSnapshot {
    /// What `ip` generalises to; [`GeoInfo::default`] when no database knows it.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        self.0.lookup(ip)
    }

    /// The generation of the databases in this snapshot.
    pub fn generation(&self) -> u64 {
        self.0.generation
    }
}

impl std::fmt::Debug for GeoSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GeoSnapshot")
            .field(&self.0.generation)
            .finish()
    }
}

const KINDS: [DbKind; 3] = [DbKind::Country, DbKind::City, DbKind::Asn];

impl GeoConfig {
    fn path(&self, kind: DbKind) -> Option<&Path> {
        match kind {
            DbKind::Country => self.country.as_deref(),
            DbKind::City => self.city.as_deref(),
            DbKind::Asn => self.asn.as_deref(),
        }
    }
}

impl GeoDb {
    /// Opens every configured database. A configured file that is missing, unreadable,
    /// corrupt or of the wrong kind is an error naming it. With nothing configured every
    /// lookup is empty.
    pub fn open(config: &GeoConfig) -> Result<Self, GeoError> {
        let generation = next_generation();
        let mut readers = Readers {
            country: None,
            city: None,
            asn: None,
            generation,
        };
        for kind in KINDS {
            if let Some(path) = config.path(kind) {
                *readers.slot_mut(kind) = Some(Arc::new(Db::open(kind, path)?));
            }
        }
        Ok(GeoDb {
            config: config.clone(),
            readers: RwLock::new(Arc::new(readers)),
            generation: AtomicU64::new(generation),
            reload: Mutex::new(ReloadState::default()),
        })
    }

    /// The databases now open; cheap (one read lock and an `Arc` clone).
    pub fn snapshot(&self) -> GeoSnapshot {
        GeoSnapshot(Arc::clone(
            &self.readers.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }

    /// Changes (to a number never used before) whenever a reload swaps in a new database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// What `ip` generalises to; [`GeoInfo::default`] when no database knows it (private,
    /// loopback and unallocated addresses, for instance). For many lookups in a row, use
    /// [`GeoDb::snapshot`] or a [`GeoCache`].
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        self.snapshot().lookup(ip)
    }

    /// Checks each configured file's modification time, size and inode, and re-opens the
    /// changed ones. Files are read and parsed outside the lock; lookups wait at most for the
    /// pointer swap. Cheap when nothing changed (one `stat` per file), so it can run once a
    /// second.
    ///
    /// Returns how many databases were reloaded. A replacement that fails to open (missing,
    /// corrupt, wrong kind) keeps the old reader and returns the error; other databases that
    /// did change are still swapped in. The failed version is not read or reported again until
    /// the file changes once more, so a periodic caller logs each bad file once.
    pub fn reload_if_changed(&self) -> Result<usize, GeoError> {
        let mut state = self.reload.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.snapshot().0;
        let mut fresh: Vec<(DbKind, Arc<Db>)> = Vec::new();
        let mut first_error = None;
        for kind in KINDS {
            let Some(path) = self.config.path(kind) else {
                continue;
            };
            let on_disk = std::fs::metadata(path).ok().map(|m| Stamp::of(&m));
            let loaded = current.slot(kind).as_ref().map(|db| db.stamp);
            let failed = &mut state.failed[kind_index(kind)];
            if on_disk == loaded {
                *failed = None;
                continue;
            }
            if *failed == Some(on_disk) {
                continue;
            }
            match Db::open(kind, path) {
                Ok(db) => {
                    *failed = None;
                    fresh.push((kind, Arc::new(db)));
                }
                Err(e) => {
                    *failed = Some(on_disk);
                    first_error.get_or_insert(e);
                }
            }
        }
        let reloaded = fresh.len();
        if reloaded > 0 {
            let mut next = Readers {
                country: current.country.clone(),
                city: current.city.clone(),
                asn: current.asn.clone(),
                generation: next_generation(),
            };
            for (kind, db) in fresh {
                *next.slot_mut(kind) = Some(db);
            }
            let generation = next.generation;
            let mut slot = self.readers.write().unwrap_or_else(PoisonError::into_inner);
            *slot = Arc::new(next);
            // Published after the swap, so whoever sees the new generation and then takes
            // a snapshot gets the new readers (a cache never files old answers under it).
            self.generation.store(generation, Ordering::Release);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(reloaded),
        }
    }

    /// Appends the analytics form of `ip`: `GB AS2856`, `GB`, `AS2856`, or `-` when nothing
    /// is known. See [`GeoDb::generalise_token`] for a space-free form.
    pub fn generalise(&self, ip: IpAddr, out: &mut Vec<u8>) {
        self.lookup(ip).render(Style::Spaced, out);
    }

    /// Like [`GeoDb::generalise`] but space-free, for fields that cannot hold a space:
    /// `GB-AS2856`, `GB`, `AS2856`, or `-`.
    pub fn generalise_token(&self, ip: IpAddr, out: &mut Vec<u8>) {
        self.lookup(ip).render(Style::Token, out);
    }
}

/// A per-worker lookup cache in front of a shared [`GeoDb`]: a bounded map from address to
/// [`GeoInfo`], cleared when full and when the database's generation changes after a reload.
#[derive(Debug)]
pub struct GeoCache {
    map: FxHashMap<IpAddr, GeoInfo>,
    capacity: usize,
    generation: u64,
}

impl GeoCache {
    /// A cache holding at most `capacity` addresses (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        GeoCache {
            map: FxHashMap::default(),
            capacity,
            generation: 0,
        }
    }

    /// How many addresses are cached.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// What `ip` generalises to, from the cache or else from `db`.
    pub fn lookup(&mut self, db: &GeoDb, ip: IpAddr) -> &GeoInfo {
        let generation = db.generation();
        if generation != self.generation {
            self.map.clear();
            self.generation = generation;
        }
        let ip = canonical(ip);
        if self.map.len() >= self.capacity && !self.map.contains_key(&ip) {
            self.map.clear();
        }
        self.map.entry(ip).or_insert_with(|| db.lookup(ip))
    }

    /// Appends the analytics form of `ip` in `style` (see [`GeoInfo::render`]).
    pub fn generalise(&mut self, db: &GeoDb, ip: IpAddr, style: Style, out: &mut Vec<u8>) {
        self.lookup(db, ip).render(style, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! test_db {
        ($name:literal) => {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/geoip/maxmind-test/",
                $name
            )
        };
    }
    const COUNTRY: &str = test_db!("GeoIP2-Country-Test.mmdb");
    const CITY: &str = test_db!("GeoIP2-City-Test.mmdb");
    const ASN: &str = test_db!("GeoLite2-ASN-Test.mmdb");
    const CITY_2018: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/geoip/geolite2-city-2018/GeoLite2-City.mmdb"
    );

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn open(country: Option<&str>, city: Option<&str>, asn: Option<&str>) -> GeoDb {
        GeoDb::open(&GeoConfig {
            country: country.map(PathBuf::from),
            city: city.map(PathBuf::from),
            asn: asn.map(PathBuf::from),
        })
        .unwrap()
    }

    fn info(
        country: Option<&str>,
        city: Option<&str>,
        asn: Option<u32>,
        org: Option<&str>,
    ) -> GeoInfo {
        GeoInfo {
            country: country.map(str::to_owned),
            city: city.map(str::to_owned),
            asn,
            as_org: org.map(str::to_owned),
        }
    }

    fn spaced(db: &GeoDb, addr: &str) -> String {
        let mut out = Vec::new();
        db.generalise(ip(addr), &mut out);
        String::from_utf8(out).unwrap()
    }

    fn token(db: &GeoDb, addr: &str) -> String {
        let mut out = Vec::new();
        db.generalise_token(ip(addr), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GeoDb>();
        assert_send_sync::<GeoSnapshot>();
        fn assert_send<T: Send>() {}
        assert_send::<GeoCache>();
    }

    /// Expectations from `GeoIP2-Country-Test.json`: `::81.2.69.142/127` GB,
    /// `::89.160.20.112/124` SE, `::216.160.83.56/125` US, `::217.65.48.0/125` GI,
    /// `2001:218::/32` JP.
    #[test]
    fn country_test_db() {
        let db = open(Some(COUNTRY), None, None);
        for (addr, cc) in [
            ("81.2.69.142", "GB"),
            ("81.2.69.143", "GB"),
            ("89.160.20.112", "SE"),
            ("216.160.83.56", "US"),
            ("217.65.48.1", "GI"),
            ("2001:218::1", "JP"),
        ] {
            assert_eq!(
                db.lookup(ip(addr)),
                info(Some(cc), None, None, None),
                "{addr}"
            );
        }
        // Not in the file (it has ::214.1.1.0/24 without a country and 214.78.120.0/22).
        assert_eq!(db.lookup(ip("214.0.0.1")), GeoInfo::default());
    }

    /// Expectations from `GeoIP2-City-Test.json`: `::81.2.69.142/127` GB London,
    /// `::89.160.20.112/124` SE Linköping, `::216.160.83.56/125` US Milton,
    /// `::2.125.160.216/125` GB Boxford, `::214.0.0.0/120` SG Singapore,
    /// `::149.101.100.0/124` US without a city.
    #[test]
    fn city_test_db() {
        let db = open(None, Some(CITY), None);
        for (addr, cc, city) in [
            ("81.2.69.142", "GB", Some("London")),
            ("89.160.20.112", "SE", Some("Linköping")),
            ("216.160.83.56", "US", Some("Milton")),
            ("2.125.160.216", "GB", Some("Boxford")),
            ("214.0.0.1", "SG", Some("Singapore")),
            ("149.101.100.1", "US", None),
        ] {
            assert_eq!(
                db.lookup(ip(addr)),
                info(Some(cc), city, None, None),
                "{addr}"
            );
        }
    }

    /// Expectations from `GeoLite2-ASN-Test.json`: `89.160.20.112/29` AS29518 "Bredband2 AB",
    /// `1.128.0.0/11` AS1221 "Telstra Pty Ltd", `216.160.83.56/29` AS209 with no organisation.
    #[test]
    fn asn_test_db() {
        let db = open(None, None, Some(ASN));
        assert_eq!(
            db.lookup(ip("89.160.20.112")),
            info(None, None, Some(29518), Some("Bredband2 AB"))
        );
        assert_eq!(
            db.lookup(ip("1.128.0.1")),
            info(None, None, Some(1221), Some("Telstra Pty Ltd"))
        );
        assert_eq!(
            db.lookup(ip("216.160.83.56")),
            info(None, None, Some(209), None)
        );
        assert_eq!(db.lookup(ip("81.2.69.142")), GeoInfo::default());
    }

    #[test]
    fn all_three_combined_and_rendered() {
        let db = open(Some(COUNTRY), Some(CITY), Some(ASN));
        assert_eq!(
            db.lookup(ip("89.160.20.112")),
            info(
                Some("SE"),
                Some("Linköping"),
                Some(29518),
                Some("Bredband2 AB")
            )
        );
        assert_eq!(spaced(&db, "89.160.20.112"), "SE AS29518");
        assert_eq!(token(&db, "89.160.20.112"), "SE-AS29518");
        assert_eq!(spaced(&db, "81.2.69.142"), "GB");
        assert_eq!(token(&db, "81.2.69.142"), "GB");
        assert_eq!(spaced(&db, "1.128.0.1"), "AS1221");
        assert_eq!(token(&db, "1.128.0.1"), "AS1221");
        assert_eq!(spaced(&db, "2001:218::1"), "JP");
        // Not in the country DB: the country comes from the city DB. The ASN test DB has
        // `214.0.0.0/8` as AS721 "DoD Network Information Center".
        assert_eq!(
            db.lookup(ip("214.0.0.1")),
            info(
                Some("SG"),
                Some("Singapore"),
                Some(721),
                Some("DoD Network Information Center")
            )
        );
        assert_eq!(token(&db, "214.0.0.1"), "SG-AS721");
        // IPv4-mapped IPv6 is looked up as IPv4.
        assert_eq!(
            db.lookup(ip("::ffff:89.160.20.112")),
            db.lookup(ip("89.160.20.112"))
        );
    }

    #[test]
    fn unknown_and_private_addresses() {
        let db = open(Some(COUNTRY), Some(CITY), Some(ASN));
        for addr in [
            "10.0.0.1",
            "::1",
            "127.0.0.1",
            "192.168.1.1",
            "8.8.8.8",
            "fe80::1",
        ] {
            assert_eq!(db.lookup(ip(addr)), GeoInfo::default(), "{addr}");
            assert_eq!(spaced(&db, addr), "-");
            assert_eq!(token(&db, addr), "-");
        }
        // Nothing configured: every lookup is empty.
        let none = GeoDb::open(&GeoConfig::default()).unwrap();
        assert_eq!(none.lookup(ip("89.160.20.112")), GeoInfo::default());
        assert_eq!(spaced(&none, "89.160.20.112"), "-");
    }

    /// Real clients from `corpus/access/elastic-examples_apache_logs.log`, looked up once in
    /// the July 2018 GeoLite2-City and pinned (they agree with the shared README's table).
    #[test]
    fn real_2018_city_db() {
        let db = open(None, Some(CITY_2018), None);
        for (addr, cc, city) in [
            ("83.149.9.216", "RU", Some("Moscow")),
            ("66.249.73.135", "US", Some("Mountain View")),
            ("46.105.14.53", "FR", None),
            ("130.237.218.86", "SE", Some("Taby")),
            ("75.97.9.59", "US", Some("Lititz")),
            ("50.16.19.13", "US", Some("Ashburn")),
            ("2001:41d0:8:f69::1", "FR", Some("Paris")),
        ] {
            assert_eq!(
                db.lookup(ip(addr)),
                info(Some(cc), city, None, None),
                "{addr}"
            );
        }
        assert_eq!(spaced(&db, "83.149.9.216"), "RU");
        assert_eq!(db.lookup(ip("10.77.20.248")), GeoInfo::default());
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such.mmdb");
        let err = GeoDb::open(&GeoConfig {
            asn: Some(path.clone()),
            ..GeoConfig::default()
        })
        .unwrap_err();
        assert!(
            matches!(&err, GeoError::Io { kind: DbKind::Asn, path: p, source }
                if *p == path && source.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&*path.to_string_lossy()) && msg.contains("ASN"),
            "{msg}"
        );
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut garbage = vec![0u8; 64 * 1024];
        getrandom::getrandom(&mut garbage).unwrap();
        let real = std::fs::read(COUNTRY).unwrap();
        for (name, bytes) in [
            ("random.mmdb", garbage),
            ("empty.mmdb", Vec::new()),
            ("truncated.mmdb", real[..real.len() / 2].to_vec()),
            ("metadata-only.mmdb", real[real.len() - 300..].to_vec()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = GeoDb::open(&GeoConfig {
                country: Some(path.clone()),
                ..GeoConfig::default()
            })
            .unwrap_err();
            assert!(
                matches!(&err, GeoError::Invalid { kind: DbKind::Country, path: p, .. } if *p == path),
                "{name}: {err:?}"
            );
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
    }

    #[test]
    fn wrong_kind_of_database_is_an_error() {
        for config in [
            GeoConfig {
                country: Some(ASN.into()),
                ..GeoConfig::default()
            },
            GeoConfig {
                asn: Some(CITY.into()),
                ..GeoConfig::default()
            },
        ] {
            let err = GeoDb::open(&config).unwrap_err();
            assert!(matches!(err, GeoError::WrongType { .. }), "{err:?}");
            assert!(err.to_string().contains("maxmind-test"), "{err}");
        }
        // A City database can serve as the country database.
        let db = open(Some(CITY), None, None);
        assert_eq!(
            db.lookup(ip("214.0.0.1")),
            info(Some("SG"), None, None, None)
        );
    }

    /// Replaces `path` atomically, as a database updater does: write a temporary file in the
    /// same directory, then rename it over the old one.
    fn replace(path: &Path, bytes: &[u8]) {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    #[test]
    fn reload_swaps_in_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("country.mmdb");
        std::fs::copy(COUNTRY, &path).unwrap();
        let db = open(Some(path.to_str().unwrap()), None, None);
        let gi = info(Some("GI"), None, None, None);
        let sg = info(Some("SG"), None, None, None);
        assert_eq!(db.lookup(ip("217.65.48.1")), gi);
        assert_eq!(db.lookup(ip("214.0.0.1")), GeoInfo::default());
        assert_eq!(db.reload_if_changed().unwrap(), 0);
        let before = db.snapshot();
        let gen0 = db.generation();

        // The City test DB has 214.0.0.0/24 (SG) and not 217.65.48.0/29 (GI).
        replace(&path, &std::fs::read(CITY).unwrap());
        assert_eq!(db.reload_if_changed().unwrap(), 1);
        assert_eq!(db.lookup(ip("217.65.48.1")), GeoInfo::default());
        assert_eq!(db.lookup(ip("214.0.0.1")), sg);
        assert_ne!(db.generation(), gen0);
        assert_eq!(db.snapshot().generation(), db.generation());
        // A snapshot taken before the reload keeps answering from the old file.
        assert_eq!(before.lookup(ip("217.65.48.1")), gi);
        assert_eq!(db.reload_if_changed().unwrap(), 0);

        // Garbage keeps the old reader and reports the error, once.
        let gen1 = db.generation();
        replace(&path, b"this is not a MaxMind database");
        let err = db.reload_if_changed().unwrap_err();
        assert!(
            matches!(&err, GeoError::Invalid { path: p, .. } if *p == path),
            "{err:?}"
        );
        assert_eq!(db.lookup(ip("214.0.0.1")), sg);
        assert_eq!(db.generation(), gen1);
        assert_eq!(db.reload_if_changed().unwrap(), 0);

        // A deleted file likewise keeps the old reader.
        std::fs::remove_file(&path).unwrap();
        let err = db.reload_if_changed().unwrap_err();
        assert!(matches!(err, GeoError::Io { .. }), "{err:?}");
        assert_eq!(db.lookup(ip("214.0.0.1")), sg);

        // A good file again is picked up.
        replace(&path, &std::fs::read(COUNTRY).unwrap());
        assert_eq!(db.reload_if_changed().unwrap(), 1);
        assert_eq!(db.lookup(ip("217.65.48.1")), gi);
    }

    #[test]
    fn reload_only_touches_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let country = dir.path().join("country.mmdb");
        let asn = dir.path().join("asn.mmdb");
        std::fs::copy(COUNTRY, &country).unwrap();
        std::fs::copy(ASN, &asn).unwrap();
        let db = open(
            Some(country.to_str().unwrap()),
            None,
            Some(asn.to_str().unwrap()),
        );
        assert_eq!(spaced(&db, "89.160.20.112"), "SE AS29518");
        let asn_before = Arc::as_ptr(db.snapshot().0.asn.as_ref().unwrap());
        replace(&country, &std::fs::read(CITY).unwrap());
        assert_eq!(db.reload_if_changed().unwrap(), 1);
        assert_eq!(
            Arc::as_ptr(db.snapshot().0.asn.as_ref().unwrap()),
            asn_before
        );
        assert_eq!(spaced(&db, "214.0.0.1"), "SG AS721");
        assert_eq!(spaced(&db, "89.160.20.112"), "SE AS29518");
    }

    #[test]
    fn lookups_run_while_reloading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("country.mmdb");
        std::fs::copy(COUNTRY, &path).unwrap();
        let db = open(Some(path.to_str().unwrap()), None, None);
        let (country, city) = (
            std::fs::read(COUNTRY).unwrap(),
            std::fs::read(CITY).unwrap(),
        );
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let (db, done) = (&db, &done);
            let reader = s.spawn(move || {
                let mut n = 0;
                while !done.load(Ordering::Relaxed) {
                    // Both files agree on this one.
                    assert_eq!(
                        db.lookup(ip("89.160.20.112")).country.as_deref(),
                        Some("SE")
                    );
                    n += 1;
                }
                n
            });
            for i in 0..20 {
                replace(&path, if i % 2 == 0 { &city } else { &country });
                assert_eq!(db.reload_if_changed().unwrap(), 1);
            }
            done.store(true, Ordering::Relaxed);
            assert!(reader.join().unwrap() > 0);
        });
    }

    #[test]
    fn cache_hits_bounds_and_invalidation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("country.mmdb");
        std::fs::copy(COUNTRY, &path).unwrap();
        let db = open(Some(path.to_str().unwrap()), None, None);
        let mut cache = GeoCache::new(2);
        assert!(cache.is_empty());
        let first = cache.lookup(&db, ip("217.65.48.1")).clone();
        assert_eq!(first, info(Some("GI"), None, None, None));
        assert_eq!(cache.lookup(&db, ip("217.65.48.1")), &first);
        assert_eq!(
            cache.lookup(&db, ip("217.65.48.1")),
            &db.lookup(ip("217.65.48.1"))
        );
        assert_eq!(cache.len(), 1);
        // The mapped form shares the entry.
        assert_eq!(cache.lookup(&db, ip("::ffff:217.65.48.1")), &first);
        assert_eq!(cache.len(), 1);

        // Bounded: never more than `capacity` entries.
        for addr in [
            "81.2.69.142",
            "89.160.20.112",
            "216.160.83.56",
            "10.0.0.1",
            "::1",
        ] {
            let expected = db.lookup(ip(addr));
            assert_eq!(cache.lookup(&db, ip(addr)), &expected, "{addr}");
            assert!(cache.len() <= 2);
        }
        assert_eq!(cache.lookup(&db, ip("::1")), &GeoInfo::default());

        // A reload invalidates it.
        cache.lookup(&db, ip("217.65.48.1"));
        replace(&path, &std::fs::read(CITY).unwrap());
        assert_eq!(db.reload_if_changed().unwrap(), 1);
        assert_eq!(cache.lookup(&db, ip("217.65.48.1")), &GeoInfo::default());
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.lookup(&db, ip("214.0.0.1")),
            &info(Some("SG"), None, None, None)
        );

        let mut out = Vec::new();
        cache.generalise(&db, ip("214.0.0.1"), Style::Token, &mut out);
        assert_eq!(out, b"SG");

        // A cache moved to another database does not serve the first one's answers.
        let other = open(Some(COUNTRY), None, None);
        assert_eq!(cache.lookup(&other, ip("214.0.0.1")), &GeoInfo::default());
    }

    #[test]
    fn rendering() {
        let render = |i: &GeoInfo, style| {
            let mut out = Vec::new();
            i.render(style, &mut out);
            String::from_utf8(out).unwrap()
        };
        let both = info(Some("GB"), Some("London"), Some(2856), Some("BT"));
        assert_eq!(render(&both, Style::Spaced), "GB AS2856");
        assert_eq!(render(&both, Style::Token), "GB-AS2856");
        assert_eq!(
            render(&info(None, None, Some(0), None), Style::Spaced),
            "AS0"
        );
        assert_eq!(
            render(&info(None, None, Some(u32::MAX), None), Style::Token),
            "AS4294967295"
        );
        assert_eq!(
            render(&info(None, Some("London"), None, None), Style::Spaced),
            "-"
        );
        assert_eq!(render(&GeoInfo::default(), Style::Token), "-");
        assert_eq!(iso_code(Some("GB")), Some("GB".to_owned()));
        for bad in ["gb", "GBR", "G", "", "G B", "G\n"] {
            assert_eq!(iso_code(Some(bad)), None, "{bad:?}");
        }
    }
}
