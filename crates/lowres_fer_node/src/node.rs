//! The node: wiring of parameters, subscriptions, the keep-latest frame slot,
//! the inference worker thread, publishers and /diagnostics.
//!
//! Threads:
//! - spin thread: `node.spin_once` (r2r delivers messages into streams),
//! - tokio runtime: input stream -> slot, diagnostics timer, parameter services,
//!   signal handling,
//! - worker thread: [`FrameStep`] (decode, stamp-reset policy, pipeline,
//!   message values) + publish. Inference never runs on the
//!   executor; the slot holds at most one pending frame, so when inference is
//!   slower than the camera, the older pending frame is replaced (and counted
//!   as dropped): memory and latency stay bounded.
//!
//! The spin thread owns the node and also runs the [`NodeOp`]s other threads
//! send it: the per-face ROS4HRI publishers/subscriptions that appear and
//! disappear with the faces (crates/lowres_fer_node/src/hri.rs).
//!
//! `input.source: ros4hri_faces` (the drop-in mode) replaces the camera input
//! and the frame step by the crops of another ROS4HRI face detector and a
//! [`CropClassifier`] worker; parameters, diagnostics and shutdown are shared.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use futures::StreamExt;
use r2r::diagnostic_msgs::msg::DiagnosticArray;
use r2r::lowres_fer::msg::FaceEmotionArray;
use r2r::sensor_msgs::msg::{CompressedImage, Image};
use r2r::std_msgs::msg::Header;
use r2r::vision_msgs::msg::{Detection2DArray, LabelInfo};
use r2r::{Publisher, QosProfile};

use super::convert;
use super::hri::{self as ros_hri, CameraHri, DropInEvents, DropInShared, NodeOp};
use super::lifecycle::{Outcome, State};
use super::lifecycle_srv::{self, Callbacks, Command, Machine};
use super::live_params::{self, LiveSettings};
use super::logging as ros_log;
use super::params::{self as ros_params, InputQos, Transport};
use super::stats::{LogLimiter, Stats};
use crate::handoff::{lock, Slot};
use lowres_fer::frame::{self, FrameStep, StepError, StepOutput};
use lowres_fer::hri::{CropClassifier, CropError, CropOutcome};
use lowres_fer::imaging::io as image_io;
use lowres_fer::pipeline::{Pipeline, StageTimings};
use lowres_fer::sanitize;
use lowres_fer::settings::params::{resolve_models_dir, Settings, Source, NODE_NAME};

enum Payload {
    Raw(Image),
    Compressed(CompressedImage),
}

struct Frame {
    payload: Payload,
    received: Instant,
}

struct Shared {
    slot: Slot<Option<Frame>>,
    stats: Mutex<Stats>,
    shutdown: AtomicBool,
    /// Lifecycle state `active`: input arriving otherwise is dropped, uncounted
    /// (r2r 0.9.7 cannot destroy a subscription, so it stays; see run()).
    active: AtomicBool,
    /// The settings `ros2 param set` changed, for the worker.
    live: Arc<LiveSettings>,
}

fn qos(p: &Settings) -> QosProfile {
    match p.input_qos {
        InputQos::SensorData => QosProfile::sensor_data().keep_last(p.input_depth),
        InputQos::Reliable => QosProfile::default().keep_last(p.input_depth),
    }
}

/// A warning for each `--params-file` that gives this node no parameters
/// (rcl loads an empty or garbage file without complaint).
fn warn_about_empty_params_files(node: &r2r::Node, logger: &str) {
    let fq_name = node
        .fully_qualified_name()
        .unwrap_or_else(|_| format!("/{NODE_NAME}"));
    for file in ros_params::params_file_args(std::env::args_os()) {
        let shown = sanitize::wire_max(&file.to_string_lossy(), 200);
        match ros_params::params_file_count(&file, &fq_name, NODE_NAME) {
            Ok(0) => ros_log::warn(
                logger,
                &format!(
                    "params file '{shown}' gives this node ({fq_name}) no parameters: it is empty, not a `<node>: ros__parameters:` mapping, or only has sections for other nodes"
                ),
            ),
            Ok(_) => {}
            Err(e) => ros_log::warn(
                logger,
                &format!("cannot re-read params file '{shown}' to check it: {e}"),
            ),
        }
    }
}

/// Read and check the parameters r2r loaded (unknown names: a warning), then
/// declare every parameter with its effective value for `ros2 param`.
fn read_parameters(node: &r2r::Node, logger: &str) -> Result<Settings> {
    warn_about_empty_params_files(node, logger);
    let given = ros_params::given(lock(&node.params).iter().map(|(k, v)| (k, &v.value)));
    for unknown in ros_params::unknown_names(&given) {
        ros_log::warn(
            logger,
            &format!(
                "ignoring unknown parameter '{}' (typo in a params file?)",
                sanitize::wire(&unknown)
            ),
        );
    }
    let params = Settings::read(&given)?;
    let mut store = lock(&node.params);
    for (decl, value, description) in ros_params::declarations(&given) {
        let mut p = r2r::Parameter::new(value);
        p.description = description;
        store.insert(decl.name.to_string(), p);
    }
    Ok(params)
}

