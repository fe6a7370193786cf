"""Best-effort delivery of VGA rgb8 frames (0.9 MB) between two plain rclpy processes under
several Fast DDS transport configurations (docs/realtime.md, "Best-effort input and large
frames"). Not a CI test: it prints one line per configuration and rate.

    scripts/env.sh python scripts/dds_delivery.py [--seconds 5] [--rates 15,30]

Each case starts a subscriber process, then a publisher process, both with the sensor-data QoS,
in a fresh domain; "profile in pub/sub" loads config/fastdds_large_frames.xml only there.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = str(ROOT / "config" / "fastdds_large_frames.xml")

PUB = """
import sys, time, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
rate, secs = float(sys.argv[1]), float(sys.argv[2])
rclpy.init(); n = rclpy.create_node("dds_delivery_pub")
p = n.create_publisher(Image, "/dds_delivery", qos_profile_sensor_data)
m = Image(); m.height, m.width, m.encoding, m.step = 480, 640, "rgb8", 1920; m.data = bytes(640 * 480 * 3)
t = time.monotonic()
while p.get_subscription_count() == 0 and time.monotonic() - t < 10: time.sleep(0.05)
time.sleep(1.0)
t0 = time.monotonic(); k = 0
while time.monotonic() - t0 < secs:
    p.publish(m); k += 1
    time.sleep(max(0, t0 + k / rate - time.monotonic()))
print(k); time.sleep(1.0)
"""
SUB = """
import sys, time, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
rclpy.init(); n = rclpy.create_node("dds_delivery_sub"); c = [0]
n.create_subscription(Image, "/dds_delivery", lambda m: c.__setitem__(0, c[0] + 1), qos_profile_sensor_data)
t = time.monotonic()
while time.monotonic() - t < float(sys.argv[1]): rclpy.spin_once(n, timeout_sec=0.1)
print(c[0])
"""


def env_with(extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE",
                        "FASTDDS_BUILTIN_TRANSPORTS")}
    return env | extra


def case(rate, seconds, sub_env, pub_env):
    domain = str(random.randint(60, 110))
    with tempfile.TemporaryDirectory() as tmp:
        pub_py, sub_py = Path(tmp) / "pub.py", Path(tmp) / "sub.py"
        pub_py.write_text(PUB)
        sub_py.write_text(SUB)
        common = {"ROS_DOMAIN_ID": domain, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
        sub = subprocess.Popen([sys.executable, str(sub_py), str(seconds + 4)], stdout=subprocess.PIPE,
                               text=True, env=env_with(common | sub_env))
        time.sleep(1.5)
        sent = subprocess.run([sys.executable, str(pub_py), str(rate), str(seconds)], capture_output=True, check=True,
                              text=True, env=env_with(common | pub_env)).stdout.split()[-1]
        received = sub.communicate()[0].split()[-1]
    return int(sent), int(received)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rates", default="15,30")
    a = ap.parse_args()
    prof = {"FASTDDS_DEFAULT_PROFILES_FILE": PROFILE}
    configs = [
        ("Fast DDS built-ins", {}, {}),
        ("FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA", {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"},
         {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}),
        ("FASTDDS_BUILTIN_TRANSPORTS=UDPv4", {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"},
         {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}),
        ("profile in the subscriber only", prof, {}),
        ("profile in the publisher only", {}, prof),
        ("profile in both", prof, prof),
    ]
    for name, sub_env, pub_env in configs:
        for rate in [float(r) for r in a.rates.split(",")]:
            sent, received = case(rate, a.seconds, sub_env, pub_env)
            print(f"{name:<40} {rate:>4.0f} Hz: {received:>4} of {sent:>4} received", flush=True)


if __name__ == "__main__":
    main()
