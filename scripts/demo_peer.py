"""rclpy side of scripts/demo.sh: publish one photo, print the emotions received
and (with --png) save the node's annotated image."""

import argparse
import sys
import time

import numpy as np
import rclpy
from lowres_fer.msg import FaceEmotion, FaceEmotionArray
from PIL import Image as PILImage
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

STATES = {
    FaceEmotion.STATE_CLASSIFIED: "classified",
    FaceEmotion.STATE_TOO_SMALL: "too small",
    FaceEmotion.STATE_LOW_DETECTOR_SCORE: "low score",
}


def node_running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", default="/demo")
    ap.add_argument("--image", required=True)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--node-pid", type=int, default=0, help="give up early if this process ends")
    ap.add_argument("--png", default="", help="save image_annotated for the photo to this PNG")
    a = ap.parse_args()

    rgb = np.asarray(PILImage.open(a.image).convert("RGB"))
    rclpy.init()
    node = rclpy.create_node("lowres_fer_demo_peer", namespace=a.ns)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    received = []
    pub = node.create_publisher(Image, "image", qos)
    node.create_subscription(FaceEmotionArray, "emotions", received.append, qos)
    annotated = []
    if a.png:
        # The node renders image_annotated only while someone subscribes.
        node.create_subscription(Image, "image_annotated", annotated.append, qos)

    msg = Image()
    msg.header.frame_id = "demo_camera"
    msg.height, msg.width = rgb.shape[:2]
    msg.encoding = "rgb8"
    msg.step = rgb.shape[1] * 3
    msg.data = rgb.tobytes()

    deadline = time.monotonic() + a.timeout
    while pub.get_subscription_count() == 0 or node.count_publishers("emotions") == 0:
        rclpy.spin_once(node, timeout_sec=0.1)
        if time.monotonic() > deadline:
            sys.exit("demo: lowres_fer_node did not appear in the graph")
        if a.node_pid and not node_running(a.node_pid):
            sys.exit("demo: lowres_fer_node exited")
    msg.header.stamp = node.get_clock().now().to_msg()
    print(f"demo: publishing {a.image} ({msg.width}x{msg.height}) on {pub.topic_name}")
    # Discovery completes asynchronously on each side and the input is best
    # effort: repeat the same frame (same stamp) until the answer arrives.
    next_pub = 0.0
    # With --png, wait for the annotated frame of this very stamp too.
    def done():
        if not received:
            return False
        return not a.png or any(m.header.stamp == msg.header.stamp for m in annotated)

    while not done():
        if time.monotonic() >= next_pub:
            pub.publish(msg)
            next_pub = time.monotonic() + 1.0
        rclpy.spin_once(node, timeout_sec=0.05)
        if time.monotonic() > deadline:
            sys.exit("demo: no answer on emotions" + (" and image_annotated" if a.png else ""))
        if a.node_pid and not node_running(a.node_pid):
            sys.exit("demo: lowres_fer_node exited")
    out = received[0]
    print(
        f"demo: received {len(out.faces)} faces on {a.ns}/emotions "
        f"(stamp {out.header.stamp.sec}.{out.header.stamp.nanosec:09d}, frame_id '{out.header.frame_id}', "
        f"{out.processing_time_ms:.1f} ms)"
    )
    print(f"{'id':>3} {'box (x,y,w,h)':>24} {'size':>5} {'score':>5}  {'state':<10} {'emotion':<10} {'conf':>5}  route")
    for f in out.faces:
        box = f"{f.x:.0f},{f.y:.0f},{f.width:.0f},{f.height:.0f}"
        print(
            f"{f.face_id:>3} {box:>24} {f.face_size_px:>5.0f} {f.detector_score:>5.2f}  "
            f"{STATES.get(f.state, '?'):<10} {f.top_label or '-':<10} {f.top_confidence:>5.2f}  {f.classifier or '-'}"
        )
    if a.png:
        m = next(m for m in annotated if m.header.stamp == msg.header.stamp)
        if m.encoding != "rgb8" or m.step != m.width * 3:
            sys.exit(f"demo: unexpected image_annotated encoding {m.encoding!r} (step {m.step})")
        img = np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3)
        PILImage.fromarray(img).save(a.png)
        print(f"demo: annotated image ({m.width}x{m.height}) written to {a.png}")
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