/// Load the models (fail fast: a node without models is useless); returns the
/// frame step and the models directory in use.
fn start_pipeline(params: &Settings) -> Result<(FrameStep, PathBuf)> {
    let mut cfg = params.pipeline.clone();
    cfg.models_dir = resolve_models_dir(&cfg.models_dir);
    let pipeline = Pipeline::new(&cfg).with_context(|| {
        format!(
            "cannot start the pipeline (models_dir '{}', onnxruntime_library '{}')",
            cfg.models_dir.display(),
            if cfg.onnxruntime_library.as_os_str().is_empty() {
                std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| "$ORT_DYLIB_PATH unset".into())
            } else {
                cfg.onnxruntime_library.display().to_string()
            }
        )
    })?;
    Ok((
        FrameStep::new(pipeline).max_pixels(params.max_pixels),
        cfg.models_dir,
    ))
}

/// Every `period`: one DiagnosticArray, stamped with the node's clock (sim
/// time when use_sim_time is set).
fn spawn_diagnostics(
    rt: &tokio::runtime::Handle,
    node: &mut r2r::Node,
    shared: Arc<Shared>,
    period: Duration,
    input_topic: &'static str,
    extra_causes: &'static [&'static str],
    logger: String,
) -> Result<()> {
    let diag_pub =
        node.create_publisher::<DiagnosticArray>("/diagnostics", QosProfile::default())?;
    let fq_name = node
        .fully_qualified_name()
        .unwrap_or_else(|_| NODE_NAME.into());
    let name = format!("{fq_name}: emotion recognition");
    let ros_clock = node.get_ros_clock();
    rt.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        let mut last = Instant::now();
        loop {
            tick.tick().await;
            let now = Instant::now();
            let status = {
                let mut st = lock(&shared.stats);
                let w = st.take_window(now.duration_since(last));
                convert::diagnostic_status(&name, &st, &w, input_topic, extra_causes)
            };
            last = now;
            let stamp = lock(&ros_clock)
                .get_now()
                .map(|d| r2r::Clock::to_builtin_time(&d))
                .unwrap_or_default();
            let msg = DiagnosticArray {
                header: Header {
                    stamp,
                    frame_id: String::new(),
                },
                status: vec![status],
            };
            if let Err(e) = diag_pub.publish(&msg) {
                ros_log::error(&logger, &format!("cannot publish /diagnostics: {e}"));
            }
        }
    });
    Ok(())
}

/// What the worker publishes to, and how it logs.
struct Outputs {
    emotions: Publisher<FaceEmotionArray>,
    /// The same faces as vision_msgs (`detections`), and its class map
    /// (`detections/label_info`, latched: kept here so it stays published).
    detections: Publisher<Detection2DArray>,
    _label_info: Publisher<LabelInfo>,
    annotated: Publisher<Image>,
    /// `image_annotated/compressed`: the same picture as JPEG, for viewers over
    /// Wi-Fi (a VGA frame is 0.9 MB raw).
    annotated_jpeg: Publisher<CompressedImage>,
    publish_annotated: bool,
    jpeg_quality: u8,
    /// JPEG bytes of the last frame (the allocation is kept).
    jpeg: Vec<u8>,
    /// The REP-155 output (`ros4hri.enabled`).
    hri: Option<CameraHri>,
    input_topic: &'static str,
    logger: String,
}

/// One frame through the step, then published; errors are counted and
/// logged (rate-limited), never fatal.
fn handle_frame(
    step: &mut FrameStep,
    frame: Frame,
    out: &mut Outputs,
    shared: &Shared,
    limiter: &mut LogLimiter,
) {
    // Render only while someone looks: annotation costs a full-frame copy.
    let viewers = annotated_viewers(out);
    let want_annotated = out.publish_annotated && (viewers.0 || viewers.1);
    let (header, result) = run_step(step, &frame.payload, want_annotated);
    let done = match result {
        Ok(done) => done,
        Err(e) => return report_step_error(e, header, out, shared, limiter),
    };
    if done.tracks_reset {
        ros_log::info(
            &out.logger,
            "input time jumped backwards: resetting face tracks",
        );
    }
    if let Some(e) = &done.classify_error {
        // Still published: the faces carry STATE_CLASSIFIER_FAILED.
        lock(&shared.stats).on_pipeline_error(format!("pipeline: {e}"));
        if let Some(suppressed) = limiter.allow("pipeline", Instant::now()) {
            ros_log::error(
                &out.logger,
                &format!(
                    "{e} (faces published as STATE_CLASSIFIER_FAILED) [{suppressed} similar suppressed]"
                ),
            );
        }
    }
    let publish_failed = publish_outputs(&done, out, viewers);
    let e2e_ms = frame.received.elapsed().as_secs_f64() * 1e3;
    let mut st = lock(&shared.stats);
    st.on_processed(
        done.timings.decode_ms,
        &done.timings.stages,
        e2e_ms,
        done.faces.len(),
    );
    if publish_failed {
        st.publish_errors += 1;
    }
}

