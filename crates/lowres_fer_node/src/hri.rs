//! ROS4HRI (REP-155) wiring: the camera mode's `/humans/faces/...` output and
//! the drop-in mode's input. Only r2r plumbing; the values (ids, ROIs,
//! expressions, crops, confirmed/ended events) come from [`lowres_fer::hri`].
//!
//! Per-face publishers and subscriptions appear and disappear while the node
//! runs, and r2r creates and destroys them through `&mut Node`, which the spin
//! thread owns. Those changes therefore travel as [`NodeOp`]s to the spin
//! thread, which runs them between two `spin_once` calls: no lock around the
//! node, and the tokio executor never waits for one.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use image::RgbImage;
use r2r::hri_msgs::msg::{
    Expression, FacialLandmarks, IdsList, NormalizedPointOfInterest2D, NormalizedRegionOfInterest2D,
};
use r2r::sensor_msgs::msg::{CameraInfo, Image};
use r2r::std_msgs::msg::Header;
use r2r::{Publisher, QosProfile};

use crate::convert;
use crate::handoff::{lock, Slot};
use lowres_fer::face::{FaceResult, FaceState};
use lowres_fer::frame::StepOutput;
use lowres_fer::hri::{self, Lifecycle, Roi, MAX_FOLLOWED_FACES};

/// A change to the node's publishers/subscriptions, run on the spin thread.
pub type NodeOp = Box<dyn FnOnce(&mut r2r::Node) + Send>;

/// `/humans/faces/<id>/<leaf>`.
pub fn face_topic(id: &str, leaf: &str) -> String {
    format!("/humans/faces/{id}/{leaf}")
}

pub const TRACKED_TOPIC: &str = "/humans/faces/tracked";

fn expression_msg(header: Header, e: &hri::Expression) -> Expression {
    Expression {
        header,
        expression: e.expression.to_string(),
        valence: e.valence,
        arousal: e.arousal,
        confidence: e.confidence,
    }
}

/// The publishers of one face in the camera mode.
struct FacePubs {
    roi: Publisher<NormalizedRegionOfInterest2D>,
    landmarks: Publisher<FacialLandmarks>,
    cropped: Publisher<Image>,
    expression: Publisher<Expression>,
}

fn create_face_pubs(node: &mut r2r::Node, id: String) -> r2r::Result<FacePubs> {
    let qos = QosProfile::default;
    Ok(FacePubs {
        roi: node.create_publisher(&face_topic(&id, "roi"), qos())?,
        landmarks: node.create_publisher(&face_topic(&id, "landmarks"), qos())?,
        // Keep only the newest crops queued: each is up to 128x128x3.
        cropped: node.create_publisher(&face_topic(&id, "cropped"), qos().keep_last(2))?,
        expression: node.create_publisher(&face_topic(&id, "expression"), qos())?,
    })
}

fn destroy_face_pubs(node: &mut r2r::Node, p: FacePubs) {
    node.destroy_publisher(p.roi);
    node.destroy_publisher(p.landmarks);
    node.destroy_publisher(p.cropped);
    node.destroy_publisher(p.expression);
}

/// The camera mode's REP-155 output, driven by the worker after each frame.
pub struct CameraHri {
    ops: Sender<NodeOp>,
    tracked: Publisher<IdsList>,
    lifecycle: Lifecycle<u64>,
    faces: HashMap<u64, FacePubs>,
    /// Live ids without publishers (scratch).
    missing: Vec<u64>,
    cropped_size: u32,
    crop: RgbImage,
}

/// How long the worker waits for the spin thread to create a face's
/// publishers (normally one spin period, 20 ms).
const CREATE_TIMEOUT: Duration = Duration::from_secs(2);

impl CameraHri {
    pub fn new(node: &mut r2r::Node, ops: Sender<NodeOp>, cropped_size: u32) -> r2r::Result<Self> {
        Ok(Self {
            ops,
            tracked: node.create_publisher(TRACKED_TOPIC, QosProfile::default())?,
            lifecycle: Lifecycle::default(),
            faces: HashMap::new(),
            missing: Vec::new(),
            cropped_size,
            crop: RgbImage::new(0, 0),
        })
    }

