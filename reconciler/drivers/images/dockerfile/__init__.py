"""Dockerfile builds: a pure parser and instruction model (parser, substitute, ignore,
stages), the builder that turns them into layers in the image store (builder, steps,
context, layers, cache), and `StepRunner`, the protocol through which a RUN step is
executed: the native driver implements it with runc, so this package knows no driver."""