/// The shared frame step on one received message; its ROS header comes back
/// for the error messages.
fn run_step<'a, 's>(
    step: &'s mut FrameStep,
    payload: &'a Payload,
    want_annotated: bool,
) -> (&'a Header, Result<StepOutput<'s>, StepError>) {
    match payload {
        Payload::Raw(m) => {
            let payload = frame::Payload::Raw {
                width: m.width,
                height: m.height,
                encoding: &m.encoding,
                is_bigendian: m.is_bigendian != 0,
                step: m.step,
                data: &m.data,
            };
            let h = convert::plain_header(m.header.clone());
            (&m.header, step.process(h, payload, want_annotated))
        }
        Payload::Compressed(m) => {
            let payload = frame::Payload::Compressed {
                format: &m.format,
                data: &m.data,
            };
            let h = convert::plain_header(m.header.clone());
            (&m.header, step.process(h, payload, want_annotated))
        }
    }
}

/// A frame the step rejected: counted in /diagnostics, logged (rate-limited).
fn report_step_error(
    e: StepError,
    header: &Header,
    out: &Outputs,
    shared: &Shared,
    limiter: &mut LogLimiter,
) {
    match e {
        StepError::Input(e) => {
            let cause = e.cause();
            lock(&shared.stats).on_input_error(cause, format!("{cause}: {e}"));
            if let Some(suppressed) = limiter.allow(cause, Instant::now()) {
                ros_log::warn(
                    &out.logger,
                    &format!(
                        "rejected input image on '{}' (frame_id '{}'): {e} [{suppressed} similar suppressed]",
                        out.input_topic,
                        sanitize::wire(&header.frame_id),
                    ),
                );
            }
        }
        StepError::Pipeline(e) => {
            lock(&shared.stats).on_pipeline_error(format!("pipeline: {e:#}"));
            if let Some(suppressed) = limiter.allow("pipeline", Instant::now()) {
                ros_log::error(
                    &out.logger,
                    &format!("pipeline failed on a frame: {e:#} [{suppressed} similar suppressed]"),
                );
            }
        }
    }
}

/// Emotions, ROS4HRI and the annotated image of one processed frame; true
/// when any publish failed.
fn publish_outputs(done: &StepOutput<'_>, out: &mut Outputs, viewers: (bool, bool)) -> bool {
    let mut publish_failed = out.emotions.publish(&convert::array_msg(done.msg)).is_err();
    publish_failed |= out
        .detections
        .publish(&convert::detections_msg(done.detections))
        .is_err();
    if let Some(hri) = out.hri.as_mut() {
        publish_failed |= hri.publish(done, &convert::header(&done.msg.header)) > 0;
    }
    if let Some(annotated) = done.annotated {
        let (raw, jpeg) = viewers;
        if raw {
            let img = convert::rgb8_image(convert::header(&done.msg.header), annotated);
            publish_failed |= out.annotated.publish(&img).is_err();
        }
        if jpeg {
            match image_io::encode_jpeg(annotated, out.jpeg_quality, &mut out.jpeg) {
                Ok(()) => {
                    let msg = CompressedImage {
                        header: convert::header(&done.msg.header),
                        format: image_io::RGB8_JPEG_FORMAT.into(),
                        data: out.jpeg.clone(),
                    };
                    publish_failed |= out.annotated_jpeg.publish(&msg).is_err();
                }
                Err(e) => {
                    ros_log::error(
                        &out.logger,
                        &format!("cannot encode image_annotated as JPEG: {e}"),
                    );
                    publish_failed = true;
                }
            }
        }
    }
    publish_failed
}

/// Whether `image_annotated` and `image_annotated/compressed` have subscribers.
fn annotated_viewers(out: &Outputs) -> (bool, bool) {
    let count = |n: r2r::Result<usize>| n.unwrap_or(0) > 0;
    (
        count(out.annotated.get_inter_process_subscription_count()),
        count(out.annotated_jpeg.get_inter_process_subscription_count()),
    )
}

/// Settings changed by `ros2 param set` (already checked by the table), in
/// force from this frame on.
fn apply_live(step: &mut FrameStep, out: &mut Outputs, s: &Settings) {
    out.publish_annotated = s.publish_annotated;
    out.jpeg_quality = s.annotated_jpeg_quality;
    if let Err(e) = step.apply_live(&s.pipeline, s.max_pixels) {
        // The table lets only live values through: this is a bug, said loudly.
        ros_log::error(
            &out.logger,
            &format!("cannot apply the changed parameters: {e:#}"),
        );
    }
}

/// The camera worker, until `stop` (lifecycle deactivate): it then gives the
/// models and publishers back for the next activation.
fn spawn_worker(
    mut step: FrameStep,
    mut out: Outputs,
    shared: Arc<Shared>,
    throttle: Duration,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<(FrameStep, Outputs)>> {
    Ok(std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || {
            let mut limiter = LogLimiter::new(throttle);
            // Every activation applies the settings in force at its first
            // frame: configure read the same values (r2r's parameter store
            // holds every accepted change), so applying them again is harmless.
            let mut live_generation = 0;
            while let Some(frame) = shared.slot.take(&stop, Duration::from_millis(200)) {
                if let Some(s) = shared.live.changed(&mut live_generation) {
                    apply_live(&mut step, &mut out, &s);
                }
                handle_frame(&mut step, frame, &mut out, &shared, &mut limiter);
            }
            (step, out)
        })?)
}

