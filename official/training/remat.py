"""Gradient checkpointing (rematerialisation) per stage: train.remat='stages'.

Why stages run as sub-models: `keras.RematScope` / `keras.remat` wrap single layers, and every
layer's output is still kept for the backward pass, so a functional network saves little. Here
the network is cut at its stage boundaries (official/models/stages.py) into a chain of
sub-models built from its own tensors, `keras.Model(stage_input, stage_output)`: they share the
network's layers, so variables, names, checkpoints and weight files are unchanged. Each stage
runs under a custom gradient that keeps only the stage's input; the backward pass runs the stage
again to get the activations it needs (one extra forward pass per step). The peak then holds the
stage boundaries plus one stage's activations instead of every activation of the network.

Two things differ from `tf.recompute_grad`, which would run the stage a second time as if it were
a new step: the second run restores the random generators' states first (the same dropout and
stochastic-depth masks, so the gradients are those of the forward pass), and its BatchNorm
layers do not update their moving statistics again (momentum 1 for that run: the update
rewrites the value it read).
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf
from tensorflow.python.eager import record  # tf.recompute_grad's own stop_recording

from official.models import stages
from official.training import randomness

MODES = ("none", "stages")


def _node(layer):
    if len(layer._inbound_nodes) != 1:
        raise ValueError(
            f"train.remat: layer {layer.name!r} is called {len(layer._inbound_nodes)} times; "
            "stages can be cut only where every layer runs once."
        )
    return layer._inbound_nodes[0]


def stage_boundaries(model: keras.Model) -> list[tuple[int, object, object]]:
    """[(stage, input tensor, output tensor)] of the functional `model`, in running order; a
    one-line ValueError naming the stage whose layers do not take one tensor in and give one out
    (where the network cannot be cut there)."""
    produced_by, consumers = {}, {}
    for layer in model.layers:
        node = _node(layer)
        for tensor in node.output_tensors:
            produced_by[id(tensor)] = layer.name
        for tensor in node.input_tensors:
            consumers.setdefault(id(tensor), []).append(layer.name)
    outputs = {id(t) for t in model.outputs}
    boundaries = []
    for number in stages.stage_numbers(model):
        members = [
            x
            for x in model.layers
            if stages.part_of(x).kind == stages.STAGE and stages.part_of(x).stage == number
        ]
        names = {x.name for x in members}
        inputs, results = {}, {}
        for layer in members:
            node = _node(layer)
            for tensor in node.input_tensors:
                if produced_by.get(id(tensor)) not in names:
                    inputs[id(tensor)] = tensor
            for tensor in node.output_tensors:
                if id(tensor) in outputs or any(
                    c not in names for c in consumers.get(id(tensor), [])
                ):
                    results[id(tensor)] = tensor
        if len(inputs) != 1 or len(results) != 1:
            raise ValueError(
                f"train.remat='stages': stage {number} of {model.name} takes {len(inputs)} "
                f"tensors in and gives {len(results)} out; it needs one of each to be cut."
            )
        boundaries.append((number, *inputs.values(), *results.values()))
    return boundaries


@contextlib.contextmanager
def _statistics_unchanged(layers):
    """BatchNorm layers update with momentum 1 inside: moving = moving * 1 + batch * 0."""
    norms = [x for x in layers if isinstance(x, keras.layers.BatchNormalization)]
    momenta = [x.momentum for x in norms]
    for layer in norms:
        layer.momentum = 1.0
    try:
        yield
    finally:
        for layer, momentum in zip(norms, momenta, strict=True):
            layer.momentum = momentum


def checkpointed(segment: keras.Model):
    """segment(x, training=True) under a custom gradient that keeps only x and runs the segment
    again in the backward pass (same random draws, BN statistics updated once)."""
    layers = segment._flatten_layers(include_self=False)
    seeds = randomness.seed_states(segment)

    @tf.custom_gradient
    def run(x):
        states = [tf.identity(s.value) for s in seeds]
        with record.stop_recording():
            y = segment(x, training=True)

        def gradient(dy, variables=None):
            for seed, state in zip(seeds, states, strict=True):
                seed.assign(state)
            # The second run starts from x only once dy exists: without that edge, graph
            # optimization finds it identical to the forward run and merges the two, which keeps
            # every activation again.
            with tf.control_dependencies([dy]):
                x_again = tf.identity(x)
            with tf.GradientTape() as tape:
                tape.watch(x_again)
                with _statistics_unchanged(layers):
                    again = segment(x_again, training=True)
            grads = tape.gradient(again, [x_again, *(variables or [])], output_gradients=dy)
            return grads[0], grads[1:]

        return y, gradient

    return run


class StageCheckpointing:
    """Runs a functional `model` as [glue, stage, glue, stage, ..., head] sub-models of its own
    layers, each stage checkpointed; call it as `model(images, training=True)` in a train step."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.pieces = []  # (sub-model, checkpointed or not)
        current = model.inputs[0]
        for number, first, last in stage_boundaries(model):
            if first is not current:
                self.pieces.append((keras.Model(current, first, name=f"before_stage{number}"), 0))
            stage = keras.Model(first, last, name=f"remat_stage{number}")
            self.pieces.append((stage, checkpointed(stage)))
            current = last
        self.pieces.append((keras.Model(current, model.outputs[0], name="after_stages"), 0))

    def __call__(self, images, training: bool = True):
        if not training:
            return self.model(images, training=False)
        x = images
        for piece, run in self.pieces:
            x = run(x) if run else piece(x, training=True)
        return x


def forward(model: keras.Model, mode: str):
    """What the train step calls for the logits: the model itself, or its stage-checkpointed
    twin; a one-line ValueError for a mode not in MODES or a network that cannot be cut."""
    if mode == "none":
        return model
    if mode == "stages":
        return StageCheckpointing(model)
    raise ValueError(f"train.remat={mode!r} is not known; use one of {', '.join(MODES)}.")
