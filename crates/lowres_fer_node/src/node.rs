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
use r2r::{Publisher, QosProfile};

use super::convert;
use super::hri::{self as ros_hri, CameraHri, DropInEvents, DropInShared, NodeOp};
use super::live_params::{self, LiveSettings};
use super::logging as ros_log;
use super::params::{self as ros_params, InputQos, Transport};
use super::stats::{LogLimiter, Stats};
use crate::handoff::{lock, Slot};
use lowres_fer::frame::{self, FrameStep, StepError, StepOutput};
use lowres_fer::hri::{CropClassifier, CropError, CropOutcome};
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
    rt: &tokio::runtime::Runtime,
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
    annotated: Publisher<Image>,
    publish_annotated: bool,
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
    let want_annotated = out.publish_annotated
        && out
            .annotated
            .get_inter_process_subscription_count()
            .unwrap_or(0)
            > 0;
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
    let publish_failed = publish_outputs(&done, out);
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
fn publish_outputs(done: &StepOutput<'_>, out: &mut Outputs) -> bool {
    let mut publish_failed = out.emotions.publish(&convert::array_msg(done.msg)).is_err();
    if let Some(hri) = out.hri.as_mut() {
        publish_failed |= hri.publish(done, &convert::header(&done.msg.header)) > 0;
    }
    if let Some(annotated) = done.annotated {
        let img = Image {
            header: convert::header(&done.msg.header),
            height: annotated.height(),
            width: annotated.width(),
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: annotated.width() * 3,
            data: annotated.as_raw().clone(),
        };
        publish_failed |= out.annotated.publish(&img).is_err();
    }
    publish_failed
}

/// Settings changed by `ros2 param set` (already checked by the table), in
/// force from this frame on.
fn apply_live(step: &mut FrameStep, out: &mut Outputs, s: &Settings) {
    out.publish_annotated = s.publish_annotated;
    if let Err(e) = step.apply_live(&s.pipeline, s.max_pixels) {
        // The table lets only live values through: this is a bug, said loudly.
        ros_log::error(
            &out.logger,
            &format!("cannot apply the changed parameters: {e:#}"),
        );
    }
}

fn spawn_worker(
    mut step: FrameStep,
    mut out: Outputs,
    shared: Arc<Shared>,
    throttle: Duration,
) -> Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || {
            let mut limiter = LogLimiter::new(throttle);
            let mut live_generation = 0;
            while let Some(frame) = shared
                .slot
                .take(&shared.shutdown, Duration::from_millis(200))
            {
                if let Some(s) = shared.live.changed(&mut live_generation) {
                    apply_live(&mut step, &mut out, &s);
                }
                handle_frame(&mut step, frame, &mut out, &shared, &mut limiter);
            }
        })?)
}

/// Block until SIGINT/SIGTERM or a dead thread; returns the reason.
fn wait_for_shutdown(
    rt: &tokio::runtime::Runtime,
    worker: &JoinHandle<()>,
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
                    if worker.is_finished() || spin.is_finished() {
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
) -> Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || {
            let mut batch = BTreeMap::new();
            while !shared.shutdown.load(Ordering::Relaxed) {
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
        })?)
}