/// Block until SIGINT/SIGTERM, the lifecycle state `finalized` or a dead
/// thread; returns the reason.
fn wait_for_shutdown(
    rt: &tokio::runtime::Runtime,
    lifecycle: &JoinHandle<()>,
    spin: &JoinHandle<()>,
) -> Result<&'static str> {
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| anyhow!("cannot install the SIGTERM handler: {e}"))?;
        let mut watch = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok::<_, anyhow::Error>("SIGINT"),
                _ = term.recv() => return Ok("SIGTERM"),
                _ = watch.tick() => {
                    if lifecycle.is_finished() {
                        return Ok(FINALIZED);
                    }
                    if spin.is_finished() {
                        return Ok("a worker thread ended unexpectedly");
                    }
                }
            }
        }
    })
}

/// Counters and logs of the drop-in mode's tasks (crates/lowres_fer_node/src/hri.rs).
struct DropInStats {
    shared: Arc<Shared>,
    limiter: Mutex<LogLimiter>,
    logger: String,
}

impl DropInEvents for DropInStats {
    fn received(&self) {
        lock(&self.shared.stats).on_received(None);
    }

    fn dropped(&self) {
        lock(&self.shared.stats).on_dropped();
    }

    fn input_error(&self, cause: &'static str, msg: String) {
        if let Some(suppressed) = lock(&self.limiter).allow(cause, Instant::now()) {
            ros_log::warn(
                &self.logger,
                &format!("{msg} [{suppressed} similar suppressed]"),
            );
        }
        lock(&self.shared.stats).on_input_error(cause, msg);
    }

    fn log_info(&self, msg: String) {
        ros_log::info(&self.logger, &msg);
    }
}

/// The drop-in worker: every pending crop through the classifier, its
/// expression published with the crop's header (the source image's stamp).
fn spawn_drop_in_worker(
    mut classifier: CropClassifier,
    drop_in: Arc<DropInShared>,
    shared: Arc<Shared>,
    events: Arc<DropInStats>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<CropClassifier>> {
    Ok(std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || {
            let mut batch = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                drop_in.take_all(Duration::from_millis(200), &mut batch);
                for (id, job) in std::mem::take(&mut batch) {
                    let t0 = Instant::now();
                    let native = drop_in.native_side(&id);
                    let m = &job.image;
                    let outcome = classifier.classify(
                        m.width,
                        m.height,
                        &m.encoding,
                        m.is_bigendian != 0,
                        m.step,
                        &m.data,
                        native,
                    );
                    let mut publish_failed = false;
                    match outcome {
                        Ok(CropOutcome::Classified { probs, .. }) => {
                            publish_failed = drop_in
                                .publish_expression(&id, m.header.clone(), probs)
                                .is_err();
                        }
                        // Below classifier.min_face_px: no expression, as in the camera mode.
                        Ok(CropOutcome::TooSmall { .. }) => {}
                        Err(CropError::Input(e)) => {
                            let cause = e.cause();
                            events.input_error(
                                cause,
                                format!("{cause}: rejected crop of face '{id}': {e}"),
                            );
                            continue;
                        }
                        Err(CropError::Classifier(e)) => {
                            lock(&shared.stats).on_pipeline_error(format!("pipeline: {e:#}"));
                            if let Some(n) = lock(&events.limiter).allow("pipeline", Instant::now())
                            {
                                ros_log::error(
                                    &events.logger,
                                    &format!(
                                        "classifier failed on a crop: {e:#} [{n} similar suppressed]"
                                    ),
                                );
                            }
                            continue;
                        }
                    }
                    let ms = t0.elapsed().as_secs_f64() * 1e3;
                    let stages = StageTimings {
                        classify_ms: ms,
                        total_ms: ms,
                        ..Default::default()
                    };
                    let e2e_ms = job.received.elapsed().as_secs_f64() * 1e3;
                    let mut st = lock(&shared.stats);
                    st.on_processed(0.0, &stages, e2e_ms, 1);
                    if publish_failed {
                        st.publish_errors += 1;
                    }
                }
            }
            classifier
        })?)
}

