//! The node: wiring of parameters, subscriptions, the keep-latest frame slot,
//! the inference worker thread, publishers and /diagnostics.
//!
//! Threads:
//! - spin thread: `node.spin_once` (r2r delivers messages into streams),
//! - tokio runtime: input stream -> slot, diagnostics timer, parameter services,
//!   signal handling,
//! - worker thread: decode + pipeline + publish. Inference never runs on the
//!   executor; the slot holds at most one pending frame, so when inference is
//!   slower than the camera, the older pending frame is replaced (and counted
//!   as dropped): memory and latency stay bounded.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use futures::StreamExt;
use image::RgbImage;
use r2r::builtin_interfaces::msg::Time;
use r2r::diagnostic_msgs::msg::DiagnosticArray;
use r2r::lowres_fer::msg::FaceEmotionArray;
use r2r::sensor_msgs::msg::{CompressedImage, Image};
use r2r::std_msgs::msg::Header;
use r2r::QosProfile;

use super::convert;
use super::params::{Given, InputQos, NodeParams, Transport};
use super::stats::{LogLimiter, Stats};
use crate::annotate;
use crate::image_io::{compressed_to_rgb, raw_to_rgb};
use crate::pipeline::Pipeline;
use crate::sanitize;

const NODE_NAME: &str = "lowres_fer";

enum Payload {
    Raw(Image),
    Compressed(CompressedImage),
}

struct Frame {
    payload: Payload,
    received: Instant,
}

/// Keep-latest hand-over between the subscription and the worker.
struct Slot {
    frame: Mutex<Option<Frame>>,
    ready: Condvar,
}

struct Shared {
    slot: Slot,
    stats: Mutex<Stats>,
    shutdown: AtomicBool,
}

/// Poisoning only happens if a holder panicked; the data (counters, an
/// optional frame) is still meaningful, so keep going rather than cascade.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `models_dir` empty: the installed share/lowres_fer/models (first match on
/// AMENT_PREFIX_PATH), else ./models for running from the source tree.
fn resolve_models_dir(p: &std::path::Path) -> PathBuf {
    if !p.as_os_str().is_empty() {
        return p.to_path_buf();
    }
    if let Ok(prefixes) = std::env::var("AMENT_PREFIX_PATH") {
        for pre in prefixes.split(':').filter(|s| !s.is_empty()) {
            let cand = PathBuf::from(pre).join("share/lowres_fer/models");
            if cand.join("manifest.json").is_file() {
                return cand;
            }
        }
    }
    PathBuf::from("models")
}

fn qos(p: &NodeParams) -> QosProfile {
    match p.input_qos {
        InputQos::SensorData => QosProfile::sensor_data().keep_last(p.input_depth),
        InputQos::Reliable => QosProfile::default().keep_last(p.input_depth),
    }
}

fn stamp_nanos(t: &Time) -> i128 {
    t.sec as i128 * 1_000_000_000 + t.nanosec as i128
}

