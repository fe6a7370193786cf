"""The launch files stay standard and agree with each other, the README and the install.

`launch`/`launch_ros` are not on PyPI, so the Python launch file is imported with those
modules replaced by recorders of what it constructs, and the XML file is read as XML.
Both must declare the arguments the README documents, start the installed executable
of this package, remap the node's input topics and pass the parameter file.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARGS = {"camera_topic", "namespace", "params_file", "use_sim_time", "managed", "fastdds_large_frames"}
# Fast DDS 3 (Kilted) reads the first, Fast DDS 2.x (Humble, Jazzy) the second.
PROFILE_VARS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
# What a user may type for use_sim_time, and the boolean the node must get.
SIM_TIME_SPELLINGS = {"true": True, "True": True, "TRUE": True, "1": True,
                      "false": False, "False": False, "0": False}
SHARE = "/opt/ws/install/lowres_fer/share/lowres_fer"


class Recorder:
    """Stands for any launch class: remembers its positional and keyword arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Recorder):
    def __repr__(self):
        return f"$(var {self.args[0]})"


def flatten(value) -> str:
    """A launch substitution (or list of them) as the XML frontend would spell it."""
    if isinstance(value, list):
        return "".join(flatten(v) for v in value)
    return value if isinstance(value, str) else repr(value)


