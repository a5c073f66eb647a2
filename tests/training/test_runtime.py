"""runtime.precision 'auto' (docs/distributed.md, "Precision")."""

import logging
import os

import pytest

from official import models
from official.training import runtime

# /proc/cpuinfo excerpts: a Cooper Lake Xeon (AVX512_BF16), a Sapphire Rapids one (AMX-BF16
# and AVX512_BF16), a Skylake one (AVX-512 without bfloat16).
COOPER_LAKE = "flags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 fma\n"
SAPPHIRE_RAPIDS = "flags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
SKYLAKE = "flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl fma\n"


def cpuinfo(tmp_path, flags_line):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nmodel name\t: test\n" + flags_line + "\n")
    return str(path)


@pytest.mark.parametrize(
    "flags_line,expected",
    [
        (COOPER_LAKE, "bfloat16"),
        (SAPPHIRE_RAPIDS, "bfloat16"),
        (SKYLAKE, "float32"),
        ("", "float32"),
    ],
)
def test_auto_on_a_cpu_follows_its_bfloat16_flags(tmp_path, flags_line, expected):
    assert runtime.resolve_precision("auto", "cpu", cpuinfo(tmp_path, flags_line)) == expected


def test_auto_on_accelerators_and_explicit_choices(tmp_path):
    no_bf16 = cpuinfo(tmp_path, SKYLAKE)
    assert runtime.resolve_precision("auto", "tpu", no_bf16) == "bfloat16"
    assert runtime.resolve_precision("auto", "gpu", no_bf16) == "float16"
    assert runtime.resolve_precision("auto", "cpu", str(tmp_path / "missing")) == "float32"
    for choice in ("float32", "bfloat16", "float16"):
        assert runtime.resolve_precision(choice, "cpu", no_bf16) == choice
    with pytest.raises(ValueError, match="runtime.precision='fp8'; use auto, float32, "):
        runtime.resolve_precision("fp8", "cpu")


def test_this_machine():
    """What auto picks here, checked against the flags as the kernel lists them."""
    if not os.path.exists("/proc/cpuinfo"):
        pytest.skip("no /proc/cpuinfo: auto is float32 on this CPU (tested above)")
    with open("/proc/cpuinfo") as f:
        flags = next(line for line in f if line.startswith("flags")).split()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert runtime.resolve_precision("auto", "cpu") == ("bfloat16" if native else "float32")


def test_auto_keeps_float32_for_a_family_whose_bfloat16_training_is_slower(tmp_path, caplog):
    """runtime.CPU_BFLOAT16_LOSES, measured by benchmarks/precision_per_family.py."""
    native = cpuinfo(tmp_path, COOPER_LAKE)
    with caplog.at_level(logging.INFO, logger="official.train"):
        assert runtime.resolve_precision("auto", "cpu", native, family="efficientnet") == "float32"
    assert "float32, as efficientnet trains" in caplog.text
    assert runtime.resolve_precision("auto", "cpu", native, family="resnet") == "bfloat16"
    # Asked for, and on accelerators, the family does not matter.
    assert runtime.resolve_precision("bfloat16", "cpu", native, family="efficientnet") == "bfloat16"
    assert runtime.resolve_precision("auto", "tpu", native, family="efficientnet") == "bfloat16"
    assert set(runtime.CPU_BFLOAT16_LOSES) <= {models.entry(n).family for n in models.list_models()}
