"""runtime.precision: the Keras mixed-precision policy of a run, and what 'auto' picks.

auto: bfloat16 on TPUs; float16 (with loss scaling) on GPUs; on CPUs bfloat16 where the CPU has
native bfloat16 arithmetic (the AVX512_BF16 or AMX-BF16 flags, read from /proc/cpuinfo: detected,
never assumed), float32 otherwise (docs/distributed.md, "Precision").
"""

from __future__ import annotations

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
CHOICES = ("auto", *POLICIES)
# x86 flags of native bfloat16 arithmetic (Linux /proc/cpuinfo names): AVX512_BF16 (Cooper Lake,
# Zen 4 and later) and AMX-BF16 (Sapphire Rapids and later), which oneDNN uses for TF's kernels.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags, or an empty set where /proc/cpuinfo cannot be read."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


def resolve(precision: str, device_kind: str, cpuinfo: str = "/proc/cpuinfo") -> str:
    """'float32', 'bfloat16' or 'float16' for runtime.precision on a 'tpu', 'gpu' or 'cpu'."""
    if precision not in CHOICES:
        raise ValueError(f"runtime.precision={precision!r}; use {', '.join(CHOICES)}.")
    if precision != "auto":
        return precision
    if device_kind == "tpu":
        return "bfloat16"
    if device_kind == "gpu":
        return "float16"
    return "bfloat16" if cpu_has_native_bfloat16(cpuinfo) else "float32"
