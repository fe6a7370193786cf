"""The vision_msgs the node is built against (the distribution's on a robot, the
stand-in ros-perception/vision_msgs here) has upstream's definitions (4.x, ROS 2
branch) field for field: `detections` must decode in any vision_msgs consumer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "Detection2DArray": {"header": "std_msgs/Header", "detections": "sequence<vision_msgs/Detection2D>"},
    "Detection2D": {
        "header": "std_msgs/Header",
        "results": "sequence<vision_msgs/ObjectHypothesisWithPose>",
        "bbox": "vision_msgs/BoundingBox2D",
        "id": "string",
    },
    "BoundingBox2D": {"center": "vision_msgs/Pose2D", "size_x": "double", "size_y": "double"},
    "Pose2D": {"position": "vision_msgs/Point2D", "theta": "double"},
    "Point2D": {"x": "double", "y": "double"},
    "ObjectHypothesisWithPose": {"hypothesis": "vision_msgs/ObjectHypothesis", "pose": "geometry_msgs/PoseWithCovariance"},
    "ObjectHypothesis": {"class_id": "string", "score": "double"},
    "LabelInfo": {"header": "std_msgs/Header", "class_map": "sequence<vision_msgs/VisionClass>", "threshold": "float"},
    "VisionClass": {"class_id": "uint16", "class_name": "string"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_message_fields_match_upstream(name):
    import vision_msgs.msg

    assert getattr(vision_msgs.msg, name).get_fields_and_field_types() == EXPECTED[name]


def test_vision_msgs_is_on_the_ament_index_once_first_wins():
    """As for hri_msgs: the stand-in is never installed next to a real vision_msgs."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    found = [p for p in prefixes if (Path(p) / "share/ament_index/resource_index/packages/vision_msgs").exists()]
    assert found, "no vision_msgs on AMENT_PREFIX_PATH: run scripts/setup.sh, then the tests through scripts/env.sh"
    standin = [p for p in found if Path(p).name == "vision_msgs" and Path(p).parent == ROOT / "install"]
    assert not standin or len(found) == 1, f"the stand-in is installed although another vision_msgs exists: {found}"
