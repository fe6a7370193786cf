"""The hri_msgs the node is built against (the distribution's on a robot, the
stand-in ros4hri/hri_msgs here) has the ROS4HRI definitions field for field:
the names and types are the wire format other ROS4HRI nodes use, so any
difference would break interoperability silently. The expected definitions are
those of the ROS 2 branch of hri_msgs (../shared/notes/ros4hri-facts.md).
"""

from __future__ import annotations

import pytest
from conftest import assert_first_wins

EXPECTED = {
    "IdsList": {"header": "std_msgs/Header", "ids": "sequence<string>"},
    "NormalizedRegionOfInterest2D": {
        "header": "std_msgs/Header",
        "xmin": "float",
        "ymin": "float",
        "xmax": "float",
        "ymax": "float",
        "c": "float",
    },
    "NormalizedPointOfInterest2D": {"x": "float", "y": "float", "c": "float"},
    "FacialLandmarks": {
        "header": "std_msgs/Header",
        "landmarks": "hri_msgs/NormalizedPointOfInterest2D[70]",
        "height": "uint32",
        "width": "uint32",
    },
    "Expression": {
        "header": "std_msgs/Header",
        "expression": "string",
        "valence": "float",
        "arousal": "float",
        "confidence": "float",
    },
}

EXPRESSION_CONSTANTS = [
    "NEUTRAL", "ANGRY", "SAD", "HAPPY", "SURPRISED", "DISGUSTED", "SCARED", "PLEADING", "VULNERABLE",
    "DESPAIRED", "GUILTY", "DISAPPOINTED", "EMBARRASSED", "HORRIFIED", "SKEPTICAL", "ANNOYED", "FURIOUS",
    "SUSPICIOUS", "REJECTED", "BORED", "TIRED", "ASLEEP", "CONFUSED", "AMAZED", "EXCITED",
]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_message_fields_match_ros4hri(name):
    import hri_msgs.msg

    cls = getattr(hri_msgs.msg, name)
    assert cls.get_fields_and_field_types() == EXPECTED[name]


def test_expression_constants_match_ros4hri():
    from hri_msgs.msg import Expression

    for c in EXPRESSION_CONSTANTS:
        assert getattr(Expression, c) == c.lower(), c


def test_hri_msgs_is_on_the_ament_index_once_first_wins():
    assert_first_wins("hri_msgs")