/// Camera mode, first activation: the publishers and the input subscription
/// (kept for the node's life: see [`Managed`]). Runs on the spin thread.
fn start_camera(
    node: &mut r2r::Node,
    rt: &tokio::runtime::Handle,
    params: &Settings,
    shared: Arc<Shared>,
    ops: Sender<NodeOp>,
    logger: &str,
) -> Result<(&'static str, Outputs)> {
    let input_topic = match params.transport {
        Transport::Raw => "image",
        Transport::Compressed => "image/compressed",
    };
    let hri = if params.ros4hri.enabled {
        Some(CameraHri::new(node, ops, params.ros4hri.cropped_size)?)
    } else {
        None
    };
    // The class map, for late joiners too (LabelInfo is to detections what
    // CameraInfo is to an image, but constant: one latched message).
    let label_info = node.create_publisher(
        "detections/label_info",
        QosProfile::default()
            .reliable()
            .transient_local()
            .keep_last(1),
    )?;
    label_info.publish(&convert::label_info_msg())?;
    let outputs = Outputs {
        emotions: node.create_publisher("emotions", QosProfile::default())?,
        detections: node.create_publisher("detections", QosProfile::default())?,
        _label_info: label_info,
        annotated: node.create_publisher("image_annotated", QosProfile::default().keep_last(1))?,
        annotated_jpeg: node.create_publisher(
            "image_annotated/compressed",
            QosProfile::default().keep_last(1),
        )?,
        publish_annotated: params.publish_annotated,
        jpeg_quality: params.annotated_jpeg_quality,
        jpeg: Vec::new(),
        hri,
        input_topic,
        logger: logger.to_string(),
    };
    // Input stream -> keep-latest slot. Cheap: no decoding here.
    let push = {
        let shared = shared.clone();
        move |payload: Payload| {
            if !shared.active.load(Ordering::Relaxed) {
                return;
            }
            let stamp = match &payload {
                Payload::Raw(m) => &m.header.stamp,
                Payload::Compressed(m) => &m.header.stamp,
            };
            let stamp_ns = stamp.sec as i64 * 1_000_000_000 + stamp.nanosec as i64;
            lock(&shared.stats).on_received(Some(stamp_ns));
            let frame = Frame {
                payload,
                received: Instant::now(),
            };
            if shared.slot.put((), frame) {
                lock(&shared.stats).on_dropped();
            }
        }
    };
    match params.transport {
        Transport::Raw => {
            let mut sub = node.subscribe::<Image>(input_topic, qos(params))?;
            rt.spawn(async move {
                while let Some(msg) = sub.next().await {
                    push(Payload::Raw(msg));
                }
            });
        }
        Transport::Compressed => {
            let mut sub = node.subscribe::<CompressedImage>(input_topic, qos(params))?;
            rt.spawn(async move {
                while let Some(msg) = sub.next().await {
                    push(Payload::Compressed(msg));
                }
            });
        }
    }
    Ok((input_topic, outputs))
}

/// The camera mode's ready line.
fn camera_ready(params: &Settings, input_topic: &str, models_dir: &std::path::Path) -> String {
    let outputs = if params.ros4hri.enabled {
        "emotions, detections{,/label_info}, image_annotated{,/compressed}, /humans/faces/..., /diagnostics"
    } else {
        "emotions, detections{,/label_info}, image_annotated{,/compressed}, /diagnostics"
    };
    format!(
        "lowres_fer_node ready: {input_topic} -> {outputs} (models: {})",
        models_dir.display()
    )
}

/// Drop-in mode, configure: the classifiers.
fn load_drop_in(params: &Settings) -> Result<(CropClassifier, PathBuf)> {
    let mut cfg = params.pipeline.clone();
    cfg.models_dir = resolve_models_dir(&cfg.models_dir);
    let classifier = CropClassifier::new(&cfg, params.max_pixels).with_context(|| {
        format!(
            "cannot start the classifiers (models_dir '{}')",
            cfg.models_dir.display()
        )
    })?;
    Ok((classifier, cfg.models_dir))
}

/// Drop-in mode, first activation: follow another ROS4HRI detector's faces
/// (subscriptions kept for the node's life). Runs on the spin thread.
fn start_drop_in(
    node: &mut r2r::Node,
    rt: &tokio::runtime::Handle,
    params: &Settings,
    shared: Arc<Shared>,
    ops: Sender<NodeOp>,
    logger: &str,
) -> Result<(Arc<DropInShared>, Arc<DropInStats>)> {
    let cfg = &params.pipeline;
    let alpha = cfg.tracking.enabled.then_some(cfg.tracking.smoothing_alpha);
    let drop_in = Arc::new(DropInShared::new(alpha));
    let events = Arc::new(DropInStats {
        shared: shared.clone(),
        limiter: Mutex::new(LogLimiter::new(Duration::from_secs_f64(
            params.log_throttle_s,
        ))),
        logger: logger.to_string(),
    });
    let leaf = params.ros4hri.crop_topic.name();
    ros_hri::spawn_drop_in(
        node,
        rt,
        ops,
        drop_in.clone(),
        events.clone(),
        qos(params),
        leaf,
    )?;
    Ok((drop_in, events))
}

fn drop_in_ready(params: &Settings, models_dir: &std::path::Path) -> String {
    format!(
        "lowres_fer_node ready (drop-in): {} + /humans/faces/<id>/{{{},roi}} + camera_info -> /humans/faces/<id>/expression, /diagnostics (models: {})",
        ros_hri::TRACKED_TOPIC,
        params.ros4hri.crop_topic.name(),
        models_dir.display()
    )
}