    /// Publishers of newly confirmed tracks are created, those of ended ones
    /// removed; then `tracked`, and per face seen in this frame `roi`,
    /// `landmarks` (the detector's keypoints), `cropped` (only while subscribed: it costs a crop) and `expression`
    /// (classified faces only). Returns the number of failed publications
    /// (counted in diagnostics; the node keeps going).
    pub fn publish(&mut self, done: &StepOutput<'_>, header: &Header) -> u64 {
        let mut failed = 0u64;
        self.lifecycle.update(done.live_tracks.iter().copied());
        for id in &self.lifecycle.ended {
            if let Some(p) = self.faces.remove(id) {
                // Fire and forget: the spin thread removes them.
                let _ = self
                    .ops
                    .send(Box::new(move |node| destroy_face_pubs(node, p)));
            }
        }
        // Newly confirmed ids, and any whose creation failed before (retried
        // each frame: a face must not stay silent for its whole track).
        self.missing.clear();
        let faces = &self.faces;
        self.missing.extend(
            self.lifecycle
                .live()
                .iter()
                .filter(|t| !faces.contains_key(t)),
        );
        if !self.missing.is_empty() {
            failed += self.create();
        }
        let ids = IdsList {
            header: header.clone(),
            ids: self
                .lifecycle
                .live()
                .iter()
                .map(|&t| hri::face_id(t))
                .collect(),
        };
        failed += self.tracked.publish(&ids).is_err() as u64;
        let (w, h) = done.rgb.dimensions();
        for f in done.faces {
            let Some(p) = self.faces.get(&f.track_id) else {
                continue;
            };
            failed += publish_face(
                p,
                f,
                header,
                w,
                h,
                done.rgb,
                self.cropped_size,
                &mut self.crop,
            );
        }
        failed
    }

