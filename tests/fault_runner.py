"""Runs official/train.py in forked children that can be SIGKILLed at chosen points (used by
tests/test_fault_injection.py; not a test module).

The parent imports TensorFlow once and never runs an op, then forks one child per request, so a
restart costs a fork rather than a fresh interpreter and import; the children run the train step
eagerly (no tracing). Protocol, one JSON object per
line: the test writes {"argv": [...], "fault": "kind:n" or null, "log": path}; the runner
answers {"pid": child} at once and {"status": exit status, or -9 when killed} when it ends.

Fault kinds (the child kills itself with SIGKILL at the n-th occurrence):
  before_merge   a checkpoint's tensors are written to <prefix>_temp/, its .index not yet
  after_merge    the checkpoint's files are final, TensorFlow's `checkpoint` state not updated
  mid_sweep      deleting an old checkpoint: its .index is gone, its .data not yet
  record_write   params.yaml written under its temporary name, not yet renamed
  weights_write  model.weights.h5 written under its temporary name, not yet renamed
"""

import json
import os
import runpy
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tensorflow as tf  # noqa: E402, F401
from tensorflow.python.checkpoint import checkpoint_management  # noqa: E402
from tensorflow.python.ops import gen_io_ops  # noqa: E402

from official.data import checks, samples  # noqa: E402, F401
from official.serving import image, keras_file  # noqa: E402, F401
from official.training import exporting, jobs, loop, run_dir  # noqa: E402, F401

TRAIN = os.path.join(ROOT, "official", "train.py")


def _kill():
    os.kill(os.getpid(), signal.SIGKILL)


def install(fault: str) -> None:
    kind, n = fault.split(":")
    n, count = int(n), [0]

    def due() -> bool:
        count[0] += 1
        return count[0] == n

    if kind in ("before_merge", "after_merge"):
        merge = gen_io_ops.merge_v2_checkpoints

        def merge_then_maybe_die(*args, **kwargs):
            now = due()
            if now and kind == "before_merge":
                _kill()
            out = merge(*args, **kwargs)
            if now and kind == "after_merge":
                _kill()
            return out

        gen_io_ops.merge_v2_checkpoints = merge_then_maybe_die
    elif kind == "mid_sweep":
        delete = checkpoint_management._delete_file_if_exists

        def delete_then_maybe_die(filespec):
            delete(filespec)
            if filespec.endswith(".index") and due():
                _kill()

        checkpoint_management._delete_file_if_exists = delete_then_maybe_die
    elif kind in ("record_write", "weights_write"):
        target = run_dir.RECORD_FILE if kind == "record_write" else "model.weights.h5"
        write = run_dir.write_atomically

        def write_then_maybe_die(path, writer):
            if path.endswith(target) and due():
                return write(path, lambda tmp: (writer(tmp), _kill()))
            return write(path, writer)

        run_dir.write_atomically = write_then_maybe_die
    else:
        raise ValueError(f"unknown fault {fault!r}")


def child(request: dict) -> None:
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1)
    os.dup2(log, 2)
    if request.get("fault"):
        install(request["fault"])
    # The train step runs eagerly: tracing it would cost more than everything else a restart
    # does, and what is under test is the run directory (the traced step: test_loop.py).
    tf.config.run_functions_eagerly(True)
    sys.argv = [TRAIN, *request["argv"]]
    code = 0
    try:
        runpy.run_path(TRAIN, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - the log shows it; the test sees the status
        import traceback

        traceback.print_exc()
        code = 3
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"status": code}), flush=True)


if __name__ == "__main__":
    main()