@pytest.fixture
def py_launch(monkeypatch):
    stubs = {
        "ament_index_python": types.ModuleType("ament_index_python"),
        "ament_index_python.packages": types.ModuleType("ament_index_python.packages"),
        "launch": types.ModuleType("launch"),
        "launch.actions": types.ModuleType("launch.actions"),
        "launch.conditions": types.ModuleType("launch.conditions"),
        "launch.substitutions": types.ModuleType("launch.substitutions"),
        "launch_ros": types.ModuleType("launch_ros"),
        "launch_ros.actions": types.ModuleType("launch_ros.actions"),
    }
    asked = []
    stubs["ament_index_python.packages"].get_package_share_directory = lambda pkg: asked.append(pkg) or SHARE
    stubs["launch"].LaunchDescription = lambda actions: list(actions)
    stubs["launch.actions"].DeclareLaunchArgument = type("DeclareLaunchArgument", (Recorder,), {})
    stubs["launch.actions"].SetEnvironmentVariable = type("SetEnvironmentVariable", (Recorder,), {})
    stubs["launch.conditions"].IfCondition = type("IfCondition", (Recorder,), {})
    stubs["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    stubs["launch.substitutions"].PythonExpression = type("PythonExpression", (Recorder,), {})
    stubs["launch_ros.actions"].Node = type("Node", (Recorder,), {})
    for name, module in stubs.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("lowres_fer_launch", ROOT / "launch/lowres_fer.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    actions = module.generate_launch_description()
    assert asked == ["lowres_fer"], asked
    declared = {a.args[0]: a.kwargs.get("default_value") for a in actions if type(a).__name__ == "DeclareLaunchArgument"}
    nodes = [a for a in actions if type(a).__name__ == "Node"]
    envs = [a for a in actions if type(a).__name__ == "SetEnvironmentVariable"]
    # An environment action only reaches the processes started after it.
    assert all(actions.index(e) < actions.index(n) for e in envs for n in nodes)
    return declared, nodes, envs


def xml_launch():
    root = ET.parse(ROOT / "launch/lowres_fer.launch.xml").getroot()
    declared = {a.get("name"): a.get("default") for a in root.findall("arg")}
    return declared, root.findall("node"), root.findall("set_env")


def installed_executables() -> set[str]:
    """Executables CMakeLists.txt installs into lib/<package> (file(INSTALL .../NAME
    [.../NAME2 ...] DESTINATION .../lib/${PROJECT_NAME}))."""
    text = (ROOT / "CMakeLists.txt").read_text()
    blocks = re.findall(r"file\(INSTALL (.*?)\s+DESTINATION [^\n]*/lib/\$\{PROJECT_NAME\}", text, re.DOTALL)
    found = [name for b in blocks for name in re.findall(r'/(\w+)\\?"', b)]
    assert found, "CMakeLists.txt installs no executable into lib/${PROJECT_NAME}"
    return set(found)


def test_python_launch_file(py_launch):
    declared, nodes, envs = py_launch
    assert set(declared) == ARGS
    assert declared["params_file"] == f"{SHARE}/config/default.yaml"
    assert (ROOT / "config/default.yaml").is_file()
    assert declared["use_sim_time"] == "false"
    (node,) = nodes
    kw = node.kwargs
    assert kw["package"] == "lowres_fer" and kw["executable"] == "lowres_fer_node"
    assert kw["executable"] in installed_executables()
    assert repr(kw["namespace"]) == "$(var namespace)"
    remaps = {src: flatten(dst) for src, dst in kw["remappings"]}
    assert remaps == {"image": "$(var camera_topic)", "image/compressed": "$(var camera_topic)/compressed"}
    params_file, overrides = kw["parameters"]
    assert repr(params_file) == "$(var params_file)"
    assert set(overrides) == {"use_sim_time", "lifecycle.autostart"}
    assert declared["managed"] == "false"
    # The Fast DDS profile is opt-in, set before the node starts, and installed.
    assert declared["fastdds_large_frames"] == "false"
    assert tuple(env.args[0] for env in envs) == PROFILE_VARS
    for env in envs:
        assert env.args[1] == f"{SHARE}/config/fastdds_large_frames.xml"
        assert repr(env.kwargs["condition"].args[0]) == "$(var fastdds_large_frames)"
    assert (ROOT / "config/fastdds_large_frames.xml").is_file()


def test_python_launch_file_reads_every_spelling_of_use_sim_time(py_launch):
    _, (node,), _ = py_launch
    expression = node.kwargs["parameters"][1]["use_sim_time"]
    assert type(expression).__name__ == "PythonExpression"
    for typed, wanted in SIM_TIME_SPELLINGS.items():
        # PythonExpression joins its parts, the argument's text in place of the substitution, and evaluates that.
        text = "".join(typed if isinstance(part, LaunchConfiguration) else part for part in expression.args[0])
        assert eval(text) is wanted, (typed, text)


def test_xml_launch_file_reads_every_spelling_of_use_sim_time():
    (node,) = xml_launch()[1]
    (value,) = [p.get("value") for p in node.findall("param") if p.get("name") == "use_sim_time"]
    m = re.fullmatch(r'\$\(eval "(.*)"\)', value)
    assert m, value
    for typed, wanted in SIM_TIME_SPELLINGS.items():
        text = m.group(1).replace("$(var use_sim_time)", typed)
        assert eval(text) is wanted, (typed, text)


def test_managed_turns_autostart_off_in_both_launch_files(py_launch):
    """managed:=true -> lifecycle.autostart false (a lifecycle client drives the node)."""
    _, (node,), _ = py_launch
    expression = node.kwargs["parameters"][1]["lifecycle.autostart"]
    (value,) = [p.get("value") for p in xml_launch()[1][0].findall("param") if p.get("name") == "lifecycle.autostart"]
    m = re.fullmatch(r'\$\(eval "(.*)"\)', value)
    assert m, value
    for typed, managed in SIM_TIME_SPELLINGS.items():
        text = "".join(typed if isinstance(part, LaunchConfiguration) else part for part in expression.args[0])
        assert eval(text) is (not managed), (typed, text)
        assert eval(m.group(1).replace("$(var managed)", typed)) is (not managed), typed


def test_xml_launch_file_matches_the_python_one(py_launch):
    py_declared, (py_node,), _ = py_launch
    declared, nodes, envs = xml_launch()
    assert set(declared) == set(py_declared)
    assert declared["params_file"] == "$(find-pkg-share lowres_fer)/config/default.yaml"
    for name in ARGS - {"params_file"}:
        assert declared[name] == py_declared[name], name
    (node,) = nodes
    assert node.get("pkg") == py_node.kwargs["package"]
    assert node.get("exec") == py_node.kwargs["executable"]
    assert node.get("name") == py_node.kwargs["name"]
    assert node.get("namespace") == "$(var namespace)"
    remaps = {r.get("from"): r.get("to") for r in node.findall("remap")}
    assert remaps == {src: flatten(dst) for src, dst in py_node.kwargs["remappings"]}
    params = node.findall("param")
    assert {p.get("from") for p in params} - {None} == {"$(var params_file)"}
    assert {p.get("name") for p in params if p.get("name")} == {"use_sim_time", "lifecycle.autostart"}
    assert tuple(env.get("name") for env in envs) == PROFILE_VARS
    for env in envs:
        assert env.get("value") == "$(find-pkg-share lowres_fer)/config/fastdds_large_frames.xml"
        assert env.get("if") == "$(var fastdds_large_frames)"


def test_readme_uses_only_declared_arguments_and_documents_the_input_topics():
    readme = (ROOT / "README.md").read_text()
    lines = [line for line in readme.splitlines() if "ros2 launch lowres_fer" in line]
    assert lines, "README shows no launch command"
    used = {m for line in lines for m in re.findall(r"(\w+):=", line)}
    assert used and used <= ARGS, used - ARGS
    remapped = {r.get("from") for r in xml_launch()[1][0].findall("remap")}
    for topic in remapped:
        assert f"| `{topic}` |" in readme, f"README topic table lacks {topic}"
