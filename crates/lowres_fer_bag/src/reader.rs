//! Reading rosbag2 recordings: a bag directory (metadata.yaml + storage files),
//! or a single `.mcap` / `.db3` file.
//!
//! Everything in a bag is untrusted: a truncated recording (robot powered off
//! mid-write), a corrupt file or an unexpected type must end in a clear error,
//! never a panic. Corruption is detected when the bag is opened where the
//! format allows it (MCAP without a summary is scanned once, SQLite runs
//! `PRAGMA quick_check`), so the tool fails before it has processed anything.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use mcap::sans_io::summary_reader::{SummaryReadEvent, SummaryReader};

const MCAP_MAGIC: &[u8] = mcap::MAGIC;
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// The two rosbag2 storage plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Mcap,
    Sqlite3,
}

impl Storage {
    pub fn name(self) -> &'static str {
        match self {
            Storage::Mcap => "mcap",
            Storage::Sqlite3 => "sqlite3",
        }
    }
}

/// One topic of a bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// ROS type, e.g. `sensor_msgs/msg/Image`.
    pub msg_type: String,
    /// Serialization format (`cdr` for every ROS 2 bag we can read).
    pub encoding: String,
    pub count: u64,
}

/// One serialized message of the selected topic.
pub struct BagMessage<'a> {
    /// Receive time recorded by the bag (ns since epoch / sim epoch).
    pub log_time: u64,
    pub data: &'a [u8],
}

/// An opened bag: its storage files (in order) and the topics they hold.
#[derive(Debug)]
pub struct Bag {
    pub storage: Storage,
    pub files: Vec<PathBuf>,
    pub topics: Vec<TopicInfo>,
}

#[derive(serde::Deserialize)]
struct MetadataFile {
    rosbag2_bagfile_information: MetadataInfo,
}

#[derive(serde::Deserialize)]
struct MetadataInfo {
    storage_identifier: String,
    relative_file_paths: Vec<String>,
    #[serde(default)]
    compression_mode: String,
}

