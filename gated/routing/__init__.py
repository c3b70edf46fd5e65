"""Choosing a deployment of a model group, retrying on another, cooling failing ones down."""