/// Run `f` on the spin thread (which owns the node) and wait for its result.
/// Only from threads other than the spin thread.
fn on_spin<T: Send + 'static>(
    ops: &Sender<NodeOp>,
    f: impl FnOnce(&mut r2r::Node) -> T + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::channel();
    ops.send(Box::new(move |node: &mut r2r::Node| {
        let _ = tx.send(f(node));
    }))
    .map_err(|_| anyhow!("the ROS spin thread has ended"))?;
    rx.recv()
        .map_err(|_| anyhow!("the ROS spin thread has ended"))
}

/// What configure loaded (the expensive part).
enum Models {
    // Boxed: the models are large, the enum is moved around.
    Camera(Box<FrameStep>, PathBuf),
    DropIn(Box<CropClassifier>, PathBuf),
}

/// Publishers, subscriptions and their tasks, created at the first activation
/// and kept until the process ends: r2r 0.9.7 has no call to destroy a
/// subscription (dropping its stream removes it only when the next message
/// arrives), so deactivate drops input instead and the worker, the only
/// publisher of results, is stopped. Publishers are kept for the same topics.
enum Wiring {
    Camera {
        /// `None` while the worker holds them (boxed: large).
        outputs: Option<Box<Outputs>>,
        input_topic: &'static str,
    },
    DropIn {
        drop_in: Arc<DropInShared>,
        events: Arc<DropInStats>,
    },
}

enum Running {
    Camera(JoinHandle<(FrameStep, Outputs)>),
    DropIn(JoinHandle<CropClassifier>),
}

/// The node's resources across lifecycle transitions (the callbacks).
struct Managed {
    rt: tokio::runtime::Handle,
    ops: Sender<NodeOp>,
    shared: Arc<Shared>,
    logger: String,
    /// Parameters read at start-up, used by the first configure.
    preread: Option<Settings>,
    settings: Option<Settings>,
    models: Option<Models>,
    /// Source and transport the wiring was made for.
    wiring: Option<(Source, Transport, Wiring)>,
    running: Option<Running>,
    stop: Arc<AtomicBool>,
    /// Why the last transition failed (start-up reports it as the exit error).
    last_error: Option<String>,
}

impl Managed {
    fn fail(&mut self, what: &str, e: anyhow::Error) -> Outcome {
        let msg = format!("{what} failed: {e:#}");
        ros_log::error(&self.logger, &msg);
        self.last_error = Some(msg);
        Outcome::Failure
    }

    fn configure(&mut self) -> Result<()> {
        let params = match self.preread.take() {
            Some(p) => p,
            None => {
                let logger = self.logger.clone();
                on_spin(&self.ops, move |node| read_parameters(node, &logger))??
            }
        };
        if let Some((source, transport, _)) = &self.wiring {
            // The subscriptions of the first activation stay (see Wiring).
            if (*source, *transport) != (params.source, params.transport) {
                return Err(anyhow!(
                    "input.source and input.transport cannot change after the first activation (r2r cannot remove a subscription): restart the node"
                ));
            }
        }
        let models = match params.source {
            Source::Camera => {
                let (step, dir) = start_pipeline(&params)?;
                lock(&self.shared.stats).providers = step.pipeline().providers().to_vec();
                Models::Camera(Box::new(step), dir)
            }
            Source::Ros4hriFaces => {
                let (classifier, dir) = load_drop_in(&params)?;
                lock(&self.shared.stats).providers = classifier.providers().to_vec();
                Models::DropIn(Box::new(classifier), dir)
            }
        };
        self.models = Some(models);
        self.settings = Some(params);
        Ok(())
    }

