"""Strawberry types, inputs, the role directive and the Schema with its extensions."""
