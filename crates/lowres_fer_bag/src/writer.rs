//! Writing a rosbag2 directory with MCAP storage: `<dir>/metadata.yaml` plus
//! `<dir>/<name>_0.mcap`, laid out like `ros2 bag record -s mcap`, so
//! `ros2 bag play`, rosbags and Foxglove (the .mcap alone) all open it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use mcap::records::MessageHeader;

use super::msgs::schema_text;

/// QoS rosbag2 (Humble and later) records for a reliable, volatile, keep-last
/// publisher; `ros2 bag play` offers it again. Version-5 metadata stores the
/// profile list as a YAML string.
const OFFERED_QOS: &str = "- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n    sec: 2147483647\n    nsec: 4294967295\n  lifespan:\n    sec: 2147483647\n    nsec: 4294967295\n  liveliness: 1\n  liveliness_lease_duration:\n    sec: 2147483647\n    nsec: 4294967295\n  avoid_ros_namespace_conventions: false";

struct Topic {
    name: String,
    msg_type: String,
    channel: u16,
    count: u64,
    sequence: u32,
}

pub struct BagWriter {
    dir: PathBuf,
    file_name: String,
    mcap: mcap::Writer<BufWriter<File>>,
    topics: Vec<Topic>,
    start: Option<u64>,
    end: u64,
}

impl BagWriter {
    /// Create `dir` (must not exist) with an MCAP file named after `bag_name`
    /// (the final directory name: the bag may be written under a temporary name
    /// and renamed).
    pub fn create(dir: &Path, bag_name: &str) -> Result<Self> {
        std::fs::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let file_name = format!("{bag_name}_0.mcap");
        let path = dir.join(&file_name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        // Uncompressed chunks: every MCAP reader (rosbags without optional
        // zstd/lz4 modules included) can read them, and writing stays cheap.
        let mcap = mcap::WriteOptions::new()
            .profile("ros2")
            .compression(None)
            .create(BufWriter::with_capacity(1 << 20, file))
            .map_err(|e| anyhow!("cannot start MCAP file {}: {e}", path.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            file_name,
            mcap,
            topics: Vec::new(),
            start: None,
            end: 0,
        })
    }

    /// Register a topic of one of the types in [`schema_text`]; returns its handle.
    pub fn add_topic(&mut self, name: &str, msg_type: &str) -> Result<usize> {
        let Some(schema) = schema_text(msg_type) else {
            bail!("no ros2msg schema for {msg_type}");
        };
        let schema_id = self
            .mcap
            .add_schema(msg_type, "ros2msg", schema.as_bytes())
            .map_err(|e| anyhow!("MCAP schema: {e}"))?;
        let mut meta = BTreeMap::new();
        meta.insert("offered_qos_profiles".to_string(), OFFERED_QOS.to_string());
        let channel = self
            .mcap
            .add_channel(schema_id, name, "cdr", &meta)
            .map_err(|e| anyhow!("MCAP channel: {e}"))?;
        self.topics.push(Topic {
            name: name.to_string(),
            msg_type: msg_type.to_string(),
            channel,
            count: 0,
            sequence: 0,
        });
        Ok(self.topics.len() - 1)
    }

    /// Append one serialized message. `time` is both log and publish time, like
    /// a recorder that received it at the original stamp.
    pub fn write(&mut self, topic: usize, time: u64, data: &[u8]) -> Result<()> {
        let t = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| anyhow!("unknown output topic handle {topic}"))?;
        t.count += 1;
        t.sequence = t.sequence.wrapping_add(1);
        let header = MessageHeader {
            channel_id: t.channel,
            sequence: t.sequence,
            log_time: time,
            publish_time: time,
        };
        self.mcap
            .write_to_known_channel(&header, data)
            .map_err(|e| anyhow!("cannot write MCAP message: {e}"))?;
        self.start = Some(self.start.map_or(time, |s| s.min(time)));
        self.end = self.end.max(time);
        Ok(())
    }

    /// Write the MCAP summary and metadata.yaml, flush everything to disk.
    pub fn finish(mut self) -> Result<()> {
        self.mcap
            .finish()
            .map_err(|e| anyhow!("cannot finish MCAP file: {e}"))?;
        let mut inner = self.mcap.into_inner();
        inner.flush()?;
        inner
            .get_ref()
            .sync_all()
            .context("cannot sync the MCAP file")?;
        let start = self.start.unwrap_or(0);
        let duration = self.end.saturating_sub(start);
        let total: u64 = self.topics.iter().map(|t| t.count).sum();
        let topics: Vec<serde_json::Value> = self
            .topics
            .iter()
            .map(|t| {
                serde_json::json!({
                    "topic_metadata": {
                        "name": t.name,
                        "type": t.msg_type,
                        "serialization_format": "cdr",
                        "offered_qos_profiles": OFFERED_QOS,
                    },
                    "message_count": t.count,
                })
            })
            .collect();
        let meta = serde_json::json!({
            "rosbag2_bagfile_information": {
                "version": 5,
                "storage_identifier": "mcap",
                "duration": {"nanoseconds": duration},
                "starting_time": {"nanoseconds_since_epoch": start},
                "message_count": total,
                "topics_with_message_count": topics,
                "compression_format": "",
                "compression_mode": "",
                "relative_file_paths": [self.file_name],
                "files": [{
                    "path": self.file_name,
                    "starting_time": {"nanoseconds_since_epoch": start},
                    "duration": {"nanoseconds": duration},
                    "message_count": total,
                }],
            }
        });
        let yaml = serde_yaml::to_string(&meta)?;
        std::fs::write(self.dir.join("metadata.yaml"), yaml)
            .context("cannot write metadata.yaml")?;
        Ok(())
    }
}
