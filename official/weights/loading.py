"""`weights=`: from a source to a built and filled model (docs/weights.md).

`prepare` reads what kind of source `weights` is and which builder conventions its tensors need,
and returns how to fill a model built with them (strictly: official/weights/strict.py). This
package never builds a model: `official.models.get(name, weights=...)` calls `prepare`, builds
with the conventions and calls `fill` (official/models/pretrained.py), so imports run one way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

from official.weights import (
    conventions,
    converted,
    hub,
    keras_apps,
    keras_hub,
    stem_channels,
    storage,
    strict,
    tf_checkpoint,
    timm,
    timm_names,
)

KINDS = (
    "a timm state dict (.safetensors, or .pth/.bin/.pt with torch installed; a hub snapshot "
    "folder or hf://<owner>/<name>), a keras-hub preset folder, a "
    "keras.applications model or its .h5 file, a TF checkpoint prefix (the path before "
    ".index), a .weights.h5 or .keras file of this library, or 'imagenet' (keras.applications)"
)


@dataclasses.dataclass
class Prepared:
    """A source ready to fill a model: the conventions to build it with, and how to fill it."""

    kind: str
    conventions: dict
    description: str
    fill: Callable[[keras.Model], dict]  # returns metadata about the source (e.g. input mean)
    read: dict = dataclasses.field(default_factory=dict)  # what fill read, for the CLI's --check
    # builder arguments the source fixes, for the convert CLI (a keras-hub head's class count)
    arguments: dict = dataclasses.field(default_factory=dict)


def kind_of(weights) -> str:
    """'timm', 'keras_hub', 'keras', 'keras_model', 'tf', 'weights_h5' or 'keras_file'; a clear
    error for anything else."""
    if isinstance(weights, keras.Model):
        return "keras_model"
    if weights == "imagenet":
        return "keras"
    if not isinstance(weights, str) or not weights:
        raise ValueError(f"weights={weights!r} is not a path; use None or {KINDS}.")
    suffixes = {".safetensors": "timm", ".weights.h5": "weights_h5", ".keras": "keras_file"}
    suffixes.update({s: "timm" for s in timm.TORCH_SUFFIXES})
    suffixes[".h5"] = "keras"
    for suffix, kind in suffixes.items():
        if weights.endswith(suffix):
            if not storage.exists(weights):
                raise FileNotFoundError(f"weights={weights!r}: no such file.")
            return kind
    if tf_checkpoint.is_checkpoint(weights):
        return "tf"
    if keras_hub.registered_name(weights):
        return "keras_hub"
    if hub.is_hub_source(weights):
        return "timm"
    raise ValueError(f"weights={weights!r} is none of the kinds this library reads: {KINDS}.")


def _timm_conventions(
    weights: str, family: str, name, explicit: dict, family_of, timm_name=None, architecture=None
):
    """(timm name or None, conventions) for a timm file; errors when the file is ambiguous.
    family_of: registered model name -> family, for models built outside the registry;
    architecture: the timm model the file's config.json names (official/weights/hub.py)."""
    if family not in timm_names.TIMM_MAPPING or name in timm_names.NOT_CONVERTIBLE:
        why = timm_names.NOT_CONVERTIBLE.get(name, "no timm model has this network's layout")
        raise ValueError(f"weights={weights!r}: {name or family} has no timm conversion: {why}.")
    pairs = timm_names.candidates(name, family, family_of)
    if timm_name is not None:
        pairs = [p for p in pairs if p[0] == timm_name]
        if not pairs:
            known = ", ".join(t for t, _ in timm_names.candidates(name, family, family_of))
            raise ValueError(
                f"--timm_name={timm_name!r} does not convert into {name}; use {known}."
            )
    guess = architecture or timm.guess_timm_name(weights, [t for t, _ in pairs])
    if guess:
        pairs = [p for p in pairs if p[0] == guess]
    needed = [{k: v for k, v in c.items() if k not in explicit} for _, c in pairs]
    if any(n != needed[0] for n in needed):
        names = ", ".join(t for t, _ in pairs)
        keys = sorted({k for n in needed for k in n})
        raise ValueError(
            f"weights={weights!r}: which timm model is it? {names} need different conventions "
            f"and no config.json beside it names one; put the hub's config.json beside it, pass "
            f"--timm_name (convert), name the file after it (e.g. {pairs[0][0]}.safetensors) or "
            f"pass {', '.join(keys)} explicitly (docs/weights.md)."
        )
    return (pairs[0][0] if len(pairs) == 1 else None), pairs[0][1]


def _architecture(architecture, weights, timm_name, family, name, family_of) -> str | None:
    """The timm model a config.json names (a hub snapshot's, or the network of a keras-hub
    preset), checked against --timm_name and against the timm models that convert into `name`."""
    if architecture is None:
        return None
    if timm_name is not None and timm_name != architecture:
        raise ValueError(
            f"--timm_name={timm_name!r} but {weights}'s config.json names {architecture!r}; "
            "drop --timm_name (config.json is the file's own record)."
        )
    known = [t for t, _ in timm_names.candidates(name, family, family_of)]
    if architecture not in known:
        raise ValueError(
            f"weights={weights!r}: its config.json names timm's {architecture!r}, which does not "
            f"convert into {name or family} (that takes {', '.join(known) or 'no timm model'})."
        )
    return architecture


