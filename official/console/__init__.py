"""What a person at a terminal sees: TensorFlow's start-up noise filtered, errors in one line.
Imports nothing else from this library, so every program and converter worker can use it."""