fn sniff(path: &Path) -> Result<Storage> {
    let mut head = [0u8; 16];
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let n = read_up_to(&mut f, &mut head)?;
    if head[..n].starts_with(MCAP_MAGIC) {
        return Ok(Storage::Mcap);
    }
    if head[..n] == *SQLITE_MAGIC {
        return Ok(Storage::Sqlite3);
    }
    bail!(
        "{} is neither an MCAP nor an SQLite3 rosbag2 file (unrecognised file header; empty or corrupt?)",
        path.display()
    )
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

impl Bag {
    /// Open a bag directory, an `.mcap` file or a `.db3` file and list its topics.
    pub fn open(path: &Path) -> Result<Self> {
        let (storage, files) = if path.is_dir() {
            Self::resolve_dir(path)?
        } else if path.is_file() {
            (sniff(path)?, vec![path.to_path_buf()])
        } else {
            bail!("bag {} does not exist", path.display());
        };
        for f in &files {
            let found = sniff(f)?;
            if found != storage {
                bail!(
                    "{} is {} but the bag says its storage is {}",
                    f.display(),
                    found.name(),
                    storage.name()
                );
            }
        }
        let mut topics: Vec<TopicInfo> = Vec::new();
        for f in &files {
            let found = match storage {
                Storage::Mcap => mcap_topics(f),
                Storage::Sqlite3 => sqlite_topics(f),
            }
            .with_context(|| format!("corrupt or truncated bag file {}", f.display()))?;
            for t in found {
                match topics.iter_mut().find(|x| x.name == t.name) {
                    Some(x) if x.msg_type != t.msg_type => bail!(
                        "topic {} has two types in the bag: {} and {}",
                        t.name,
                        x.msg_type,
                        t.msg_type
                    ),
                    Some(x) => x.count += t.count,
                    None => topics.push(t),
                }
            }
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            storage,
            files,
            topics,
        })
    }

    fn resolve_dir(dir: &Path) -> Result<(Storage, Vec<PathBuf>)> {
        let meta = dir.join("metadata.yaml");
        if meta.is_file() {
            let text = std::fs::read_to_string(&meta)
                .with_context(|| format!("cannot read {}", meta.display()))?;
            let m: MetadataFile = serde_yaml::from_str(&text)
                .with_context(|| format!("{} is not valid rosbag2 metadata", meta.display()))?;
            let info = m.rosbag2_bagfile_information;
            let storage = match info.storage_identifier.as_str() {
                "mcap" => Storage::Mcap,
                "sqlite3" => Storage::Sqlite3,
                other => bail!(
                    "{}: storage '{}' is not supported (mcap, sqlite3)",
                    meta.display(),
                    other
                ),
            };
            let mode = info.compression_mode.to_ascii_lowercase();
            if !mode.is_empty() && mode != "none" {
                // rosbag2's file/message compression wraps whole files or messages in
                // zstd outside the storage format (MCAP chunk compression is fine).
                bail!(
                    "{}: rosbag2 compression_mode '{}' is not supported; decompress with `ros2 bag decompress` or record with MCAP chunk compression instead",
                    meta.display(),
                    info.compression_mode
                );
            }
            if info.relative_file_paths.is_empty() {
                bail!("{}: the bag lists no storage files", meta.display());
            }
            // Like rosbag2 and rosbags: older bags store paths relative to the parent
            // directory, so only the file name is meaningful.
            let mut files = Vec::new();
            for rel in &info.relative_file_paths {
                let name = Path::new(rel)
                    .file_name()
                    .ok_or_else(|| anyhow!("{}: bad file path '{}'", meta.display(), rel))?;
                let f = dir.join(name);
                if !f.is_file() {
                    bail!(
                        "{}: storage file {} is missing",
                        meta.display(),
                        f.display()
                    );
                }
                files.push(f);
            }
            return Ok((storage, files));
        }
        // A directory without metadata.yaml (e.g. a recording that was killed
        // before rosbag2 wrote it): take its storage files in name order.
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("mcap" | "db3")))
            .collect();
        files.sort();
        let Some(first) = files.first() else {
            bail!(
                "{} has neither metadata.yaml nor .mcap/.db3 files: not a rosbag2 directory",
                dir.display()
            );
        };
        let storage = sniff(first)?;
        Ok((storage, files))
    }

    pub fn topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// "name (type, N msgs)" for every topic, for error messages.
    pub fn topic_list(&self) -> String {
        if self.topics.is_empty() {
            return "(the bag has no topics)".into();
        }
        self.topics
            .iter()
            .map(|t| {
                // Names come from the file: escaped, so they cannot forge terminal output.
                format!(
                    "  {} ({}, {} messages)",
                    lowres_fer::sanitize::wire_max(&t.name, 200),
                    lowres_fer::sanitize::wire_max(&t.msg_type, 200),
                    t.count
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Call `f` for every message of `topic`, in recording order, file by file.
    /// `f` may stop early by returning `ControlFlow::Break`.
    pub fn for_each_message(
        &self,
        topic: &str,
        mut f: impl FnMut(BagMessage) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        for file in &self.files {
            let flow = match self.storage {
                Storage::Mcap => mcap_messages(file, topic, &mut f),
                Storage::Sqlite3 => sqlite_messages(file, topic, &mut f),
            }?;
            if flow.is_break() {
                break;
            }
        }
        Ok(())
    }
}

// ---- MCAP ---------------------------------------------------------------------

fn read_mcap_summary<R: Read + Seek>(file: &mut R) -> Result<Option<mcap::Summary>> {
    let mut reader = SummaryReader::new();
    while let Some(event) = reader.next_event() {
        match event? {
            SummaryReadEvent::ReadRequest(need) => {
                let n = file.read(reader.insert(need))?;
                reader.notify_read(n);
            }
            SummaryReadEvent::SeekRequest(to) => {
                let pos = file.seek(to)?;
                reader.notify_seeked(pos);
            }
        }
    }
    Ok(reader.finish())
}

/// Largest MCAP record (or chunk, compressed or decompressed) the reader
/// accepts whatever the file size: one 8K rgb8 frame is 100 MB.
pub const MCAP_RECORD_LIMIT: usize = 1 << 30;

/// The record length limit for a file of `file_len` bytes. The reader
/// allocates a record's claimed length before reading it, so a corrupt length
/// field in a 5 KB file used to cost up to the global limit (found by the
/// fuzz smoke). No record can be longer than the file; a compressed chunk can
/// decompress to more, hence the factor and the floor.
pub fn mcap_record_limit(file_len: u64) -> usize {
    let by_size = file_len.saturating_mul(16).max(16 << 20);
    by_size.min(MCAP_RECORD_LIMIT as u64) as usize
}

/// Reader options: every chunk's CRC is checked before any of its messages is
/// handed out (a flipped bit in a CRC-protected chunk is an error, not a frame),
/// the data section CRC at the end of the file, record lengths bounded.
fn mcap_options(file_len: u64) -> mcap::sans_io::linear_reader::LinearReaderOptions {
    mcap::sans_io::linear_reader::LinearReaderOptions::default()
        .with_prevalidate_chunk_crcs(true)
        .with_validate_data_section_crc(true)
        .with_record_length_limit(mcap_record_limit(file_len))
}

thread_local! {
    static IN_MCAP_CRATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while this thread runs mcap-crate code under [`guarded`], where a
/// panic becomes a "corrupt file" error. Panic hooks use it to stay quiet (the
/// bag tool) or to not count it as a crash (the libFuzzer targets).
pub fn mcap_panic_is_handled() -> bool {
    IN_MCAP_CRATE.with(|c| c.get())
}

/// Run mcap-crate code with its panics caught. mcap 0.26 panics on some
/// corrupt files, found by fuzzing: an unchecked subtraction in
/// sans_io/linear_reader.rs when a record inside an uncompressed chunk claims
/// more bytes than the chunk has left (debug builds), and a slice index in
/// read.rs (`parse_record`) when an attachment record is shorter than its
/// header (release builds too: the bag tool crashed with exit 101).
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T> {
    IN_MCAP_CRATE.with(|c| c.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_MCAP_CRATE.with(|c| c.set(false));
    r.map_err(|_| anyhow!("the MCAP reader failed on inconsistent record lengths"))
}

/// The messages of an MCAP stream of `file_len` bytes, read with
/// [`mcap_options`], each step [`guarded`]: a panic ends the iteration as an error.
struct McapMessages<R: Read> {
    inner: mcap::io::MessageReader<R>,
    done: bool,
}

fn mcap_reader<R: Read>(source: R, file_len: u64) -> McapMessages<R> {
    McapMessages {
        inner: mcap::io::MessageReader::new_with_options(source, mcap_options(file_len)),
        done: false,
    }
}

impl<R: Read> Iterator for McapMessages<R> {
    type Item = Result<mcap::Message<'static>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let inner = &mut self.inner;
        match guarded(|| inner.next()) {
            Ok(Some(Ok(m))) => Some(Ok(m)),
            Ok(Some(Err(e))) => {
                self.done = true;
                Some(Err(anyhow!("{e}")))
            }
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn channel_info(ch: &mcap::Channel) -> (String, String, String) {
    let ty = ch
        .schema
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    (ch.topic.clone(), ty, ch.message_encoding.clone())
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn mcap_topics(path: &Path) -> Result<Vec<TopicInfo>> {
    let mut file = File::open(path)?;
    // Fast path: the summary section at the end of a complete file.
    let summary = guarded(|| read_mcap_summary(&mut file).ok().flatten())?;
    mcap_topics_from(
        summary,
        BufReader::with_capacity(1 << 20, File::open(path)?),
        file_len(path),
    )
}

/// Topics from the summary when it has statistics, else by scanning `scan`.
fn mcap_topics_from<R: Read>(
    summary: Option<mcap::Summary>,
    scan: R,
    len: u64,
) -> Result<Vec<TopicInfo>> {
    let mut by_topic: BTreeMap<String, TopicInfo> = BTreeMap::new();
    let mut add = |(name, msg_type, encoding): (String, String, String), n: u64| {
        by_topic
            .entry(name.clone())
            .or_insert(TopicInfo {
                name,
                msg_type,
                encoding,
                count: 0,
            })
            .count += n;
    };
    if let Some(s) = summary.filter(|s| s.stats.is_some()) {
        let counts = s
            .stats
            .as_ref()
            .map(|st| st.channel_message_counts.clone())
            .unwrap_or_default();
        for (id, ch) in &s.channels {
            add(channel_info(ch), counts.get(id).copied().unwrap_or(0));
        }
    } else {
        // No summary (or no statistics): scan the whole file once. A truncated
        // recording fails here, before any frame is processed.
        for msg in mcap_reader(scan, len) {
            let msg = msg?;
            add(channel_info(&msg.channel), 1);
        }
    }
    Ok(by_topic.into_values().collect())
}

fn mcap_messages(
    path: &Path,
    topic: &str,
    f: &mut impl FnMut(BagMessage) -> Result<ControlFlow<()>>,
) -> Result<ControlFlow<()>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file_len(path);
    mcap_messages_from(BufReader::with_capacity(1 << 20, file), len, path, topic, f)
}

fn mcap_messages_from<R: Read>(
    source: R,
    len: u64,
    path: &Path,
    topic: &str,
    f: &mut impl FnMut(BagMessage) -> Result<ControlFlow<()>>,
) -> Result<ControlFlow<()>> {
    for msg in mcap_reader(source, len) {
        let msg =
            msg.map_err(|e| anyhow!("corrupt or truncated MCAP file {}: {e}", path.display()))?;
        if msg.channel.topic != topic {
            continue;
        }
        if f(BagMessage {
            log_time: msg.log_time,
            data: &msg.data,
        })?
        .is_break()
        {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// An in-memory MCAP file through the same code and checks as a file on disk
/// (summary or scan for the topics, then every message of every topic, each
/// handed to `f` with its topic name). For fuzzing and tests.
pub fn read_mcap_bytes(
    data: &[u8],
    mut f: impl FnMut(&str, BagMessage) -> Result<ControlFlow<()>>,
) -> Result<Vec<TopicInfo>> {
    let summary = guarded(|| {
        read_mcap_summary(&mut std::io::Cursor::new(data))
            .ok()
            .flatten()
    })?;
    let len = data.len() as u64;
    let topics = mcap_topics_from(summary, data, len)?;
    for t in &topics {
        let flow = mcap_messages_from(data, len, Path::new("<memory>"), &t.name, &mut |m| {
            f(&t.name, m)
        })?;
        if flow.is_break() {
            break;
        }
    }
    Ok(topics)
}

// ---- SQLite3 ------------------------------------------------------------------

fn open_sqlite(path: &Path) -> Result<rusqlite::Connection> {
    // Read-only: evaluating a bag must never modify it (no journal, no WAL replay).
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open SQLite3 bag {}", path.display()))?;
    Ok(conn)
}

fn sqlite_topics(path: &Path) -> Result<Vec<TopicInfo>> {
    let conn = open_sqlite(path)?;
    // quick_check reads every page: a truncated file or a torn write shows up
    // here instead of halfway through the evaluation.
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| anyhow!("integrity check failed: {e}"))?;
    if check != "ok" {
        bail!("integrity check failed: {check}");
    }
    let mut stmt = conn
        .prepare(
            "SELECT t.name, t.type, t.serialization_format, \
             (SELECT COUNT(*) FROM messages m WHERE m.topic_id = t.id) \
             FROM topics t ORDER BY t.name",
        )
        .map_err(|e| anyhow!("not a rosbag2 SQLite3 database (tables topics/messages): {e}"))?;
    let rows = stmt.query_map([], |r| {
        Ok(TopicInfo {
            name: r.get(0)?,
            msg_type: r.get(1)?,
            encoding: r.get(2)?,
            count: r.get::<_, i64>(3)?.max(0) as u64,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?);
    }
    Ok(out)
}

fn sqlite_messages(
    path: &Path,
    topic: &str,
    f: &mut impl FnMut(BagMessage) -> Result<ControlFlow<()>>,
) -> Result<ControlFlow<()>> {
    let conn = open_sqlite(path)?;
    // rosbag2 orders by timestamp on playback; id breaks ties deterministically.
    let mut stmt = conn.prepare(
        "SELECT m.timestamp, m.data FROM messages m JOIN topics t ON m.topic_id = t.id \
         WHERE t.name = ?1 ORDER BY m.timestamp, m.id",
    )?;
    let mut rows = stmt.query([topic])?;
    while let Some(row) = rows
        .next()
        .with_context(|| format!("corrupt SQLite3 bag {}", path.display()))?
    {
        let ts: i64 = row.get(0)?;
        let data = row.get_ref(1)?.as_blob().map_err(|_| {
            anyhow!(
                "corrupt SQLite3 bag {}: message data is not a blob",
                path.display()
            )
        })?;
        if f(BagMessage {
            log_time: ts.max(0) as u64,
            data,
        })?
        .is_break()
        {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}
