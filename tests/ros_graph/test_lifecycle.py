"""The node as a ROS 2 managed (lifecycle) node, driven by an rclpy client of the
standard lifecycle_msgs services, as `ros2 lifecycle set` or a launch file's
lifecycle manager would drive it."""

import time

import numpy as np
from conftest import NodeProcess, Peer, image_msg
from lifecycle_msgs.msg import State, Transition, TransitionEvent
from lifecycle_msgs.srv import (
    ChangeState,
    GetAvailableStates,
    GetAvailableTransitions,
    GetState,
)
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

NODE = "lowres_fer"

class LifecycleClient:
    """The lifecycle services of `<ns>/lowres_fer`, on the peer's node."""

    def __init__(self, peer, ns):
        base = f"{ns}/{NODE}"
        n = peer.node
        self.change = n.create_client(ChangeState, f"{base}/change_state")
        self.get = n.create_client(GetState, f"{base}/get_state")
        self.states = n.create_client(GetAvailableStates, f"{base}/get_available_states")
        self.transitions = n.create_client(GetAvailableTransitions, f"{base}/get_available_transitions")
        self.graph = n.create_client(GetAvailableTransitions, f"{base}/get_transition_graph")
        self.events = []
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        n.create_subscription(TransitionEvent, f"{base}/transition_event", self.events.append, qos)
        for c in (self.change, self.get, self.states, self.transitions, self.graph):
            assert c.wait_for_service(timeout_sec=30.0), f"{c.srv_name} not offered"

    @staticmethod
    def call(client, req, timeout=60.0):
        fut = client.call_async(req)
        deadline = time.monotonic() + timeout
        while not fut.done():
            assert time.monotonic() < deadline, f"{client.srv_name}: no answer within {timeout}s"
            time.sleep(0.02)
        return fut.result()

    def state(self):
        s = self.call(self.get, GetState.Request()).current_state
        return s.id, s.label

    def set(self, label="", tid=0):
        req = ChangeState.Request()
        req.transition = Transition(id=tid, label=label)
        return self.call(self.change, req).success

def no_emotions_for(peer, stamp, seconds=2.0):
    """Publish a frame with `stamp` for `seconds`; true when none was answered."""
    msg = image_msg(np.zeros((32, 32, 3), np.uint8), stamp=stamp)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peer.publish(msg)
        time.sleep(0.2)
    time.sleep(0.5)
    with peer.lock:
        return all((m.header.stamp.sec, m.header.stamp.nanosec) != stamp for m in peer.emotions)

def answered(peer, stamp):
    peer.publish_until_answered(image_msg(np.zeros((32, 32, 3), np.uint8), stamp=stamp), timeout=30.0, every=0.5)

def test_autostart_serves_the_lifecycle_services_and_is_active(graph):
    _proc, peer = graph()
    ns = peer.node.get_namespace()
    lc = LifecycleClient(peer, ns)
    assert lc.state() == (State.PRIMARY_STATE_ACTIVE, "active")
    avail = lc.call(lc.transitions, GetAvailableTransitions.Request()).available_transitions
    assert sorted((t.transition.id, t.transition.label) for t in avail) == [
        (Transition.TRANSITION_DEACTIVATE, "deactivate"),
        (Transition.TRANSITION_ACTIVE_SHUTDOWN, "shutdown"),
    ]
    states = lc.call(lc.states, GetAvailableStates.Request()).available_states
    assert {s.label for s in states} >= {"unconfigured", "inactive", "active", "finalized", "errorprocessing"}
    edges = lc.call(lc.graph, GetAvailableTransitions.Request()).available_transitions
    assert len(edges) == 25
    assert any(
        e.transition.label == "transition_error" and e.start_state.label == "configuring"
        and e.goal_state.label == "errorprocessing"
        for e in edges
    )

def test_managed_node_goes_through_every_transition(ros, tmp_path):
    ns = f"/lc{int(time.monotonic() * 1000) % 100000}"
    proc = NodeProcess(ns, tmp_path, params=["lifecycle.autostart:=false"])
    peer = Peer(ns)
    try:
        lc = LifecycleClient(peer, ns)
        assert lc.state() == (State.PRIMARY_STATE_UNCONFIGURED, "unconfigured")

        # Invalid transitions: refused, state unchanged.
        assert lc.set("activate") is False
        assert lc.set(tid=Transition.TRANSITION_CLEANUP) is False
        assert lc.state()[1] == "unconfigured"

        assert lc.set("configure") is True
        assert lc.state()[1] == "inactive"
        assert no_emotions_for(peer, (5, 0), seconds=1.0)

        assert lc.set(tid=Transition.TRANSITION_ACTIVATE) is True
        assert lc.state()[1] == "active"
        answered(peer, (6, 0))

        assert lc.set("deactivate") is True
        assert lc.state()[1] == "inactive"
        assert no_emotions_for(peer, (7, 0)), "emotions published while inactive"

        assert lc.set("activate") is True
        answered(peer, (8, 0))

        assert lc.set("deactivate") is True
        assert lc.set("cleanup") is True
        assert lc.state()[1] == "unconfigured"
        # Configure again after cleanup (models reloaded), then shut down from inactive.
        assert lc.set("configure") is True
        assert lc.set("shutdown") is True
        proc.proc.wait(timeout=20)
        assert proc.proc.returncode == 0, proc.output()

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(e.goal_state.label == "finalized" for e in lc.events):
            time.sleep(0.05)
        seen = [(e.start_state.label, e.goal_state.label) for e in lc.events]
        for edge in [
            ("unconfigured", "configuring"),
            ("configuring", "inactive"),
            ("inactive", "activating"),
            ("activating", "active"),
            ("active", "deactivating"),
            ("deactivating", "inactive"),
            ("inactive", "cleaningup"),
            ("cleaningup", "unconfigured"),
            ("inactive", "shuttingdown"),
            ("shuttingdown", "finalized"),
        ]:
            assert edge in seen, f"no transition_event {edge}: {seen}"
        first = lc.events[0]
        assert (first.transition.id, first.transition.label) == (Transition.TRANSITION_CONFIGURE, "configure")
    finally:
        peer.close()
        proc.stop()

def test_configure_failure_returns_to_unconfigured(ros, tmp_path):
    ns = f"/lcf{int(time.monotonic() * 1000) % 100000}"
    proc = NodeProcess(ns, tmp_path, params=["lifecycle.autostart:=false", f"models_dir:={tmp_path}/none"])
    peer = Peer(ns)
    try:
        lc = LifecycleClient(peer, ns)
        assert lc.set("configure") is False
        assert lc.state()[1] == "unconfigured"
        assert proc.alive()
        assert "configure failed" in proc.output()
    finally:
        peer.close()
        assert proc.stop() == 0, proc.output()