/// Camera mode: the input subscription, the frame step and its worker.
fn start_camera(
    node: &mut r2r::Node,
    rt: &tokio::runtime::Runtime,
    params: &Settings,
    shared: Arc<Shared>,
    ops: Sender<NodeOp>,
    logger: &str,
) -> Result<(&'static str, JoinHandle<()>, String)> {
    let (step, models_dir) = start_pipeline(params)?;
    let input_topic = match params.transport {
        Transport::Raw => "image",
        Transport::Compressed => "image/compressed",
    };
    let hri = if params.ros4hri.enabled {
        Some(CameraHri::new(node, ops, params.ros4hri.cropped_size)?)
    } else {
        None
    };
    let outputs = Outputs {
        emotions: node.create_publisher("emotions", QosProfile::default())?,
        annotated: node.create_publisher("image_annotated", QosProfile::default().keep_last(1))?,
        publish_annotated: params.publish_annotated,
        hri,
        input_topic,
        logger: logger.to_string(),
    };
    // Input stream -> keep-latest slot. Cheap: no decoding here.
    let push = {
        let shared = shared.clone();
        move |payload: Payload| {
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
    let worker = spawn_worker(
        step,
        outputs,
        shared,
        Duration::from_secs_f64(params.log_throttle_s),
    )?;
    let outputs = if params.ros4hri.enabled {
        "emotions, image_annotated, /humans/faces/..., /diagnostics"
    } else {
        "emotions, image_annotated, /diagnostics"
    };
    let ready = format!(
        "lowres_fer_node ready: {input_topic} -> {outputs} (models: {})",
        models_dir.display()
    );
    Ok((input_topic, worker, ready))
}

/// Drop-in mode: follow another ROS4HRI detector's faces and classify their crops.
fn start_drop_in(
    node: &mut r2r::Node,
    rt: &tokio::runtime::Runtime,
    params: &Settings,
    shared: Arc<Shared>,
    ops: Sender<NodeOp>,
    logger: &str,
) -> Result<(&'static str, JoinHandle<()>, String)> {
    let mut cfg = params.pipeline.clone();
    cfg.models_dir = resolve_models_dir(&cfg.models_dir);
    let classifier = CropClassifier::new(&cfg, params.max_pixels).with_context(|| {
        format!(
            "cannot start the classifiers (models_dir '{}')",
            cfg.models_dir.display()
        )
    })?;
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
    // The worker waits at most 200 ms for a crop, then sees the shutdown flag.
    let worker = spawn_drop_in_worker(classifier, drop_in, shared, events)?;
    let ready = format!(
        "lowres_fer_node ready (drop-in): {} + /humans/faces/<id>/{{{leaf},roi}} + camera_info -> /humans/faces/<id>/expression, /diagnostics (models: {})",
        ros_hri::TRACKED_TOPIC,
        cfg.models_dir.display()
    );
    Ok((ros_hri::TRACKED_TOPIC, worker, ready))
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

/// Run the node until SIGINT/SIGTERM. Errors (bad parameters, models that do
/// not load) are returned so `main` exits non-zero with the message.
pub fn run() -> Result<()> {
    let ctx = super::context::create()?;
    let mut node = r2r::Node::create(ctx, NODE_NAME, "").context("cannot create the ROS node")?;
    let logger = node.logger().to_string();
    super::logging::install(&logger);
    let params = read_parameters(&node, &logger)?;

    let shared = Arc::new(Shared {
        slot: Slot::default(),
        stats: Mutex::new(Stats::default()),
        shutdown: AtomicBool::new(false),
        live: Arc::new(LiveSettings::new(&params)),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let (ops_tx, ops_rx) = mpsc::channel::<NodeOp>();

    let (input_topic, worker, ready) = match params.source {
        Source::Camera => start_camera(&mut node, &rt, &params, shared.clone(), ops_tx, &logger)?,
        Source::Ros4hriFaces => {
            start_drop_in(&mut node, &rt, &params, shared.clone(), ops_tx, &logger)?
        }
    };

    // Parameter services: live ones reach the worker between frames, the
    // others are refused (crates/lowres_fer_node/src/live_params.rs).
    live_params::serve(&mut node, &rt, params.source, shared.live.clone(), &logger)?;

    spawn_diagnostics(
        &rt,
        &mut node,
        shared.clone(),
        Duration::from_secs_f64(params.diagnostics_period_s),
        input_topic,
        match params.source {
            Source::Camera => &[],
            Source::Ros4hriFaces => &ros_hri::DROP_IN_CAUSES,
        },
        logger.clone(),
    )?;

    let spin = spawn_spin(node, ops_rx, shared.clone())?;

    ros_log::info(&logger, &ready);

    let reason = wait_for_shutdown(&rt, &worker, &spin)?;
    ros_log::info(&logger, &format!("shutting down ({reason})"));
    shared.shutdown.store(true, Ordering::Relaxed);
    shared.slot.wake();
    let worker_ok = worker.join().is_ok();
    let spin_ok = spin.join().is_ok();
    rt.shutdown_timeout(Duration::from_millis(500));
    if reason.starts_with("a worker") || !worker_ok || !spin_ok {
        return Err(anyhow!("{reason}"));
    }
    Ok(())
}
