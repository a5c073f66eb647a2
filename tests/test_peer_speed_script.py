"""benchmarks/peer_speed.py: the timm twin each network is timed against, and the one-line
refusal of an interpreter that is not there (the timm side itself needs timm and torch, which
the suite's environment does not have: benchmarks/RESULTS.md, "Peer table")."""

import os
import runpy
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "peer_speed.py")


def test_each_network_is_timed_against_timms_own_architecture():
    peer_speed = runpy.run_path(SCRIPT)
    names = peer_speed["NETWORKS"].split(",")
    twins = {name: peer_speed["timm_name"](name) for name in names}
    assert twins["efficientnet_b0"] == "efficientnet_b0"  # not the TF port tf_efficientnet_b0
    assert twins["nfnet_f0"] == "dm_nfnet_f0" and twins["mnasnet_a1"] == "semnasnet_100"
    assert len(names) == 9 and twins["resnest50d"] == "resnest50d"


def test_a_missing_timm_interpreter_is_one_line(monkeypatch, tmp_path):
    missing = str(tmp_path / "nothing" / "python")
    monkeypatch.setattr(sys, "argv", [SCRIPT, f"--timm_python={missing}"])
    with pytest.raises(SystemExit) as status:
        runpy.run_path(SCRIPT, run_name="__main__")
    assert status.value.code == f"error: --timm_python={missing!r} is not an executable."