def _timm_filler(tensors: Callable, family: str, source: str, include_top: bool, found):
    """(fill, read) for a timm state dict that `tensors()` returns with metadata about it."""
    read = {}

    def fill(model):
        state, metadata = tensors()
        read["tensors"] = state
        plan = timm.plan(model, timm_names.TIMM_MAPPING[family])
        strict.fill(model, state, plan, source=source, ignored=timm.ignored(state, include_top))
        return {"timm_name": found, **metadata}

    return fill, read


def prepare(
    weights,
    family: str,
    arguments: dict,
    explicit: dict,
    family_of: dict[str, str] | None = None,
    timm_name: str | None = None,
) -> Prepared:
    """Reads the kind of `weights` and the conventions it needs for a `family` builder called with
    `arguments` (defaults applied; `explicit`: the ones the caller passed; family_of: registered
    name -> family, which timm names a model built under another name may come from)."""
    kind = kind_of(weights)
    name = arguments.get("name")
    include_top = arguments.get("include_top", True)
    source = f"weights={weights!r}" if isinstance(weights, str) else f"weights={weights.name}"
    if kind == "timm":
        files = hub.locate(weights)
        architecture = _architecture(
            files.architecture, weights, timm_name, family, name, family_of or {}
        )
        found, needed = _timm_conventions(
            files.weights, family, name, explicit, family_of or {}, timm_name, architecture
        )
        # the source's preprocessing (a hub config.json's pretrained_cfg), for the converter
        cfg = {"pretrained_cfg": files.pretrained_cfg} if files.pretrained_cfg else {}

        def tensors():
            return timm.read_state_dict(files.weights), cfg

        fill, read = _timm_filler(tensors, family, source, include_top, found)
        return Prepared(kind, needed, f"timm {found or 'weights'}", fill, read)
    if kind == "keras_hub":  # timm's network under keras-hub's layer names
        architecture = _architecture(
            keras_hub.timm_name(weights), weights, timm_name, family, name, family_of or {}
        )
        found, needed = _timm_conventions(
            weights, family, name, explicit, family_of or {}, None, architecture
        )

        def tensors():
            preset = keras_hub.read(weights)
            if include_top and "fc.weight" not in preset.tensors:
                raise strict.ConversionError(
                    f"{source} is a keras-hub backbone preset (no task.json, no head): build "
                    "with include_top=False or features_only=True."
                )
            cfg = preset.pretrained_cfg
            return preset.tensors, {"pretrained_cfg": cfg} if cfg else {}

        fill, read = _timm_filler(tensors, family, source, include_top, found)
        classes = keras_hub.num_classes(weights)
        arguments = {"num_classes": classes} if classes else {}
        description = f"a keras-hub preset of timm's {found}"
        return Prepared(kind, needed, description, fill, read, arguments)
    if kind == "keras":
        arch = keras_apps.architecture(family, arguments)
        path = keras_apps.imagenet_file(arch, include_top) if weights == "imagenet" else weights
        read = {}

        def fill(model):
            keras_model, corrected = keras_apps.source_model(arch, path)
            read.update(model=keras_model, corrected=corrected)
            tensors, plan, ignored, mean = keras_apps.plan(model, keras_model, arch, corrected)
            strict.fill(model, tensors, plan, source=source, ignored=ignored)
            return {"keras_application": arch, "input_mean": mean}

        description = f"keras.applications.{arch}"
        return Prepared(kind, keras_apps.conventions(arch), description, fill, read)
    if kind == "keras_model":  # a keras.applications model object, as it computes
        arch = keras_apps.architecture(family, arguments)

        def fill(model):
            tensors, plan, ignored, mean = keras_apps.plan(model, weights, arch)
            strict.fill(model, tensors, plan, source=source, ignored=ignored)
            return {"keras_application": arch, "input_mean": mean}

        return Prepared(kind, keras_apps.conventions(arch), f"keras.applications.{arch}", fill)
    if kind == "tf":
        if family != "resnet":
            raise ValueError(f"{source}: TF checkpoints convert into ResNet / ResNet-RS only.")

        def fill(model):
            tensors, _ = tf_checkpoint.read(weights)
            plan = tf_checkpoint.plan(model)
            ignored = tf_checkpoint.ignored(tensors, include_top)
            strict.fill(model, tensors, plan, source=source, ignored=ignored)
            return {}

        return Prepared(kind, {}, "the official TF checkpoint", fill)
    if kind == "weights_h5":
        metadata = converted.read_metadata(weights) or {}

        def fill(model):
            try:
                stem_channels.load_weights(model, weights)  # model.load_weights, C != 3 too
            except ValueError as error:
                first = str(error).strip().splitlines()[0]
                raise strict.ConversionError(
                    f"{source} does not fit {model.name}: {first}"
                ) from None
            return {}

        needed = metadata.get("conventions", {})
        return Prepared(kind, needed, f"converted {metadata.get('source', 'weights')}", fill)

    def fill(model):  # a .keras file of this library: same-named layers, same conventions
        other = storage.load_keras_file(weights, "weights", compile=False)
        difference = conventions.first_difference(other, model)
        if difference:
            raise strict.ConversionError(f"{source}: {difference}; build with its conventions.")
        plan = {p: strict.Entry((p,), lambda x: x) for p in keras_apps.tensors_of(model)}
        tensors = keras_apps.tensors_of(other)
        # A model built without its top leaves the source's classifier unused, and only that.
        ignored = () if include_top else strict.head_tensors(tensors, conventions.HEAD)
        strict.fill(model, tensors, plan, source=source, ignored=ignored)
        return {}

    return Prepared(kind, {}, "a .keras file", fill)