/// Run the node until SIGINT/SIGTERM. Errors (bad parameters, models that do
/// not load) are returned so `main` exits non-zero with the message.
pub fn run() -> Result<()> {
    let ctx = super::context::create()?;
    let mut node = r2r::Node::create(ctx, NODE_NAME, "").context("cannot create the ROS node")?;
    let logger = node.logger().to_string();

    // ---- parameters -------------------------------------------------------
    let given: Given = lock(&node.params)
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    for unknown in NodeParams::unknown_names(&given) {
        r2r::log_warn!(
            &logger,
            "ignoring unknown parameter '{}' (typo in a params file?)",
            unknown
        );
    }
    let params = NodeParams::read(&given)?;
    {
        let mut store = lock(&node.params);
        for (name, value, description) in NodeParams::effective(&given) {
            let mut p = r2r::Parameter::new(value);
            p.description = description;
            store.insert(name.to_string(), p);
        }
    }

    // ---- pipeline (fail fast: a node without models is useless) -----------
    let mut cfg = params.pipeline.clone();
    cfg.models_dir = resolve_models_dir(&cfg.models_dir);
    let mut pipeline = Pipeline::new(&cfg).with_context(|| {
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

    // ---- publishers / subscription ----------------------------------------
    let emotions_pub =
        node.create_publisher::<FaceEmotionArray>("emotions", QosProfile::default())?;
    let annotated_pub =
        node.create_publisher::<Image>("image_annotated", QosProfile::default().keep_last(1))?;
    let diag_pub =
        node.create_publisher::<DiagnosticArray>("/diagnostics", QosProfile::default())?;
    let input_topic = match params.transport {
        Transport::Raw => "image",
        Transport::Compressed => "image/compressed",
    };
    let fq_name = node
        .fully_qualified_name()
        .unwrap_or_else(|_| NODE_NAME.into());

    let shared = Arc::new(Shared {
        slot: Slot {
            frame: Mutex::new(None),
            ready: Condvar::new(),
        },
        stats: Mutex::new(Stats::default()),
        shutdown: AtomicBool::new(false),
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;

    // Input stream -> keep-latest slot. Cheap: no decoding here.
    let push = {
        let shared = shared.clone();
        move |payload: Payload| {
            lock(&shared.stats).on_received();
            let frame = Frame {
                payload,
                received: Instant::now(),
            };
            let replaced = lock(&shared.slot.frame).replace(frame).is_some();
            if replaced {
                lock(&shared.stats).on_dropped();
            }
            shared.slot.ready.notify_one();
        }
    };
    match params.transport {
        Transport::Raw => {
            let mut sub = node.subscribe::<Image>(input_topic, qos(&params))?;
            rt.spawn(async move {
                while let Some(msg) = sub.next().await {
                    push(Payload::Raw(msg));
                }
            });
        }
        Transport::Compressed => {
            let mut sub = node.subscribe::<CompressedImage>(input_topic, qos(&params))?;
            rt.spawn(async move {
                while let Some(msg) = sub.next().await {
                    push(Payload::Compressed(msg));
                }
            });
        }
    }

    // Parameter services (ros2 param list/get). Values are read once at
    // start-up; changing them at run time needs a restart, which we say.
    let (param_handler, mut param_events) = node.make_parameter_handler()?;
    rt.spawn(param_handler);
    {
        let logger = logger.clone();
        rt.spawn(async move {
            while let Some((name, _)) = param_events.next().await {
                r2r::log_warn!(
                    &logger,
                    "parameter '{}' changed at run time: restart the node to apply it",
                    name
                );
            }
        });
    }

    // /diagnostics
    let ros_clock = node.get_ros_clock();
    {
        let shared = shared.clone();
        let period = Duration::from_secs_f64(params.diagnostics_period_s);
        let name = format!("{fq_name}: emotion recognition");
        let logger = logger.clone();
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
                    convert::diagnostic_status(&name, &st, &w, input_topic)
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
                    r2r::log_error!(&logger, "cannot publish /diagnostics: {}", e);
                }
            }
        });
    }

    // ---- spin thread --------------------------------------------------------
    let spin = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("ros-spin".into())
            .spawn(move || {
                while !shared.shutdown.load(Ordering::Relaxed) {
                    node.spin_once(Duration::from_millis(20));
                }
            })?
    };

    // ---- worker thread ------------------------------------------------------
    let worker = {
        let shared = shared.clone();
        let logger = logger.clone();
        let publish_annotated = params.publish_annotated;
        let max_pixels = params.max_pixels;
        let throttle = Duration::from_secs_f64(params.log_throttle_s);
        std::thread::Builder::new().name("inference".into()).spawn(move || {
            let mut rgb = RgbImage::new(0, 0);
            let mut annotated = RgbImage::new(0, 0);
            let mut limiter = LogLimiter::new(throttle);
            let mut last_stamp: Option<i128> = None;
            loop {
                let frame = {
                    let mut g = lock(&shared.slot.frame);
                    loop {
                        if shared.shutdown.load(Ordering::Relaxed) {
                            return;
                        }
                        if let Some(f) = g.take() {
                            break f;
                        }
                        g = shared
                            .slot
                            .ready
                            .wait_timeout(g, Duration::from_millis(200))
                            .map(|r| r.0)
                            .unwrap_or_else(|p| p.into_inner().0);
                    }
                };
                let t0 = Instant::now();
                let (header, decoded) = match frame.payload {
                    Payload::Raw(m) => {
                        let r = raw_to_rgb(m.width, m.height, &m.encoding, m.is_bigendian != 0, m.step, &m.data, max_pixels, &mut rgb);
                        (m.header, r)
                    }
                    Payload::Compressed(m) => {
                        let r = compressed_to_rgb(&m.format, &m.data, max_pixels, &mut rgb);
                        (m.header, r)
                    }
                };
                if let Err(e) = decoded {
                    let cause = e.cause();
                    lock(&shared.stats).on_input_error(cause, format!("{cause}: {e}"));
                    if let Some(suppressed) = limiter.allow(cause, Instant::now()) {
                        r2r::log_warn!(
                            &logger,
                            "rejected input image on '{}' (frame_id '{}'): {} [{} similar suppressed]",
                            input_topic,
                            sanitize::wire(&header.frame_id),
                            e,
                            suppressed
                        );
                    }
                    continue;
                }
                let decode_ms = t0.elapsed().as_secs_f64() * 1e3;
                // A stamp going backwards means a bag restarted or the sim reset:
                // tracks from the "future" must not leak into the new sequence.
                let stamp = stamp_nanos(&header.stamp);
                if last_stamp.is_some_and(|l| stamp < l) {
                    r2r::log_info!(&logger, "input time jumped backwards: resetting face tracks");
                    pipeline.reset();
                }
                last_stamp = Some(stamp);

                let out = match pipeline.process(&rgb) {
                    Ok(out) => out,
                    Err(e) => {
                        lock(&shared.stats).on_pipeline_error(format!("pipeline: {e:#}"));
                        if let Some(suppressed) = limiter.allow("pipeline", Instant::now()) {
                            r2r::log_error!(&logger, "pipeline failed on a frame: {:#} [{} similar suppressed]", e, suppressed);
                        }
                        continue;
                    }
                };
                if let Some(e) = &out.classify_error {
                    // Still published: the faces carry STATE_CLASSIFIER_FAILED.
                    lock(&shared.stats).on_pipeline_error(format!("pipeline: {e}"));
                    if let Some(suppressed) = limiter.allow("pipeline", Instant::now()) {
                        r2r::log_error!(&logger, "{} (faces published as STATE_CLASSIFIER_FAILED) [{} similar suppressed]", e, suppressed);
                    }
                }
                let processing_ms = t0.elapsed().as_secs_f64() * 1e3;
                let msg = convert::array_msg(header.clone(), rgb.width(), rgb.height(), processing_ms, &out.faces);
                let mut publish_failed = emotions_pub.publish(&msg).is_err();
                // Render only while someone looks: annotation costs a full-frame copy.
                if publish_annotated && annotated_pub.get_inter_process_subscription_count().unwrap_or(0) > 0 {
                    annotated.clone_from(&rgb);
                    annotate::draw_faces(&mut annotated, &out.faces);
                    let img = Image {
                        header,
                        height: annotated.height(),
                        width: annotated.width(),
                        encoding: "rgb8".into(),
                        is_bigendian: 0,
                        step: annotated.width() * 3,
                        data: annotated.as_raw().clone(),
                    };
                    publish_failed |= annotated_pub.publish(&img).is_err();
                }
                let e2e_ms = frame.received.elapsed().as_secs_f64() * 1e3;
                let mut st = lock(&shared.stats);
                st.on_processed(decode_ms, &out.timings, e2e_ms, out.faces.len());
                if publish_failed {
                    st.publish_errors += 1;
                }
            }
        })?
    };

    r2r::log_info!(
        &logger,
        "lowres_fer_node ready: {} -> emotions, image_annotated, /diagnostics (models: {})",
        input_topic,
        cfg.models_dir.display()
    );

    // ---- wait for SIGINT / SIGTERM (or a dead worker) ------------------------
    let reason = rt.block_on(async {
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
    })?;
    r2r::log_info!(&logger, "shutting down ({})", reason);
    shared.shutdown.store(true, Ordering::Relaxed);
    shared.slot.ready.notify_all();
    let worker_ok = worker.join().is_ok();
    let spin_ok = spin.join().is_ok();
    rt.shutdown_timeout(Duration::from_millis(500));
    if reason.starts_with("a worker") || !worker_ok || !spin_ok {
        return Err(anyhow!("{reason}"));
    }
    Ok(())
}
