"""The vision_msgs the node is built against (the distribution's on a robot, the
stand-in ros-perception/vision_msgs here) has upstream's definitions (4.x, ROS 2
branch) field for field: `detections` must decode in any vision_msgs consumer."""

from __future__ import annotations

import pytest
from conftest import assert_first_wins

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
    assert_first_wins("vision_msgs")