    /// Create the publishers of the confirmed ids in one round trip to the spin
    /// thread; returns the number of ids that got none.
    fn create(&mut self) -> u64 {
        let ids: Vec<u64> = self.missing.clone();
        let (tx, rx) = mpsc::channel();
        let op: NodeOp = Box::new(move |node| {
            let made: Vec<(u64, r2r::Result<FacePubs>)> = ids
                .into_iter()
                .map(|t| (t, create_face_pubs(node, hri::face_id(t))))
                .collect();
            // The worker gave up waiting: remove them again, or they would
            // stay registered without anyone publishing.
            if let Err(mpsc::SendError(made)) = tx.send(made) {
                for p in made.into_iter().filter_map(|(_, r)| r.ok()) {
                    destroy_face_pubs(node, p);
                }
            }
        });
        if self.ops.send(op).is_err() {
            return self.missing.len() as u64;
        }
        match rx.recv_timeout(CREATE_TIMEOUT) {
            Ok(made) => {
                let mut failed = 0;
                for (t, r) in made {
                    match r {
                        Ok(p) => {
                            self.faces.insert(t, p);
                        }
                        Err(_) => failed += 1,
                    }
                }
                failed
            }
            Err(_) => self.missing.len() as u64,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn publish_face(
    p: &FacePubs,
    f: &FaceResult,
    header: &Header,
    w: u32,
    h: u32,
    image: &RgbImage,
    cropped_size: u32,
    crop: &mut RgbImage,
) -> u64 {
    let mut failed = 0u64;
    let r = Roi::from_bbox(&f.detection.bbox, w, h, f.detection.score);
    let roi = NormalizedRegionOfInterest2D {
        header: header.clone(),
        xmin: r.xmin,
        ymin: r.ymin,
        xmax: r.xmax,
        ymax: r.ymax,
        c: r.c,
    };
    failed += p.roi.publish(&roi).is_err() as u64;
    let landmarks = FacialLandmarks {
        header: header.clone(),
        landmarks: hri::landmarks(&f.detection, w, h)
            .iter()
            .map(|l| NormalizedPointOfInterest2D {
                x: l.x,
                y: l.y,
                c: l.c,
            })
            .collect(),
        height: h,
        width: w,
    };
    failed += p.landmarks.publish(&landmarks).is_err() as u64;
    if p.cropped
        .get_inter_process_subscription_count()
        .unwrap_or(0)
        > 0
    {
        hri::crop_rgb(image, &f.detection.bbox, cropped_size, crop);
        let img = convert::rgb8_image(header.clone(), crop);
        failed += p.cropped.publish(&img).is_err() as u64;
    }
    // Too small / gated / failed faces publish no expression (REP-155 lets a
    // face have none); the reason is in the `emotions` message's state.
    if f.state == FaceState::Classified {
        let probs = f.smoothed.unwrap_or(f.probs);
        let e = hri::expression(&probs);
        failed += p
            .expression
            .publish(&expression_msg(header.clone(), &e))
            .is_err() as u64;
    }
    failed
}

// ---- drop-in mode ------------------------------------------------------------

/// One crop waiting for the worker.
pub struct CropJob {
    pub image: Image,
    pub received: Instant,
}

/// What one followed face holds: its expression publisher and the tasks that
/// forward its `cropped`/`roi` messages (aborting them drops the
/// subscriptions' streams; r2r then frees the subscriptions).
struct FollowedFace {
    expression: Publisher<Expression>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// State shared by the drop-in mode's tasks and worker.
#[derive(Default)]
pub struct DropInShared {
    /// Newest unprocessed crop per id: a keep-latest slot per face, so memory
    /// is bounded by the number of followed faces.
    pending: Slot<BTreeMap<String, CropJob>>,
    rois: Mutex<HashMap<String, Roi>>,
    /// Source image size from `camera_info` (0 x 0: unknown).
    source_size: Mutex<(u32, u32)>,
    followed: Mutex<Lifecycle<String>>,
    faces: Mutex<HashMap<String, FollowedFace>>,
    smoother: Mutex<Option<hri::Smoother>>,
}

impl DropInShared {
    pub fn new(smoothing_alpha: Option<f32>) -> Self {
        let s = Self::default();
        *lock(&s.smoother) = Some(hri::Smoother::new(smoothing_alpha));
        s
    }

    /// Put a crop; true when it replaced one the worker never took.
    fn put(&self, id: &str, job: CropJob) -> bool {
        self.pending.put(id.to_string(), job)
    }

    /// Every pending crop (waits up to `poll` for one).
    pub fn take_all(&self, poll: Duration, into: &mut BTreeMap<String, CropJob>) {
        self.pending.take_into(poll, into);
    }

    /// The native side of `id`'s face from its last roi and the source size.
    pub fn native_side(&self, id: &str) -> Option<f32> {
        let (w, h) = *lock(&self.source_size);
        lock(&self.rois).get(id).and_then(|r| r.native_side(w, h))
    }

    /// Smooth (per id) and publish the expression of a classified crop; false
    /// when the face ended meanwhile or publishing failed.
    pub fn publish_expression(
        &self,
        id: &str,
        header: Header,
        probs: [f32; lowres_fer::NUM_EMOTIONS],
    ) -> Result<bool, r2r::Error> {
        let probs = match lock(&self.smoother).as_mut() {
            Some(s) => s.update(id, probs),
            None => probs,
        };
        let e = hri::expression(&probs);
        match lock(&self.faces).get(id) {
            Some(f) => f
                .expression
                .publish(&expression_msg(header, &e))
                .map(|()| true),
            None => Ok(false),
        }
    }
}

/// Causes of rejected drop-in input beyond the image ones
/// ([`lowres_fer::imaging::io::ERROR_CAUSES`]): `/diagnostics` reports each as
/// `errors_input_<cause>` in the drop-in mode.
pub const DROP_IN_CAUSES: [&str; 3] = ["bad_face_id", "too_many_faces", "bad_roi"];

/// Counters the drop-in tasks report to diagnostics.
pub trait DropInEvents: Send + Sync + 'static {
    fn received(&self);
    fn dropped(&self);
    /// A bad input (cause, message): counted, logged rate-limited.
    fn input_error(&self, cause: &'static str, msg: String);
    fn log_info(&self, msg: String);
}

/// Subscribe to `/humans/faces/tracked` and `camera_info`; follow each listed
/// face (up to [`MAX_FOLLOWED_FACES`]): its `<crop_leaf>` crops go to the
/// worker through `shared`, its `roi` sets the native size for routing.
#[allow(clippy::too_many_arguments)]
pub fn spawn_drop_in(
    node: &mut r2r::Node,
    rt: &tokio::runtime::Handle,
    ops: Sender<NodeOp>,
    shared: Arc<DropInShared>,
    events: Arc<dyn DropInEvents>,
    qos: QosProfile,
    crop_leaf: &'static str,
) -> r2r::Result<()> {
    let mut tracked = node.subscribe::<IdsList>(TRACKED_TOPIC, qos.clone())?;
    let mut info = node.subscribe::<CameraInfo>("camera_info", qos.clone())?;
    {
        let shared = shared.clone();
        rt.spawn(async move {
            while let Some(m) = info.next().await {
                *lock(&shared.source_size) = (m.width, m.height);
            }
        });
    }
    let handle = rt.clone();
    rt.spawn(async move {
        let mut ids: Vec<String> = Vec::new();
        while let Some(list) = tracked.next().await {
            ids.clear();
            for id in list.ids {
                if !hri::valid_id(&id) {
                    events.input_error(
                        "bad_face_id",
                        format!(
                            "bad_face_id: '{}' on {TRACKED_TOPIC} cannot name a topic",
                            lowres_fer::sanitize::wire_max(&id, 80)
                        ),
                    );
                } else if ids.len() >= MAX_FOLLOWED_FACES {
                    events.input_error(
                        "too_many_faces",
                        format!(
                            "too_many_faces: {TRACKED_TOPIC} lists more than {MAX_FOLLOWED_FACES} faces; the rest are ignored"
                        ),
                    );
                    break;
                } else {
                    ids.push(id);
                }
            }
            let (confirmed, ended) = {
                let mut f = lock(&shared.followed);
                f.update(ids.iter().cloned());
                (f.confirmed.clone(), f.ended.clone())
            };
            for id in ended {
                shared.pending.with_pending(|p| p.remove(&id));
                lock(&shared.rois).remove(&id);
                if let Some(s) = lock(&shared.smoother).as_mut() {
                    s.forget(&id);
                }
                if let Some(face) = lock(&shared.faces).remove(&id) {
                    for t in &face.tasks {
                        t.abort();
                    }
                    let p = face.expression;
                    let _ = ops.send(Box::new(move |node| node.destroy_publisher(p)));
                }
            }
            for id in confirmed {
                let (shared, events, handle, qos) =
                    (shared.clone(), events.clone(), handle.clone(), qos.clone());
                let _ = ops.send(Box::new(move |node| {
                    follow(node, id, shared, events, handle, qos, crop_leaf)
                }));
            }
        }
    });
    Ok(())
}

/// On the spin thread: subscribe to one face's crops and roi, create its
/// expression publisher.
fn follow(
    node: &mut r2r::Node,
    id: String,
    shared: Arc<DropInShared>,
    events: Arc<dyn DropInEvents>,
    handle: tokio::runtime::Handle,
    qos: QosProfile,
    crop_leaf: &'static str,
) {
    // Ended before this ran: nothing to create.
    if !lock(&shared.followed).contains(&id) {
        return;
    }
    let made = (|| -> r2r::Result<_> {
        let crops = node.subscribe::<Image>(&face_topic(&id, crop_leaf), qos.clone())?;
        let rois = node.subscribe::<NormalizedRegionOfInterest2D>(&face_topic(&id, "roi"), qos)?;
        let expression = node.create_publisher::<Expression>(
            &face_topic(&id, "expression"),
            QosProfile::default(),
        )?;
        Ok((crops, rois, expression))
    })();
    let (mut crops, mut rois, expression) = match made {
        Ok(m) => m,
        Err(e) => {
            events.input_error(
                "bad_face_id",
                format!("bad_face_id: cannot follow face '{id}': {e}"),
            );
            return;
        }
    };
    let t_crops = {
        let (shared, events, id) = (shared.clone(), events.clone(), id.clone());
        handle.spawn(async move {
            while let Some(image) = crops.next().await {
                events.received();
                let job = CropJob {
                    image,
                    received: Instant::now(),
                };
                if shared.put(&id, job) {
                    events.dropped();
                }
            }
        })
    };
    let t_rois = {
        let (shared, events, id) = (shared.clone(), events.clone(), id.clone());
        handle.spawn(async move {
            while let Some(m) = rois.next().await {
                let r = Roi {
                    xmin: m.xmin,
                    ymin: m.ymin,
                    xmax: m.xmax,
                    ymax: m.ymax,
                    c: m.c,
                };
                if r.is_valid() {
                    lock(&shared.rois).insert(id.clone(), r);
                } else {
                    events.input_error(
                        "bad_roi",
                        format!("bad_roi: face '{id}' roi is not a normalised region: {r:?}"),
                    );
                }
            }
        })
    };
    events.log_info(format!("following face '{id}'"));
    lock(&shared.faces).insert(
        id,
        FollowedFace {
            expression,
            tasks: vec![t_crops, t_rois],
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_rep_155() {
        assert_eq!(face_topic("f3", "roi"), "/humans/faces/f3/roi");
        assert_eq!(TRACKED_TOPIC, "/humans/faces/tracked");
    }

    #[test]
    fn pending_crops_keep_the_latest_per_face() {
        let s = DropInShared::new(None);
        let job = |sec| CropJob {
            image: Image {
                header: Header {
                    stamp: r2r::builtin_interfaces::msg::Time { sec, nanosec: 0 },
                    frame_id: String::new(),
                },
                ..Default::default()
            },
            received: Instant::now(),
        };
        assert!(!s.put("a", job(1)));
        assert!(
            s.put("a", job(2)),
            "a newer crop of the same face replaces the older"
        );
        assert!(!s.put("b", job(3)));
        let mut got = BTreeMap::new();
        s.take_all(Duration::from_millis(1), &mut got);
        assert_eq!(got.len(), 2);
        assert_eq!(got["a"].image.header.stamp.sec, 2);
        got.clear();
        s.take_all(Duration::from_millis(1), &mut got);
        assert!(got.is_empty());
    }
}