    /// The first activation's publishers and subscriptions, and /diagnostics.
    fn wire(&mut self, params: &Settings) -> Result<()> {
        if self.wiring.is_some() {
            return Ok(());
        }
        let (rt, shared, ops, logger) = (
            self.rt.clone(),
            self.shared.clone(),
            self.ops.clone(),
            self.logger.clone(),
        );
        let p = params.clone();
        let wiring = on_spin(&self.ops, move |node| -> Result<Wiring> {
            let (wiring, input_topic, causes): (_, _, &'static [&'static str]) = match p.source {
                Source::Camera => {
                    let (input_topic, outputs) =
                        start_camera(node, &rt, &p, shared.clone(), ops, &logger)?;
                    let w = Wiring::Camera {
                        outputs: Some(Box::new(outputs)),
                        input_topic,
                    };
                    (w, input_topic, &[])
                }
                Source::Ros4hriFaces => {
                    let (drop_in, events) =
                        start_drop_in(node, &rt, &p, shared.clone(), ops, &logger)?;
                    let w = Wiring::DropIn { drop_in, events };
                    (w, ros_hri::TRACKED_TOPIC, &ros_hri::DROP_IN_CAUSES)
                }
            };
            spawn_diagnostics(
                &rt,
                node,
                shared,
                Duration::from_secs_f64(p.diagnostics_period_s),
                input_topic,
                causes,
                logger,
            )?;
            Ok(wiring)
        })??;
        self.wiring = Some((params.source, params.transport, wiring));
        Ok(())
    }

    fn activate(&mut self) -> Result<()> {
        let params = self
            .settings
            .clone()
            .ok_or_else(|| anyhow!("not configured"))?;
        self.wire(&params)?;
        let models = self.models.take().ok_or_else(|| anyhow!("no models"))?;
        self.stop = Arc::new(AtomicBool::new(false));
        let (running, ready) = match (models, self.wiring.as_mut().map(|w| &mut w.2)) {
            (
                Models::Camera(step, dir),
                Some(Wiring::Camera {
                    outputs,
                    input_topic,
                }),
            ) => {
                let mut out = outputs.take().ok_or_else(|| anyhow!("publishers in use"))?;
                out.publish_annotated = params.publish_annotated;
                out.jpeg_quality = params.annotated_jpeg_quality;
                let ready = camera_ready(&params, input_topic, &dir);
                let worker = spawn_worker(
                    *step,
                    *out,
                    self.shared.clone(),
                    Duration::from_secs_f64(params.log_throttle_s),
                    self.stop.clone(),
                )?;
                (Running::Camera(worker), ready)
            }
            (Models::DropIn(classifier, dir), Some(Wiring::DropIn { drop_in, events })) => {
                // Crops that came while inactive are stale.
                drop_in.take_all(Duration::ZERO, &mut BTreeMap::new());
                let worker = spawn_drop_in_worker(
                    *classifier,
                    drop_in.clone(),
                    self.shared.clone(),
                    events.clone(),
                    self.stop.clone(),
                )?;
                (Running::DropIn(worker), drop_in_ready(&params, &dir))
            }
            _ => return Err(anyhow!("models and wiring of different input sources")),
        };
        self.running = Some(running);
        self.shared.active.store(true, Ordering::Relaxed);
        ros_log::info(&self.logger, &ready);
        Ok(())
    }

    /// Stop input and the worker; the models and publishers come back.
    fn deactivate(&mut self) -> Result<()> {
        self.shared.active.store(false, Ordering::Relaxed);
        self.stop.store(true, Ordering::Relaxed);
        self.shared.slot.wake();
        // As configure resolved it (for the next ready line).
        let dir = self
            .settings
            .as_ref()
            .map(|p| resolve_models_dir(&p.pipeline.models_dir))
            .unwrap_or_default();
        match self.running.take() {
            Some(Running::Camera(worker)) => {
                let (step, out) = worker
                    .join()
                    .map_err(|_| anyhow!("the inference thread panicked"))?;
                self.models = Some(Models::Camera(Box::new(step), dir));
                if let Some((_, _, Wiring::Camera { outputs, .. })) = self.wiring.as_mut() {
                    *outputs = Some(Box::new(out));
                }
                // A frame that came just before: not processed after deactivate.
                self.shared.slot.with_pending(|p| p.take());
            }
            Some(Running::DropIn(worker)) => {
                let classifier = worker
                    .join()
                    .map_err(|_| anyhow!("the inference thread panicked"))?;
                self.models = Some(Models::DropIn(Box::new(classifier), dir));
            }
            None => {}
        }
        Ok(())
    }

    /// Free the models and parameters (back to unconfigured).
    fn cleanup(&mut self) {
        self.models = None;
        self.settings = None;
        lock(&self.shared.stats).providers.clear();
    }
}

impl Callbacks for Managed {
    fn on_configure(&mut self) -> Outcome {
        match self.configure() {
            Ok(()) => Outcome::Success,
            Err(e) => self.fail("configure", e),
        }
    }

    fn on_activate(&mut self) -> Outcome {
        match self.activate() {
            Ok(()) => Outcome::Success,
            Err(e) => self.fail("activate", e),
        }
    }

    fn on_deactivate(&mut self) -> Outcome {
        match self.deactivate() {
            Ok(()) => Outcome::Success,
            // The worker is gone: nothing to go back to.
            Err(e) => {
                self.fail("deactivate", e);
                Outcome::Error
            }
        }
    }

    fn on_cleanup(&mut self) -> Outcome {
        self.cleanup();
        Outcome::Success
    }

    fn on_shutdown(&mut self) -> Outcome {
        let stopped = self.deactivate();
        self.cleanup();
        match stopped {
            Ok(()) => Outcome::Success,
            Err(e) => self.fail("shutdown", e),
        }
    }

    fn on_error(&mut self) -> Outcome {
        // Free everything; unconfigured is then a clean start again.
        match self.deactivate() {
            Ok(()) => {
                self.cleanup();
                Outcome::Success
            }
            Err(e) => self.fail("error processing", e),
        }
    }
}

/// The spin thread: node events, plus the [`NodeOp`]s of other threads
/// between two spins.
fn spawn_spin(
    mut node: r2r::Node,
    ops: Receiver<NodeOp>,
    shared: Arc<Shared>,
) -> Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("ros-spin".into())
        .spawn(move || {
            while !shared.shutdown.load(Ordering::Relaxed) {
                while let Ok(op) = ops.try_recv() {
                    op(&mut node);
                }
                node.spin_once(Duration::from_millis(20));
            }
        })?)
}

const FINALIZED: &str = "lifecycle state finalized";

