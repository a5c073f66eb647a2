"""Every command in tpu/README.md's code blocks uses flags (and script variables) that exist.

This project's programs are checked: official/train.py by parsing the command with its own absl
flags in-process (values included), `python -m official.X` against the flags module X defines,
tpu/install.py against its argparse options, tpu/*.sh against the variables each script reads
(and train.sh's extra arguments as train.py flags). gcloud, tensorboard and shell built-ins are
other projects' tools and are not checked.
"""

import os
import re
import shlex

import pytest

from official import train
from official.configs import recipes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNBOOK = os.path.join(ROOT, "tpu", "README.md")
# Values for the runbook's shell variables, so that commands parse as they would on the VM.
SHELL = {"PROJECT": "p", "BUCKET": "b", "TPU_NAME": "t", "ZONE": "z", "BEST_CHECKPOINT": "c"}
ABSL = {"help", "helpfull", "helpshort", "flagfile", "logtostderr", "alsologtostderr", "v"}


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def commands(block: str) -> list[list[str]]:
    """Each simple command of a block as words: continuations joined, comments dropped, split
    at `&&` and `;`."""
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current = []
        for word in [*words, "&&"]:
            if word in ("&&", ";"):
                if current:
                    found.append(current)
                current = []
            else:
                current.append(word)
    return found


def expand(word: str) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: SHELL.get(m.group(1), m.group(0)), word)


def flag_names(args: list[str]) -> list[str]:
    return [re.match(r"--(?:no)?([\w]+)", a).group(1) for a in args if a.startswith("--")]


def defined_flags(path: str) -> set[str]:
    """The absl flags (DEFINE_*("name", ...)) or argparse options a program's source defines."""
    source = open(os.path.join(ROOT, path)).read()
    names = set(re.findall(r'DEFINE_\w+\(\s*"(\w+)"', source))
    return names | set(re.findall(r'add_argument\(\s*"--(\w+)"', source))


def script_variables(path: str) -> set[str]:
    return set(re.findall(r"\$\{?(\w+)", open(os.path.join(ROOT, path)).read()))


def check_train_flags(args: list[str]) -> None:
    args = [expand(a) for a in args]
    train.FLAGS.unparse_flags()
    try:
        train.FLAGS(["train.py", *args])  # unknown flags and bad values raise here
        if train.FLAGS.config:
            recipes.get(train.FLAGS.config)
        assert train.FLAGS.mode in train.MODES, train.FLAGS.mode
    finally:
        train.FLAGS.unparse_flags()


def check(words: list[str], checked: list[str]) -> None:
    assignments = {}
    while words and re.fullmatch(r"\w+=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        assignments[name] = value
    if not words:
        return
    program, args = words[0], words[1:]
    if program == "gcloud" and any(a.startswith("--command=") for a in args):
        inner = next(a for a in args if a.startswith("--command="))[len("--command=") :]
        for command in commands(inner):
            check(command, checked)
    if program in ("python", "python3") and args[:1] == ["official/train.py"]:
        check_train_flags(args[1:])
        checked.append("official/train.py")
    elif program in ("python", "python3") and args[:1] == ["-m"]:
        module, rest = args[1], args[2:]
        known = defined_flags(module.replace(".", "/") + ".py") | ABSL
        unknown = set(flag_names(rest)) - known
        assert not unknown, f"python -m {module}: no flag {sorted(unknown)}"
        checked.append(module)
    elif program in ("python", "python3") and args[:1] == ["tpu/install.py"]:
        unknown = set(flag_names(args[1:])) - defined_flags("tpu/install.py") - {"help"}
        assert not unknown, f"tpu/install.py: no option {sorted(unknown)}"
        checked.append("tpu/install.py")
    elif program == "bash" and args[:1] and args[0].startswith("tpu/"):
        script = args[0]
        unread = set(assignments) - script_variables(script)
        assert not unread, f"{script} does not read {sorted(unread)}"
        if script == "tpu/train.sh":
            recipes.get(args[1])  # the recipe argument
            check_train_flags(args[2:])
        checked.append(script)
    elif program in ("python", "python3", "bash"):
        pytest.fail(f"the runbook runs {' '.join(words)!r}, which this test does not check")


def test_every_runbook_command_uses_existing_flags():
    text = open(RUNBOOK).read()
    checked = []
    for block in code_blocks(text):
        for words in commands(block):
            check(words, checked)
    # The runbook's steps: create + install, data, train (3 ways), eval, export.
    for program in (
        "tpu/create_tpu_vm.sh",
        "tpu/install.py",
        "official.data.build_tfrecords",
        "tpu/train.sh",
        "official/train.py",
        "official.export",
    ):
        assert program in checked, program
    assert checked.count("official/train.py") >= 3


def test_the_checker_rejects_a_wrong_flag():
    with pytest.raises(Exception, match="Unknown command line flag 'train_step'"):
        check(["python3", "official/train.py", "--train_step=10"], [])
    with pytest.raises(AssertionError, match="no flag"):
        check(["python", "-m", "official.export", "--model=x"], [])
    with pytest.raises(AssertionError, match="does not read"):
        check(["ACCELLERATOR=v4-8", "bash", "tpu/create_tpu_vm.sh"], [])