/// The lifecycle thread: change_state requests, one at a time, until
/// `finalized`.
fn spawn_lifecycle(
    machine: Machine,
    mut managed: Managed,
    commands: Receiver<Command>,
) -> Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("lifecycle".into())
        .spawn(move || {
            while let Ok(command) = commands.recv() {
                lifecycle_srv::handle(&machine, &mut managed, command);
                if machine.state() == State::Finalized {
                    break;
                }
            }
        })?)
}

/// Run the node until SIGINT/SIGTERM or the lifecycle `shutdown`. Errors
/// (bad parameters, models that do not load with `lifecycle.autostart`) are
/// returned so `main` exits non-zero with the message.
///
/// The node is a managed (lifecycle) node: configure reads the parameters and
/// loads the models, activate wires input and output, deactivate stops them,
/// cleanup frees the models. With `lifecycle.autostart` (the default) it
/// configures and activates itself here. `shutdown` (a client's, or SIGINT /
/// SIGTERM) ends in `finalized`, and the process then exits 0: nothing is
/// left to do for a node that cannot be configured again.
pub fn run() -> Result<()> {
    let ctx = super::context::create()?;
    let mut node = r2r::Node::create(ctx, NODE_NAME, "").context("cannot create the ROS node")?;
    let logger = node.logger().to_string();
    super::logging::install(&logger);
    // Read (and checked) now so a bad parameter fails start-up as before; a
    // managed node waits in unconfigured instead (configure then says why).
    let preread = read_parameters(&node, &logger);
    let autostart = match &preread {
        Ok(p) => p.autostart,
        Err(_) => ros_params::given(lock(&node.params).iter().map(|(k, v)| (k, &v.value)))
            .get("lifecycle.autostart")
            .map(|v| *v != lowres_fer::settings::params::Value::Bool(false))
            .unwrap_or(true),
    };
    let preread = match preread {
        Ok(p) => Some(p),
        Err(e) if autostart => return Err(e),
        Err(e) => {
            ros_log::error(
                &logger,
                &format!("{e:#} (configure will fail until it is fixed)"),
            );
            None
        }
    };

    let shared = Arc::new(Shared {
        slot: Slot::default(),
        stats: Mutex::new(Stats::default()),
        shutdown: AtomicBool::new(false),
        active: AtomicBool::new(false),
        // Without valid start-up parameters (a managed node waiting for a
        // fix), the defaults stand in until configure succeeds.
        live: Arc::new(LiveSettings::new(
            preread.as_ref().unwrap_or(&Settings::defaults()),
        )),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let (ops_tx, ops_rx) = mpsc::channel::<NodeOp>();
    let (commands_tx, commands_rx) = mpsc::channel::<Command>();
    let machine = lifecycle_srv::create(&mut node, &rt, commands_tx.clone(), &logger)?;

    // Parameter services: live ones reach the worker between frames, the
    // others are refused (crates/lowres_fer_node/src/live_params.rs).
    let source = preread.as_ref().map_or(Source::Camera, |p| p.source);
    live_params::serve(&mut node, &rt, source, shared.live.clone(), &logger)?;

    let spin = spawn_spin(node, ops_rx, shared.clone())?;
    let mut managed = Managed {
        rt: rt.handle().clone(),
        ops: ops_tx,
        shared: shared.clone(),
        logger: logger.clone(),
        preread,
        settings: None,
        models: None,
        wiring: None,
        running: None,
        stop: Arc::new(AtomicBool::new(false)),
        last_error: None,
    };
    let stop_spin = |shared: &Shared, spin: JoinHandle<()>, rt: tokio::runtime::Runtime| {
        shared.shutdown.store(true, Ordering::Relaxed);
        let ok = spin.join().is_ok();
        rt.shutdown_timeout(Duration::from_millis(500));
        ok
    };
    if autostart {
        // As before the lifecycle: a node that cannot start exits non-zero.
        for label in ["configure", "activate"] {
            if !machine.trigger(&mut managed, 0, label) {
                let why = managed
                    .last_error
                    .take()
                    .unwrap_or_else(|| format!("lifecycle {label} failed"));
                machine.trigger(&mut managed, 0, "shutdown");
                stop_spin(&shared, spin, rt);
                return Err(anyhow!("{why}"));
            }
        }
    } else {
        ros_log::info(
            &logger,
            "lowres_fer_node unconfigured (lifecycle.autostart false): waiting for a lifecycle client (configure, activate)",
        );
    }
    let lifecycle = spawn_lifecycle(machine, managed, commands_rx)?;

    let reason = wait_for_shutdown(&rt, &lifecycle, &spin)?;
    ros_log::info(&logger, &format!("shutting down ({reason})"));
    // The lifecycle thread runs shutdown (after a transition in progress).
    let _ = commands_tx.send(Command::Internal("shutdown"));
    drop(commands_tx);
    let lifecycle_ok = lifecycle.join().is_ok();
    let spin_ok = stop_spin(&shared, spin, rt);
    if reason.starts_with("a worker") || !lifecycle_ok || !spin_ok {
        return Err(anyhow!("{reason}"));
    }
    Ok(())
}
